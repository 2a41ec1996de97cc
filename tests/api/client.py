"""A test client of `/api/v1` acting with a real bearer token (created through the token service)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from app.bootstrap import Services
from app.services.admin import api_tokens, auth
from app.web import create_app


class Api:
    def __init__(self, services: Services, username: str | None, name: str = "test script",
                 client: FlaskClient | None = None) -> None:
        self.client = client or create_app(services, {"SECRET_KEY": "test-secret"}).test_client()
        self.token = ""
        if username:
            self.token, self.view = api_tokens.create(services, auth.load_identity(services, username), name)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        found = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**found, **(extra or {})}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs)


def is_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status`; its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:2000])
    assert response.mimetype == "application/problem+json", response.mimetype
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"], body
    return body
