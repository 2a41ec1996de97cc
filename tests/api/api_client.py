"""A client of `/api/v1` acting as one demo user through a personal bearer token (created by the real service)."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.bootstrap import Services
from app.services.admin import api_tokens
from app.services.admin.auth import load_identity
from app.web import create_app
from tests.e2e.conftest import snapshot

PROBLEM = "application/problem+json"


class ApiUser:
    def __init__(self, services: Services, username: str | None) -> None:
        self.client: FlaskClient = create_app(services, {"SECRET_KEY": "x"}).test_client()
        self.secret = ""
        if username:
            self.secret, _ = api_tokens.create(services, load_identity(services, username), f"tests of {username}")

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return {**auth, **(extra or {})}

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> TestResponse:
        return self.client.post(path, json=json, headers=self.headers(headers))

    def upload(self, path: str, files: dict[str, bytes] | list[tuple[str, bytes]],
               headers: dict[str, str] | None = None) -> TestResponse:
        pairs = list(files.items()) if isinstance(files, dict) else files
        data = {"files": [(io.BytesIO(content), name) for name, content in pairs]}
        return self.client.post(path, data=data, content_type="multipart/form-data", headers=self.headers(headers))


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    assert response.mimetype == PROBLEM, response.mimetype
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def stored(services: Services) -> dict[str, list[str]]:
    """Every row of every table but the tokens' (a call notes when its token was last used)."""
    return {table: rows for table, rows in snapshot(services).items() if table != "api_token"}
