"""Moving running instances of one definition version to a newer version of the same process.

`check` says per running instance whether it can move (the engine refuses when an element the new version changed or
removed was already reached) and why not; `migrate` moves one, a selection or every eligible instance, each in its
own unit of work with an `instance_migrated` audit event. A refused instance is left exactly as it was, and so is
one whose move failed for any other reason (its unit of work rolls back; it is reported as refused, never raised).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import engine
from app.domain.permissions import PROCESS_OWNERS, Identity
from app.errors import AppError, Conflict, FieldError, Forbidden, InvalidData, NotFound
from app.services.context import Context
from app.services.definitions.deploy import find_version
from app.services.requests import projection
from app.store import audit
from app.store.models import DefinitionVersion, ProcessInstance, ServiceRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceCheck:
    request_number: str
    title: str
    instance_version: int  # the optimistic-lock version the check saw
    waiting_at: list[str]
    eligible: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class VersionCheck:
    process_id: str
    from_version: int
    to_version: int | None  # None: there is no newer version
    newer_versions: list[int]
    instances: list[InstanceCheck]

    @property
    def eligible(self) -> list[InstanceCheck]:
        return [i for i in self.instances if i.eligible]

    def as_dict(self) -> dict[str, Any]:
        return {"process_id": self.process_id, "from_version": self.from_version, "to_version": self.to_version,
                "newer_versions": self.newer_versions, "instances": [i.as_dict() for i in self.instances]}


@dataclass
class MigrationReport:
    process_id: str
    from_version: int
    to_version: int
    migrated: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (request number, reason)

    @property
    def summary(self) -> str:
        count = len(self.migrated)
        text = f"Migrated {count} instance{'s' if count != 1 else ''} to version {self.to_version}"
        return text + (f"; refused {len(self.refused)}" if self.refused else "")

    def as_dict(self) -> dict[str, Any]:
        return {"process_id": self.process_id, "from_version": self.from_version, "to_version": self.to_version,
                "migrated": self.migrated, "refused": [{"request": n, "reason": r} for n, r in self.refused],
                "summary": self.summary}


def _require_migrator(who: Identity | str) -> str:
    """The acting user's name; an Identity must hold process_owner or admin (a plain name is the trusted CLI)."""
    if isinstance(who, str):
        return who
    if not who.holds_any(PROCESS_OWNERS):
        raise Forbidden("only process owners and administrators migrate instances")
    return who.username


def _versions(session: Session, process_id: str, from_version: int,
              to_version: int | None) -> tuple[DefinitionVersion, DefinitionVersion | None, list[int]]:
    source = find_version(session, process_id, from_version)
    newer = list(session.scalars(select(DefinitionVersion.version).where(
        DefinitionVersion.process_id == process_id, DefinitionVersion.version > from_version)
        .order_by(DefinitionVersion.version.desc())))
    if to_version is None:
        return source, (find_version(session, process_id, newer[0]) if newer else None), newer
    if to_version <= from_version:
        raise InvalidData("the target version must be newer than the version migrated from",
                          [FieldError("to_version", f"{to_version} is not newer than {from_version}")])
    return source, find_version(session, process_id, to_version), newer


def _running(session: Session, source: DefinitionVersion) -> list[tuple[ProcessInstance, ServiceRequest]]:
    rows = session.execute(select(ProcessInstance, ServiceRequest)
                           .join(ServiceRequest, ServiceRequest.id == ProcessInstance.request_id)
                           .where(ProcessInstance.definition_version_id == source.id,
                                  ProcessInstance.status == "running")
                           .order_by(ServiceRequest.id))
    return [(instance, request) for instance, request in rows]


def _check_one(source: DefinitionVersion, target: DefinitionVersion | None, instance: ProcessInstance,
               request: ServiceRequest) -> InstanceCheck:
    number = request.number or str(request.id)
    try:
        verdict = engine.check_migration(source.spec_json, instance.state_json, (target or source).spec_json)
    except AppError as err:
        return InstanceCheck(number, request.title, instance.version, [], False, str(err))
    if target is None:
        return InstanceCheck(number, request.title, instance.version, verdict.waiting_at, False,
                             "no newer version deployed")
    return InstanceCheck(number, request.title, instance.version, verdict.waiting_at, verdict.eligible,
                         verdict.reason)


