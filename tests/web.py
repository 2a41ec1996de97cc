"""A signed-in Flask test client: logs in through the real login form and posts with the session's CSRF token."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from app.bootstrap import Services
from app.web import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebUser:
    def __init__(self, services: Services, username: str | None, password: str = "demo") -> None:
        self.client: FlaskClient = create_app(services, {"SECRET_KEY": "test-secret"}).test_client()
        self.token = ""
        if username:
            page = self.client.post("/login", data={"username": username, "password": password,
                                                    "csrf_token": self._token("/login")})
            assert page.status_code == 302, f"login as {username} failed"
            self.token = self._token("/login")

    def _token(self, path: str) -> str:
        found = CSRF.search(self.client.get(path).get_data(as_text=True))
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True) -> Any:
        payload = dict(data or {})
        if csrf:
            payload["csrf_token"] = self.token
        return self.client.post(path, data=payload)
