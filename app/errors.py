"""Errors the services raise; the CLI and web layers map them to exit codes and HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass, field


class AppError(Exception):
    """Base of every error a user can cause; the message is meant for that user."""

    status = 400


class NotFound(AppError):
    status = 404


class Forbidden(AppError):
    status = 403


class Unauthorized(AppError):
    """A machine caller could not prove who it is (a missing, wrong or stale signature)."""

    status = 401


class NotConfigured(AppError):
    """The feature is switched off on this installation (a setting it needs is not set)."""

    status = 503


class ExternalSystemError(AppError):
    """An external system (CRM, billing, ASD) failed or refused a call a user's action needed; nothing was saved."""

    status = 502


class Conflict(AppError):
    """Someone else changed the same thing first (stale version, task already completed)."""

    status = 409


@dataclass
class FieldError:
    field: str
    message: str


class InvalidData(AppError):
    """Submitted data failed validation; `errors` names each field and the reason."""

    status = 422

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    def __str__(self) -> str:
        details = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        return f"{self.args[0]} ({details})" if details else str(self.args[0])


@dataclass
class Problem:
    """One finding about a BPMN/DMN/form file, located as precisely as we can."""

    file: str
    message: str
    element_id: str = ""
    line: int | None = None
    severity: str = "error"
    extra: dict[str, str] = field(default_factory=dict)
    name: str = ""  # the element's name in the diagram, when it has one

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.element_id:
            where += f" [{self.element_id}]" + (f" “{self.name}”" if self.name else "")
        return f"{self.severity}: {where}: {self.message}"


class DefinitionRejected(AppError):
    """A process bundle failed validation; nothing was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"process definition rejected: {len(errors)} error(s)")
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join([str(self.args[0]), *(f"  {p}" for p in self.problems)])


class EngineError(AppError):
    """The process engine could not proceed (a script or expression failed, a task is in error)."""

    status = 500
