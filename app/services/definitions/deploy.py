"""Deploying process definitions: a bundle of BPMN/DMN files plus the forms they name, as one immutable version."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.engine import CompiledBundle, compile_bundle
from app.errors import DefinitionRejected, NotFound, Problem
from app.services.admin.setup import ROLES
from app.services.context import Context
from app.services.definitions import version_cache
from app.store import audit
from app.store.models import CurrentVersion, DefinitionVersion, Role
from handlers.parameters import PARAMETERS

MODEL_SUFFIXES = (".bpmn", ".dmn")
MAX_BUNDLE_BYTES = 10 * 1024 * 1024
MAX_VERSION = 2**31 - 1


@dataclass(frozen=True)
class DeployResult:
    process_id: str
    version: int
    sha256: str
    created: bool
    warnings: list[Problem]
    current_version: int  # the version new requests start on after this deploy

    @property
    def is_current(self) -> bool:
        return self.version == self.current_version


def read_paths(paths: list[Path]) -> dict[str, bytes]:
    """Collect model and form files from files and directories (directories: *.bpmn, *.dmn)."""
    files: dict[str, bytes] = {}
    for path in paths:
        if path.is_dir():
            members = sorted(p for p in path.iterdir() if p.suffix in MODEL_SUFFIXES)
        elif path.is_file():
            members = [path]
        else:
            raise DefinitionRejected([Problem(file=str(path), message="no such file or directory")])
        for member in members:
            files[member.name] = member.read_bytes()
    return files


def _forms_available(services: Context, files: dict[str, bytes]) -> dict[str, bytes]:
    forms = {p.name: p.read_bytes() for p in services.settings.forms_dir.glob("*.json")}
    forms.update({name: data for name, data in files.items() if name.endswith(".json")})
    return forms


def _as_text(files: dict[str, bytes]) -> dict[str, str]:
    text: dict[str, str] = {}
    problems = []
    for name, data in files.items():
        try:
            text[name] = data.decode("utf-8")
        except UnicodeDecodeError as err:
            problems.append(Problem(file=name, message=f"not UTF-8 text: {err}"))
    if problems:
        raise DefinitionRejected(problems)
    return text


def _split(files: dict[str, bytes]) -> dict[str, bytes]:
    models = {n: d for n, d in files.items() if n.endswith(MODEL_SUFFIXES)}
    unknown = sorted(set(files) - set(models) - {n for n in files if n.endswith(".json")})
    if unknown:
        raise DefinitionRejected([Problem(file=n, message="not a .bpmn, .dmn or .json file") for n in unknown])
    return models


def _refuse_oversize(files: dict[str, bytes]) -> None:
    size = sum(len(d) for d in files.values())
    if size > MAX_BUNDLE_BYTES:
        raise DefinitionRejected([Problem(file="", message=f"the bundle is {size} bytes; the limit is "
                                                           f"{MAX_BUNDLE_BYTES} bytes")])


def check(services: Context, files: dict[str, bytes]) -> CompiledBundle:
    """Every deploy check, without storing anything (`rf check`, for process owners' CI)."""
    _refuse_oversize(files)
    models = _split(files)
    try:
        with services.uow() as uow:
            lanes = {lane for lane in uow.session.scalars(select(Role.lane)) if lane}
    except SQLAlchemyError:  # no database yet: check against the roles `rf init` seeds
        lanes = set()
    lanes = lanes or {lane for _, _, lane in ROLES if lane}
    return compile_bundle(models, operators=set(services.handlers), lanes=lanes,
                          forms=_forms_available(services, files), parameters=PARAMETERS)


def deploy(services: Context, files: dict[str, bytes], actor: str) -> DeployResult:
    """Validate and store a bundle; identical content returns the existing version instead of a new one."""
    _refuse_oversize(files)
    models = _split(files)
    forms = _forms_available(services, files)
    with services.uow() as uow:
        lanes = {lane for lane in uow.session.scalars(select(Role.lane)) if lane}
        compiled = compile_bundle(models, operators=set(services.handlers), lanes=lanes, forms=forms,
                                  parameters=PARAMETERS)
        stored = _as_text({**models, **{name: forms[name] for name in compiled.forms}})
        sha = hashlib.sha256(json.dumps(stored, sort_keys=True).encode()).hexdigest()
        existing = uow.session.scalars(select(DefinitionVersion).where(
            DefinitionVersion.process_id == compiled.process_id, DefinitionVersion.sha256 == sha)).one_or_none()
        if existing is not None:  # nothing new; the current version stays as it is (see `current.make_current`)
            current = current_version(uow.session, compiled.process_id)
            return DeployResult(compiled.process_id, existing.version, sha, False, compiled.warnings, current.version)
        version = (uow.session.scalar(select(func.max(DefinitionVersion.version)).where(
            DefinitionVersion.process_id == compiled.process_id)) or 0) + 1
        now = services.clock.now()
        deployed = DefinitionVersion(process_id=compiled.process_id, version=version, sha256=sha, files=stored,
                                     spec_json=compiled.spec_json, deployed_by=actor, deployed_at=now)
        uow.session.add(deployed)
        uow.session.flush()
        point_current(uow.session, deployed, actor, now)  # new content: new requests start on it
        audit.append(uow.session, actor=actor, event_type="definition_deployed", now=now,
                     payload={"process_id": compiled.process_id, "version": version, "sha256": sha,
                              "files": sorted(stored)})
        uow.commit()
    return DeployResult(compiled.process_id, version, sha, True, compiled.warnings, version)


def find_version(session: Session, process_id: str, version: int) -> DefinitionVersion:
    if not 1 <= version <= MAX_VERSION:  # beyond the column's range (a URL can carry any number)
        raise NotFound(f"process {process_id} has no version {version}")
    found = session.scalars(select(DefinitionVersion).where(DefinitionVersion.process_id == process_id,
                                                            DefinitionVersion.version == version)).one_or_none()
    if found is None:
        raise NotFound(f"process {process_id} has no version {version}")
    return found


def latest_version(session: Session, process_id: str) -> DefinitionVersion:
    found = session.scalars(select(DefinitionVersion).where(DefinitionVersion.process_id == process_id)
                            .order_by(DefinitionVersion.version.desc()).limit(1)).one_or_none()
    if found is None:
        raise NotFound(f"process {process_id} is not deployed; run `rf init` or `rf deploy`")
    return found


def current_version(session: Session, process_id: str) -> DefinitionVersion:
    """The version new requests of the process start on: the one made current last (by a deploy of new content or
    by a process owner going back a version); the latest when none was recorded."""
    found = session.scalars(select(DefinitionVersion).join(
        CurrentVersion, CurrentVersion.definition_version_id == DefinitionVersion.id).where(
        CurrentVersion.process_id == process_id)).one_or_none()
    return found if found is not None else latest_version(session, process_id)


def point_current(session: Session, version: DefinitionVersion, actor: str, now: datetime) -> None:
    """Make `version` the one new requests of its process start on (no audit here: the caller records why)."""
    row = session.get(CurrentVersion, version.process_id, with_for_update=True)
    if row is None:
        session.add(CurrentVersion(process_id=version.process_id, definition_version_id=version.id,
                                   made_current_by=actor, made_current_at=now))
    else:
        row.definition_version_id, row.made_current_by, row.made_current_at = version.id, actor, now
    session.flush()


def form_file(session: Session, version_id: int, filename: str) -> dict[str, object]:
    """The parsed form file of a version (a copy of what `version_cache` keeps: the caller may change it)."""
    try:
        return copy.deepcopy(version_cache.version_data(session, version_id).form(filename))
    except NotFound:
        raise NotFound(f"form {filename} is not part of definition version {version_id}") from None
