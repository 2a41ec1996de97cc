"""Flask application factory. Views are thin: parse, call one service, render."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, render_template, request, url_for
from flask_openapi3.models.info import Info
from flask_openapi3.openapi import OpenAPI
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.bootstrap import Services, bootstrap
from app.domain.permissions import abilities
from app.errors import AppError
from app.web import api, charts, local_time, observability, security
from app.web.api.common import SECURITY_SCHEMES, app_error, problem, validation_problem
from app.web.context import home_url
from app.web.converters import RecordNumberConverter


def _secret_key(configured: str | None, instance_dir: Path) -> str:
    """RF_SECRET_KEY, else a key generated once and kept in the instance folder's secret_key (sessions survive
    restarts)."""
    if configured:
        return configured
    if os.environ.get("RF_SECRET_KEY"):
        return os.environ["RF_SECRET_KEY"]
    path = instance_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(services: Services | None = None, config: dict[str, Any] | None = None) -> Flask:
    flask_app = OpenAPI(__name__.rsplit(".", 1)[0], template_folder="templates", static_folder="static",
                        info=Info(title="Request Fulfillment API", version="1",
                                  description="Requests, tasks, the CRM Pending Queue, process versions, incidents, "
                                              "audit and reports of Request Fulfillment."),
                        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
                        doc_ui=False, validation_error_callback=validation_problem,
                        validate_response=bool((config or {}).get("API_VALIDATE_RESPONSES", True)))
    flask_app.url_map.converters["int"] = RecordNumberConverter  # <int:id> beyond the database's range: a 404
    flask_app.config.update(MAX_CONTENT_LENGTH=25 * 1024 * 1024)
    flask_app.config.update(config or {})
    flask_app.extensions["rf_services"] = services or bootstrap()
    if "MAX_CONTENT_LENGTH" not in (config or {}):  # room for the largest attachment and its form
        limit = flask_app.extensions["rf_services"].settings.attachment_max_bytes + 1024 * 1024
        flask_app.config["MAX_CONTENT_LENGTH"] = max(flask_app.config["MAX_CONTENT_LENGTH"], limit)

    flask_app.secret_key = _secret_key(flask_app.config.get("SECRET_KEY"),
                                       flask_app.extensions["rf_services"].settings.instance_dir)
    security.install(flask_app, flask_app.extensions["rf_services"].settings)
    local_time.install(flask_app)  # the when / moment / day filters: times in the reader's zone
    observability.install(flask_app, flask_app.extensions["rf_services"])  # first of the before_request hooks

    from app.web import (
        admin,
        api_tokens,
        auth,
        calendar_admin,
        conversation,
        diagram,
        email_templates_admin,
        history,
        inbound_mail,
        inbox,
        incidents,
        intake,
        modeler_panel,
        notifications,
        outbox_admin,
        preferences,
        request_list,
        team,
        webhooks_admin,
    )
    from app.web import audit as audit_web
    from app.web import instance_moves as migration_web
    from app.web import processes as processes_web
    from app.web import reports as reports_web
    from app.web.pages import pages

    for blueprint in (pages, auth.bp, inbox.bp, intake.bp, admin.bp, diagram.bp, calendar_admin.bp,
                      audit_web.bp, history.bp, migration_web.bp, processes_web.bp, reports_web.bp, incidents.bp,
                      outbox_admin.bp, api_tokens.bp, preferences.bp, webhooks_admin.bp, team.bp, request_list.bp,
                      conversation.bp, inbound_mail.bp, email_templates_admin.bp, notifications.bp,
                      modeler_panel.bp):
        flask_app.register_blueprint(blueprint)
    flask_app.before_request(auth.before_request)
    flask_app.teardown_request(auth.teardown_request)
    api.install(flask_app)  # after the sign-in check: a caller is known before their body is read

    @flask_app.context_processor
    def _template_helpers() -> dict[str, Any]:
        def page_url(page: int) -> str:
            args: dict[str, Any] = request.args.to_dict()  # url_for's **values: Any
            args["page"] = str(page)
            return url_for(request.endpoint or "inbox.inbox", **(request.view_args or {}), **args)

        who = g.get("identity")  # what the navigation offers: the same rules the services enforce
        return {"csrf_token": auth.csrf_token, "page_url": page_url, "can": abilities(who) if who else None,
                "chart_svg": charts.svg, "home_url": home_url(who) if who else url_for("auth.login")}

    @flask_app.errorhandler(AppError)
    def _app_error(err: AppError) -> Any:
        if request.path.startswith("/api/"):
            return app_error(err)
        return render_template("error.html", status=err.status, message=str(err)), err.status

    @flask_app.errorhandler(OperationalError)
    def _database_unavailable(err: OperationalError) -> Any:
        """The database went away (restarting, unreachable, the connection cut): a passing trouble, so 503 with
        Retry-After rather than a 500. The pool tests a connection idle for a while before use (RF_DB_POOL_PRE_PING,
        RF_DB_POOL_PING_AFTER), so this is the request that was running when it happened, one that found a
        connection broken within a second of its last use, or one while the database is still down."""
        flask_app.logger.warning("database unavailable: %s", str(err.orig or err).splitlines()[0])
        detail = "the database is unavailable for a moment (restarting or unreachable); retry shortly"
        if request.path.startswith("/api/"):
            return problem(503, detail, headers={"Retry-After": "2"})
        return render_template("error.html", status=503, message=detail), 503, {"Retry-After": "2"}

    @flask_app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Any:
        status = err.code or 500
        if request.path.startswith("/api/"):
            if isinstance(err.response, Response):  # a pydantic validation problem already made by the API
                return err.response
            headers = {"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else None
            return problem(status, str(err.description), headers=headers)
        return render_template("error.html", status=status, message=err.description), status

    from app.cli import cli as rf_cli

    for name, command in rf_cli.commands.items():
        flask_app.cli.add_command(command, name)
    return flask_app
