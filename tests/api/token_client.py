"""An API caller for the tests: a Flask test client that sends a demo user's own bearer token with every call."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from app.bootstrap import Services
from app.services.admin import api_tokens, auth
from app.store.models import AuditEvent
from app.web import create_app


class ApiUser:
    def __init__(self, services: Services, username: str) -> None:
        identity = auth.load_identity(services, username)
        self.username = username
        self.secret, self.token = api_tokens.create(services, identity, f"{username}'s script")
        self.via = f"API token {self.token.name!r} (#{self.token.id})"
        self.client: FlaskClient = create_app(services, {"SECRET_KEY": "x"}).test_client()

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", **(extra or {})}

    def get(self, path: str, query: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(path, query_string=query, headers=self._headers(headers))

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, json=json, headers=self._headers(headers), **kwargs)

    def patch(self, path: str, json: Any = None) -> Any:
        return self.client.patch(path, json=json, headers=self._headers(None))

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self._headers(None))


def events(services: Services, event_type: str) -> list[AuditEvent]:
    """The audit events of a type, oldest first (detached: read their payloads after the session closed)."""
    with services.uow() as uow:
        found = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)
                                         .order_by(AuditEvent.seq)))
        uow.session.expunge_all()
        return found


def is_problem(response: Any, status: int) -> bool:
    body = response.get_json(silent=True) or {}
    return (response.status_code == status and response.mimetype == "application/problem+json"
            and body.get("status") == status)


def operations(services: Services, prefix: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The OpenAPI operations whose path starts with `prefix`, by (method, path)."""
    doc = create_app(services, {"SECRET_KEY": "x"}).test_client().get("/api/v1/openapi.json").get_json()
    return {(method, path): operation for path, item in doc["paths"].items() if path.startswith(prefix)
            for method, operation in item.items()}


def assert_documented(services: Services, prefix: str, expected: set[tuple[str, str]]) -> None:
    """Each operation under `prefix` has a summary, a description, a tag and problem responses."""
    found = operations(services, prefix)
    assert set(found) == expected, sorted(found)
    for key, operation in found.items():
        assert operation.get("summary") and operation.get("description") and operation.get("tags"), key
        assert {"401", "403", "404", "422"} <= set(operation["responses"]), key