def check(services: Context, who: Identity | str, process_id: str, from_version: int,
          to_version: int | None = None) -> VersionCheck:
    """Every running instance of the version, each with whether it can move to the target (default: the latest)."""
    _require_migrator(who)
    with services.uow() as uow:
        source, target, newer = _versions(uow.session, process_id, from_version, to_version)
        checks = [_check_one(source, target, instance, request)
                  for instance, request in _running(uow.session, source)]
        return VersionCheck(process_id, from_version, target.version if target else None, newer, checks)


def _migrate_one(services: Context, actor: str, source_id: int, target_id: int, number: str,
                 seen_version: int | None) -> None:
    """Move one instance in its own unit of work; raises an AppError (and changes nothing) when it cannot."""
    now = services.clock.now()
    with services.uow() as uow:
        session = uow.session
        found = session.execute(select(ProcessInstance.id, ServiceRequest)
                                .join(ServiceRequest, ServiceRequest.id == ProcessInstance.request_id)
                                .where(ServiceRequest.number == number)).one_or_none()
        if found is None:
            raise NotFound("no such request")
        instance_id, request = found
        instance = projection.lock_instance(session, instance_id)
        source, target = session.get(DefinitionVersion, source_id), session.get(DefinitionVersion, target_id)
        assert instance is not None and source is not None and target is not None
        if instance.definition_version_id != source.id or instance.status != "running":
            raise Conflict(f"it is not a running instance of {source.process_id} version {source.version}"
                           f"{' (it has completed)' if instance.status != 'running' else ''}")
        if seen_version is not None and instance.version != seen_version:
            raise Conflict("it changed after the check was shown (a task was completed meanwhile); check again")
        seen = instance.version
        state = engine.migrate_instance(source.spec_json, instance.state_json, target.spec_json)
        projection.save_state(session, instance, seen, state, now)
        instance.definition_version_id = target.id
        projection.project(session, instance, request, state, now, actor)  # task and job rows before the audit head
        audit.append(session, actor=actor, event_type="instance_migrated", request_id=request.id, now=now,
                     payload={"request": number, "instance": instance.id, "process_id": source.process_id,
                              "from_version": source.version, "to_version": target.version})
        uow.commit()


def migrate(services: Context, who: Identity | str, process_id: str, from_version: int, *,
            to_version: int | None = None, requests: list[str] | None = None, all_eligible: bool = False,
            seen: dict[str, int] | None = None) -> MigrationReport:
    """Migrate the named requests (or, with all_eligible, every running instance of the version) to the target
    version (default: the latest). Each instance moves in its own unit of work; the refused ones keep their state and
    are reported with the reason. `seen` maps request numbers to the instance version a page showed as eligible."""
    actor = _require_migrator(who)
    if bool(requests) == all_eligible:
        raise InvalidData("name the requests to migrate, or migrate all eligible instances",
                          [FieldError("requests", "select at least one request, or choose all eligible")])
    with services.uow() as uow:
        source, target, _ = _versions(uow.session, process_id, from_version, to_version)
        if target is None:
            raise InvalidData(f"there is no newer version of {process_id} than {from_version} to migrate to",
                              [FieldError("to_version", "deploy a newer version first")])
        numbers = [request.number or str(request.id) for _, request in _running(uow.session, source)] \
            if all_eligible else list(dict.fromkeys(n.strip().upper() for n in requests or [] if n.strip()))
        source_id, target_id, target_version = source.id, target.id, target.version
    report = MigrationReport(process_id, from_version, target_version)
    for number in numbers:
        try:
            _migrate_one(services, actor, source_id, target_id, number, (seen or {}).get(number))
        except AppError as err:
            reason = str(err)
            report.refused.append((number, reason.removeprefix("cannot migrate: ")))
        except Exception as err:  # noqa: BLE001 - its unit of work rolled back; the others still move
            log.exception("moving %s from %s v%s failed", number, process_id, from_version)
            report.refused.append((number, f"the move failed and was undone ({type(err).__name__}); the request "
                                           f"is unchanged"))
        else:
            report.migrated.append(number)
    return report
