"""Going back a version: a process owner (or administrator) makes a deployed version the one new requests start on.

Deploying new content makes the new version current; deploying content identical to an existing version changes
nothing and says which version it is identical to, so that the owner can make that one current here. Running
instances stay on the version they run on (moving them is `instance_moves`). Each change is audited as
`definition_made_current` with the version before and after; making the current version current again changes
nothing and records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.domain.permissions import PROCESS_OWNERS, Identity
from app.errors import Forbidden, NotFound
from app.services.context import Context
from app.services.definitions.deploy import current_version, find_version, point_current
from app.store import audit
from app.store.models import CurrentVersion, DefinitionVersion


@dataclass(frozen=True)
class MadeCurrent:
    process_id: str
    version: int
    previous_version: int
    changed: bool

    @property
    def summary(self) -> str:
        if not self.changed:
            return f"Version {self.version} of {self.process_id} is already current; nothing changed"
        return (f"Version {self.version} of {self.process_id} is now current: new requests start on it "
                f"(was version {self.previous_version}). Running requests stay on their versions")

    def as_dict(self) -> dict[str, Any]:
        return {"process_id": self.process_id, "version": self.version, "previous_version": self.previous_version,
                "changed": self.changed, "summary": self.summary}


def _require_owner(who: Identity | str) -> str:
    """The acting user's name; an Identity must hold process_owner or admin (a plain name is the trusted CLI)."""
    if isinstance(who, str):
        return who
    if not who.holds_any(PROCESS_OWNERS):
        raise Forbidden("only process owners and administrators choose the version new requests start on")
    return who.username


def make_current(services: Context, who: Identity | str, process_id: str, version: int) -> MadeCurrent:
    """Make `version` of the process the one new requests start on (audited); NotFound for an unknown version."""
    actor = _require_owner(who)
    now = services.clock.now()
    with services.uow() as uow:
        session = uow.session
        if session.scalar(select(DefinitionVersion.id).where(DefinitionVersion.process_id == process_id)
                          .limit(1)) is None:
            raise NotFound(f"process {process_id} is not deployed")
        session.get(CurrentVersion, process_id, with_for_update=True)  # one owner at a time per process
        chosen = find_version(session, process_id, version)
        previous = current_version(session, process_id)
        if previous.id == chosen.id:
            return MadeCurrent(process_id, version, version, False)
        point_current(session, chosen, actor, now)
        audit.append(session, actor=actor, event_type="definition_made_current", now=now,
                     payload={"process_id": process_id, "version": version, "previous_version": previous.version,
                              "sha256": chosen.sha256})
        uow.commit()
        return MadeCurrent(process_id, version, previous.version, True)


def current_version_number(services: Context, process_id: str) -> int:
    """The version number new requests of the process start on (NotFound when it is not deployed)."""
    with services.uow() as uow:
        return current_version(uow.session, process_id).version
