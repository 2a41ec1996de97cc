"""What every endpoint of `/api/v1` shares: problem details (RFC 9457), the caller, security, and `Idempotency-Key`.

Errors are `application/problem+json`: `type`, `title`, `status`, `detail`, and for invalid input `errors`, a list of
`{field, message}` (the same field-level messages the forms show). A pydantic validation error of a body, query or
path parameter is turned into the same shape, so a client handles one kind of error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any

from flask import Response, g, request
from flask_openapi3.models.tag import Tag
from pydantic import BaseModel, Field, ValidationError

from app.domain.permissions import Identity
from app.errors import AppError, InvalidData
from app.services.admin import idempotency
from app.web.context import services

PROBLEM_TYPE = "application/problem+json"
SECURITY: list[dict[str, list[Any]]] = [{"bearer": []}, {"session": []}]
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "A personal or service-account API token (created under *API tokens*)."},
    "session": {"type": "apiKey", "in": "cookie", "name": "rf_session",  # the served document names the real one
                "description": "The pages' signed-in session; POSTs also need the `X-CSRF-Token` header."},
}


class FieldProblem(BaseModel):
    field: str = Field(description="The field (a dotted path for nested fields; empty for the whole input)")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = Field(default_factory=list)


Responses = dict[str | int, type[BaseModel] | dict[Any, Any] | None]  # flask-openapi3's `responses=`
ERRORS: Responses = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 422: Problem}
WRITE_ERRORS: Responses = {**ERRORS, 409: Problem}


def tag(name: str, description: str) -> Tag:
    return Tag(name=name, description=description)


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "errors": errors or []}
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    response.headers.update(headers or {})
    return response


def app_error(err: AppError) -> Response:
    errors = [{"field": e.field, "message": e.message} for e in err.errors] if isinstance(err, InvalidData) else []
    detail = str(err.args[0]) if isinstance(err, InvalidData) and err.args else str(err)
    status = err.status if 400 <= err.status < 600 else 400
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else None
    return problem(status, detail, errors, headers)


def validation_problem(err: ValidationError) -> Response:
    """flask-openapi3's hook for a request that breaks its pydantic model: a 422 problem naming each field."""
    errors = [{"field": ".".join(str(part) for part in e["loc"]), "message": e["msg"]}
              for e in err.errors(include_url=False)]
    return problem(422, "the request does not match the API's schema", errors)


def caller() -> Identity:
    found: Identity = g.identity
    return found


def principal() -> str:
    bearer = g.get("bearer")
    return f"{caller().username}#token{bearer.token_id}" if bearer else caller().username


def respond(model: BaseModel, status: int = 200) -> tuple[dict[str, Any], int]:
    return model.model_dump(mode="json"), status


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """A creating POST honours `Idempotency-Key`: the first call's answer (success or 4xx) is kept for the caller and
    key, and a repeat with the same body gets it again (header `Idempotent-Replayed: true`) without acting twice; the
    same key with another body is refused (422); a repeat while the first is still running gets 409."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        fingerprint = hashlib.sha256(b"\0".join([request.method.encode(), request.path.encode(),
                                                 request.get_data()])).hexdigest()
        claim = idempotency.begin(services(), principal(), key, fingerprint)
        if claim.replay is not None:
            status, body = claim.replay
            response = Response(body, status=status,
                                mimetype=PROBLEM_TYPE if status >= 400 else "application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            result = view(*args, **kwargs)
        except AppError as err:
            response = app_error(err)
            idempotency.finish(services(), claim, response.status_code, response.get_data(as_text=True))
            return response
        except BaseException:
            idempotency.abandon(services(), claim)
            raise
        body, status = result if isinstance(result, tuple) else (result, 200)
        text = json.dumps(body)
        idempotency.finish(services(), claim, status, text)
        return Response(text, status=status, mimetype="application/json")

    return wrapper
