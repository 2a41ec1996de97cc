"""Sign-in, sign-out, the signed-in identity on every request, and CSRF protection of every POST."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from app.errors import AppError, NotFound
from app.services.admin import auth
from app.web.context import services

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "pages.health", "static"}


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def before_request() -> Response | None:
    g.identity = None
    username = session.get("user")
    if username:
        try:
            g.identity = auth.load_identity(services(), username)
        except NotFound:
            session.clear()
    if request.method == "POST":
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        if not hmac.compare_digest(sent, session.get("csrf", "")) or not sent:
            abort(400, description="The form had expired or did not come from this site (missing CSRF token). "
                                   "Reload the page and try again.")
    if g.identity is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.path.startswith("/api/"):
            abort(401, description="sign in first")
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


def _safe_next(target: str | None) -> str:
    if target and not urlparse(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.inbox")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            identity = auth.authenticate(services(), username, request.form.get("password", ""),
                                         request.remote_addr or "")
        except AppError as err:
            error = str(err)
        else:
            session.clear()
            session["user"] = identity.username
            csrf_token()
            flash(f"Signed in as {identity.full_name}.", "ok")
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("login.html", error=error, username=request.form.get("username", "")), status


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    flash("Signed out.", "ok")
    return redirect(url_for("auth.login"))
