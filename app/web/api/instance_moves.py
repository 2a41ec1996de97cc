"""Instance moves (process owners and administrators): which running instances of a version can move to a newer
version and why not, and moving them; the same service as the *Migrate instances* page and `rf migrate`."""

from __future__ import annotations

from typing import Annotated, Any

from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.services.definitions import instance_moves as moves
from app.services.definitions.deploy import MAX_VERSION
from app.web.api.common import ERRORS, SECURITY, WRITE_ERRORS, caller, respond, tag
from app.web.api.processes import VersionNumber, VersionPath
from app.web.context import services

bp = APIBlueprint("api_instance_moves", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Instance moves", "Moving running requests from the version they started on to a newer version of the same "
                      "process (process owners and administrators). An instance can move when nothing it has "
                      "reached was changed or removed; each move is its own transaction, audited as "
                      "`instance_migrated`.")], abp_security=SECURITY)

RequestNumber = Annotated[str, Field(min_length=1, max_length=40, description="A request number (RF-000123)")]
MAX_MOVES = 1000


class MoveQuery(BaseModel):
    to: VersionNumber | None = Field(None, description="The version to move to; default: the newest")


class InstanceCheck(BaseModel):
    request_number: str
    title: str
    instance_version: int = Field(description="The instance's state as checked; pass it in `seen` to move it only "
                                              "if it has not changed since")
    waiting_at: list[str] = Field(description="Where it waits (element names)")
    eligible: bool
    reason: str = Field(description="Why it can move, or why not (each changed or removed element it reached, with "
                                    "its state and what changed)")


class MoveCheck(BaseModel):
    process_id: str
    from_version: int
    to_version: int | None = Field(description="null: no newer version is deployed")
    newer_versions: list[int]
    instances: list[InstanceCheck] = Field(description="Every running instance of the version")


class MoveOrder(BaseModel):
    to_version: VersionNumber | None = Field(None, description="The version to move to; default: the newest")
    requests: list[RequestNumber] = Field(default_factory=list, max_length=MAX_MOVES,
                                          description="The requests to move (or set `all_eligible`)")
    all_eligible: bool = Field(False, description="Move every running instance that can move")
    seen: dict[RequestNumber, Annotated[int, Field(ge=0, le=MAX_VERSION)]] = Field(
        default_factory=dict, max_length=MAX_MOVES,
        description="request number -> `instance_version` from the check: a request changed since is refused")


class RefusedMove(BaseModel):
    request: str
    reason: str


class MoveReport(BaseModel):
    process_id: str
    from_version: int
    to_version: int
    migrated: list[str] = Field(description="The requests moved")
    refused: list[RefusedMove] = Field(description="The requests left as they were, with the reason")
    summary: str


@bp.get("/processes/<process_id>/versions/<version>/moves", summary="Check which instances can move",
        responses={200: MoveCheck, **ERRORS},
        description="Every running instance of the version, where it waits, and whether it can move to the "
                    "target version (default: the newest), as `rf migrate --check` and the page list them.")
def check_moves(path: VersionPath, query: MoveQuery) -> tuple[dict[str, Any], int]:
    found = moves.check(services(), caller(), path.process_id, path.version, query.to)
    return respond(MoveCheck(**{**found.as_dict(), "instances": [InstanceCheck(**i.as_dict())
                                                                   for i in found.instances]}))


@bp.post("/processes/<process_id>/versions/<version>/moves", summary="Move running instances to a newer version",
         responses={200: MoveReport, **WRITE_ERRORS},
         description="Moves the named requests, or every eligible one with `all_eligible` (exactly one of the two), "
                     "to `to_version` (default: the newest). Each moves in its own transaction; a refused one, or "
                     "one whose `seen` state changed meanwhile, stays as it was and is listed in `refused` with the "
                     "reason (still 200). Naming none, or a target not newer, is 422.")
def move(path: VersionPath, body: MoveOrder) -> tuple[dict[str, Any], int]:
    report = moves.migrate(services(), caller(), path.process_id, path.version, to_version=body.to_version,
                           requests=body.requests, all_eligible=body.all_eligible, seen=body.seen)
    return respond(MoveReport(**report.as_dict()))
