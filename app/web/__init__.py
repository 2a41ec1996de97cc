"""Flask application factory. Views are thin: parse, call one service, render."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from app.bootstrap import Services, bootstrap
from app.errors import AppError


def create_app(services: Services | None = None, config: dict[str, Any] | None = None) -> Flask:
    flask_app = Flask(__name__.rsplit(".", 1)[0], template_folder="templates", static_folder="static")
    flask_app.config.update(MAX_CONTENT_LENGTH=25 * 1024 * 1024)
    flask_app.config.update(config or {})
    flask_app.extensions["rf_services"] = services or bootstrap()

    from app.web.pages import pages

    flask_app.register_blueprint(pages)

    @flask_app.errorhandler(AppError)
    def _app_error(err: AppError) -> tuple[Any, int]:
        if request.path.startswith("/api/"):
            return {"error": str(err), "status": err.status}, err.status
        return render_template("error.html", status=err.status, message=str(err)), err.status

    @flask_app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[Any, int]:
        status = err.code or 500
        if request.path.startswith("/api/"):
            return {"error": err.description, "status": status}, status
        return render_template("error.html", status=status, message=err.description), status

    from app.cli import cli as rf_cli

    for name, command in rf_cli.commands.items():
        flask_app.cli.add_command(command, name)
    return flask_app
