"""What every endpoint of `/api/v1` shares: problem details (RFC 9457), the caller, security, and `Idempotency-Key`.

Errors are `application/problem+json`: `type`, `title`, `status`, `detail`, and for invalid input `errors`, a list of
`{field, message}` (the same field-level messages the forms show). A pydantic validation error of a body, query or
path parameter is turned into the same shape, so a client handles one kind of error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import suppress
from functools import wraps
from http import HTTPStatus
from typing import Any

from flask import Response, g, request
from flask_openapi3.models.tag import Tag
from pydantic import BaseModel, Field, ValidationError

from app.domain.permissions import Identity
from app.errors import AppError, DefinitionRejected, InvalidData
from app.errors import Problem as DefinitionProblem
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


class Finding(BaseModel):
    """One finding of the deploy checks about an uploaded or deployed file."""

    severity: str = Field(description="error | warning")
    file: str
    line: int | None
    element_id: str = Field(description="The BPMN/DMN element's id; empty when the finding is about the file")
    element_name: str
    message: str


class Refusal(Problem):
    """A refused bundle: `errors` names each problem (`field` is the file, then `:line` and `#element` when known)
    and `findings` gives them located (errors and warnings). Nothing was stored."""

    findings: list[Finding] = Field(default_factory=list)


def finding(found: DefinitionProblem) -> Finding:
    return Finding(severity=found.severity, file=found.file, line=found.line, element_id=found.element_id,
                   element_name=found.name, message=found.message)


def _finding_field(found: DefinitionProblem) -> str:
    return found.file + (f":{found.line}" if found.line else "") + (f"#{found.element_id}" if found.element_id else "")


Responses = dict[str | int, type[BaseModel] | dict[Any, Any] | None]  # flask-openapi3's `responses=`
ERRORS: Responses = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 422: Problem}
WRITE_ERRORS: Responses = {**ERRORS, 409: Problem}


def tag(name: str, description: str) -> Tag:
    return Tag(name=name, description=description)


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None, extensions: dict[str, Any] | None = None) -> Response:
    """A problem details response; `extensions` are RFC 9457 extension members (such as a refusal's findings)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {**(extensions or {}), "type": "about:blank", "title": title, "status": status, "detail": detail,
            "errors": errors or []}
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    response.headers.update(headers or {})
    return response


def app_error(err: AppError) -> Response:
    status = err.status if 400 <= err.status < 600 else 400
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else None
    if isinstance(err, DefinitionRejected):  # every problem, errors first; nothing was stored
        found = sorted(err.problems, key=lambda p: p.severity != "error")
        errors = [{"field": _finding_field(p), "message": p.message}
                  for p in [p for p in found if p.severity == "error"] or found]
        return problem(status, f"{err.args[0]}; nothing was stored", errors, headers,
                       {"findings": [finding(p).model_dump(mode="json") for p in found]})
    errors = [{"field": e.field, "message": e.message} for e in err.errors] if isinstance(err, InvalidData) else []
    detail = str(err.args[0]) if isinstance(err, InvalidData) and err.args else str(err)
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


def _fingerprint() -> str:
    """What makes two calls the same: method, path and body. A multipart body has been parsed (and its stream
    read) by the time a view runs, so it counts as its fields and its files' names and contents."""
    parts = [request.method.encode(), request.path.encode()]
    if request.mimetype == "multipart/form-data":
        for key, value in sorted(request.form.items(multi=True)):
            parts += [b"field", key.encode(), value.encode()]
        for key, upload in request.files.items(multi=True):
            upload.stream.seek(0)
            parts += [b"file", key.encode(), (upload.filename or "").encode(),
                      hashlib.sha256(upload.stream.read()).digest()]
            upload.stream.seek(0)
    else:
        parts.append(request.get_data())
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """A creating POST honours `Idempotency-Key`: the first call's answer (success or 4xx) is kept for the caller and
    key, and a repeat with the same body gets it again (header `Idempotent-Replayed: true`) without acting twice; the
    same key with another body is refused (422); a repeat while the first is still running gets 409 (see
    `idempotency` for a first call whose process died)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        fingerprint = _fingerprint()
        claim = idempotency.begin(services(), principal(), key, fingerprint)
        if claim.replay is not None:
            status, body = claim.replay
            response = Response(body, status=status,
                                mimetype=PROBLEM_TYPE if status >= 400 else "application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            with idempotency.acting(claim):  # the action's commits mark the claim as acted on
                result = view(*args, **kwargs)
        except AppError as err:
            response = app_error(err)
            idempotency.finish(services(), claim, response.status_code, response.get_data(as_text=True))
            return response
        except BaseException:
            with suppress(Exception):  # the database may be what failed: a stalled claim is taken over later
                idempotency.abandon(services(), claim)
            raise
        body, status = result if isinstance(result, tuple) else (result, 200)
        text = json.dumps(body)
        idempotency.finish(services(), claim, status, text)
        return Response(text, status=status, mimetype="application/json")

    return wrapper
