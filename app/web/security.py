"""What every response carries for the browser's protection, and how the session cookie is set.

A small `after_request` hook rather than Flask-Talisman: the policy is one readable constant, nothing redirects
behind the operator's back (TLS ends at their proxy), and a test reads exactly what is sent.

The Content-Security-Policy allows scripts from this site only (no inline script, no eval: bpmn-js's production
bundles need neither) and `data:` images and fonts (bpmn-js's logo and icon font). Styles allow `'unsafe-inline'`:
bpmn-js and diagram-js set style attributes on the elements they draw, and a few pages draw bars with a style
attribute; no script can run through a style.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, abort, g, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from app.config import Settings

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"  # one year; sent only when RF_HTTPS says the site is served over HTTPS


def install(app: Flask, settings: Settings) -> None:
    """Cookie flags, the client address behind trusted proxies, and the headers of every response."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        # Over HTTPS the cookie is a __Host- cookie: sent only over HTTPS, to this host, for every path.
        SESSION_COOKIE_NAME="__Host-rf_session" if settings.https else "rf_session",
        # The signed cookie is not accepted after the longest session anyway (the server ends sessions earlier).
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    app.before_request(refuse_nul_characters)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if settings.https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if g.get("identity") is not None and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"  # no signed-in page from the cache after signing out
        return response


NUL_MESSAGE = ("The address or the form contained a NUL character (\\0), which no field accepts. Remove it and try "
               "again.")


def refuse_nul_characters() -> None:
    """A NUL character in a page's address, query or form text is refused with a 400 before any view reads it (no
    identifier, search word or text has one, and PostgreSQL refuses it in a query or a text column: a 500). `/api/v1`
    refuses it itself, as a problem naming the parameter. Uploaded files are not form text and are not checked here."""
    if request.path.startswith("/api/v1/"):
        return
    texts = [request.path, *request.args.keys(), *(v for v in request.args.values())]
    if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        texts += [*request.form.keys(), *request.form.values()]
    if any("\x00" in text for text in texts):
        abort(400, description=NUL_MESSAGE)
