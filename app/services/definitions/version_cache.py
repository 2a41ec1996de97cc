"""What never changes about a deployed definition version, kept in memory: its spec JSON and its parsed forms.

A definition version is immutable (its files and compiled spec are written once, at deploy). Every task completion,
new request and worker step used to read the whole row again (the spec JSON and every file, hundreds of kilobytes)
and parse the task's form file again. This module reads only the version's identity (id, process, number, sha256 of
its files: a few bytes) and keeps the rest in a small bounded in-process cache keyed by that identity. Keying by the
files' hash as well as the id keeps two databases used by one process (tests, benchmarks) from ever sharing an entry
they should not: the same id with the same hash means the same files, and so the same spec and forms.

The cached spec JSON is the same `str` object on every hit, so the engine's own cache of restored specs (keyed by
that string) finds it without hashing hundreds of kilobytes each time.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import engine
from app.errors import NotFound
from app.services.context import Context
from app.store import reference_cache
from app.store.models import CurrentVersion, DefinitionVersion

MAX_VERSIONS = 32  # versions one process keeps; a deployment has a handful in use


@dataclass(frozen=True)
class VersionKey:
    id: int
    process_id: str
    version: int
    sha256: str


@dataclass
class VersionData:
    key: VersionKey
    spec_json: str
    files: dict[str, str]
    _forms: dict[str, dict[str, Any]] = field(default_factory=dict)

    def form(self, filename: str) -> dict[str, Any]:
        """The parsed form file, shared: callers that change it must copy it first."""
        found = self._forms.get(filename)
        if found is None:
            if filename not in self.files:
                raise NotFound(f"form {filename} is not part of definition version {self.key.id}")
            found = json.loads(self.files[filename])
            if not isinstance(found, dict):
                raise NotFound(f"form {filename} of definition version {self.key.id} is not a JSON object")
            self._forms[filename] = found
        return found


    def schemas(self) -> list[tuple[str, dict[str, Any]]]:
        """Every JSON Schema form of the version (`*.schema.json`), by file name; a file that is not a JSON object
        is skipped (deploy refuses those; old versions are read as they are)."""
        found = []
        for filename in sorted(self.files):
            if filename.endswith(".schema.json"):
                try:
                    found.append((filename, self.form(filename)))
                except (NotFound, ValueError):
                    continue
        return found


_lock = threading.Lock()
_cache: OrderedDict[VersionKey, VersionData] = OrderedDict()

_KEY_COLUMNS = (DefinitionVersion.id, DefinitionVersion.process_id, DefinitionVersion.version,
                DefinitionVersion.sha256)


def key_of(session: Session, version_id: int) -> VersionKey:
    row = session.execute(select(*_KEY_COLUMNS).where(DefinitionVersion.id == version_id)).one_or_none()
    if row is None:
        raise NotFound(f"no definition version {version_id}")
    return VersionKey(*row)


def numbered_key(session: Session, process_id: str, version: int) -> VersionKey:
    """The identity of version `version` of `process_id` (as a request's page names it)."""
    row = session.execute(select(*_KEY_COLUMNS).where(DefinitionVersion.process_id == process_id,
                                                      DefinitionVersion.version == version)).one_or_none()
    if row is None:
        raise NotFound(f"no version {version} of process {process_id}")
    return VersionKey(*row)


def current_key(session: Session, process_id: str) -> VersionKey:
    """The identity of the version new requests start on (as `deploy.current_version`, without the big columns).
    Reference data: read once per process and reference generation (a deploy or a switch of version changes it)."""
    return reference_cache.cached(session, "current_version", process_id, lambda: _current_key(session, process_id))


def _current_key(session: Session, process_id: str) -> VersionKey:
    row = session.execute(select(*_KEY_COLUMNS).join(
        CurrentVersion, CurrentVersion.definition_version_id == DefinitionVersion.id).where(
        CurrentVersion.process_id == process_id)).one_or_none()
    if row is None:
        row = session.execute(select(*_KEY_COLUMNS).where(DefinitionVersion.process_id == process_id)
                              .order_by(DefinitionVersion.version.desc()).limit(1)).one_or_none()
    if row is None:
        raise NotFound(f"process {process_id} is not deployed; run `rf init` or `rf deploy`")
    return VersionKey(*row)


def data_of(session: Session, key: VersionKey) -> VersionData:
    """The immutable part of the version `key` names, read from the database on the first use only."""
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    row = session.execute(select(DefinitionVersion.spec_json, DefinitionVersion.files)
                          .where(DefinitionVersion.id == key.id)).one_or_none()
    if row is None:
        raise NotFound(f"no definition version {key.id}")
    made = VersionData(key, row.spec_json, dict(row.files))
    with _lock:
        found = _cache.setdefault(key, made)
        _cache.move_to_end(key)
        while len(_cache) > MAX_VERSIONS:
            _cache.popitem(last=False)
    return found


def version_data(session: Session, version_id: int) -> VersionData:
    return data_of(session, key_of(session, version_id))


def warm(services: Context) -> int:
    """Load the current version of every process and restore its spec, so that a new server process answers its
    first requests as fast as the later ones (restoring a spec takes tens of milliseconds). Returns how many."""
    with services.uow() as uow:
        process_ids = list(uow.session.scalars(select(CurrentVersion.process_id)))
        found = [data_of(uow.session, current_key(uow.session, process_id)) for process_id in process_ids]
    for data in found:
        engine.prepare_spec(data.spec_json)
    return len(found)
