"""Sign-in, sign-out, the signed-in identity on every request, and CSRF protection of every POST."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from app.errors import AppError
from app.services.admin import api_tokens, auth
from app.services.admin.sign_in_throttle import SignInThrottled
from app.services.admin.web_sessions import SessionEnded
from app.web.context import home_url, services

bp = Blueprint("auth", __name__)


def api_public_endpoints() -> set[str]:
    from app.web.api import PUBLIC_ENDPOINTS as api_public

    return set(api_public)


def _csrf_exempt() -> set[str]:
    from app.web.api import CSRF_EXEMPT as exempt

    return set(exempt)


CSRF_EXEMPT = _csrf_exempt()  # endpoints authenticated by their own signature (the CRM case feed)
PUBLIC_ENDPOINTS = {"auth.login", "pages.health", "ops.ready", "ops.metrics", "static", *api_public_endpoints()}


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _bearer() -> Response | None:
    """An API call with `Authorization: Bearer <token>`: the token's user, no cookie session and so no CSRF token
    (a browser never adds this header by itself). Every audit event the call writes names the token."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, description="send Authorization: Bearer <API token>")
    try:
        bearer = api_tokens.authenticate(services(), secret.strip())
    except AppError as err:
        abort(401, description=str(err))
    g.identity, g.bearer = bearer.identity, bearer
    g.acting = api_tokens.acting_through(bearer)
    return None


def teardown_request(_: BaseException | None = None) -> None:
    auth.request_ended()
    acting = g.pop("acting", None)
    if acting is not None:
        api_tokens.done_acting(acting)


def before_request() -> Response | None:
    auth.request_started()
    g.identity = None
    g.bearer = None
    if request.path.startswith("/api/") and "Authorization" in request.headers \
            and request.endpoint not in PUBLIC_ENDPOINTS:
        return _bearer()
    token = session.get("sid")
    if token:
        try:
            g.identity = auth.resume(services(), str(token))
        except SessionEnded as ended:
            session.clear()
            if request.method == "GET" and not request.path.startswith("/api/"):
                flash(str(ended), "error")
    if g.identity is None and request.path.startswith("/api/") and request.endpoint not in PUBLIC_ENDPOINTS:
        # before the CSRF check: an API client with no credentials is told to authenticate, not about a form
        abort(401, description="sign in first, or send Authorization: Bearer <API token>")
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.endpoint not in CSRF_EXEMPT:
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        if not hmac.compare_digest(sent, session.get("csrf", "")) or not sent:
            abort(400, description="The form had expired or did not come from this site (missing CSRF token). "
                                   "Reload the page and try again.")
    if g.identity is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def require_role(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Page guard; the services check permissions again for every action."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not any(g.identity.has_role(role) for role in roles):
                abort(403, description=f"This page is for: {', '.join(roles)}.")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only. Anything a browser could read as another host
    (`//host`, `/\\host`, `https:`, a tab or newline that browsers drop from `/<TAB>/host`...) goes to the inbox."""
    inbox = url_for("inbox.inbox")
    if not target or not (target.isascii() and target.isprintable()) or " " in target or "\\" in target:
        return inbox  # isprintable: no control characters (tab, CR, LF, NUL, DEL...)
    if not target.startswith("/") or target.startswith("//"):
        return inbox
    parts = urlsplit(target)
    return inbox if parts.scheme or parts.netloc else target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status, retry_after = None, 200, None
    if request.method == "POST":
        try:
            signed_in = auth.sign_in(services(), request.form.get("username", ""), request.form.get("password", ""),
                                     request.remote_addr or "")
        except SignInThrottled as err:
            error, status, retry_after = str(err), err.status, err.retry_after
        except AppError as err:
            error, status = str(err), 401
        else:
            session.clear()  # a new session (and CSRF token) at every sign-in: no fixation
            session["sid"] = signed_in.token
            csrf_token()
            flash(f"Signed in as {signed_in.identity.full_name}.", "ok")
            target = request.args.get("next")
            return redirect(safe_next(target) if target else home_url(signed_in.identity))
    page = render_template("login.html", error=error, username=request.form.get("username", ""),
                           demo=auth.is_demo(services()))
    response = make_response(page, status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.post("/logout")
def logout() -> Response:
    token = session.get("sid")
    if token:
        auth.sign_out(services(), str(token), request.remote_addr or "")
    session.clear()
    flash("Signed out.", "ok")
    return redirect(url_for("auth.login"))
