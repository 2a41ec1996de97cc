"""How a version has run (process owners, auditors and administrators): per element and sequence flow of its
diagrams how often it was passed, waits, loops, the most frequent paths, and the instances whose recorded path the
diagrams cannot replay; the same numbers as the insights page's JSON."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.services.definitions import insights
from app.web.api.common import ERRORS, SECURITY, caller, respond, tag
from app.web.api.processes import VersionPath
from app.web.context import services

bp = APIBlueprint("api_process_insights", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Process insights", "How a version's instances have actually run, read from the audit log (process owners, "
                        "auditors and administrators): times passed, waits, loops, paths and conformance.")],
    abp_security=SECURITY)


class PeriodQuery(BaseModel):
    since: date | None = Field(None, description="First day of the period (installation's zone); default 90 days "
                                                 "back. Instances started in the period count")
    until: date | None = Field(None, description="Last day of the period; default today")


class ElementRow(BaseModel):
    file: str
    element_id: str
    name: str
    kind: str = Field(description="user, service or timer")
    passed: int = Field(description="Times completed, loops included")
    instances: int = Field(description="Distinct instances that passed it")
    loops: int = Field(description="Passes beyond each instance's first")
    looping: int = Field(description="Instances that passed it more than once")
    mean_hours: float | None = Field(description="Mean wait, ready to done")
    p90_hours: float | None


class Waits(BaseModel):
    mean_hours: float | None
    p90_hours: float | None


class DiagramInsights(BaseModel):
    file: str
    main: bool = Field(description="This file defines the process itself")
    names: dict[str, str] = Field(description="element id -> name")
    counts: dict[str, int] = Field(description="element id -> times passed (a call activity: instances that entered "
                                               "what it calls)")
    flows: dict[str, int] = Field(description="sequence flow id -> times taken (inferred between recorded steps)")
    loops: dict[str, int]
    waits: dict[str, Waits]


class PathVariant(BaseModel):
    path: list[str] = Field(description="Element ids in the order they ended")
    names: list[str]
    instances: int
    share: float = Field(description="Percent of the finished instances")


class Expected(BaseModel):
    element_id: str = Field(description="An element id, or `<end>` for the end of the process")
    name: str


class DeviatingInstance(BaseModel):
    request: str = Field(description="The request number")
    status: str = Field(description="The instance's status: running, completed, …")
    step: int = Field(description="1-based position of the first deviating step in the recorded path")
    element_id: str
    name: str
    at: str = Field(description="When the step was recorded (ISO 8601)")
    reason: str
    previous: str | None = Field(description="The recorded step before it")
    expected: list[Expected] = Field(description="What the diagram allowed next instead")
    moved_from: int | None = Field(description="The version the instance was moved from, if it was")
    moved_at: str | None


class Conformance(BaseModel):
    checked: int
    deviating: int
    instances: list[DeviatingInstance] = Field(description="Oldest deviation first")


class VersionInsights(BaseModel):
    process_id: str
    version: int
    since: date
    until: date
    started: int = Field(description="Instances of the version started in the period")
    finished: int
    elements: list[ElementRow] = Field(description="Longest mean wait first")
    diagrams: list[DiagramInsights]
    variants: list[PathVariant] = Field(description="The most frequent paths of the finished instances")
    conformance: Conformance


@bp.get("/processes/<process_id>/versions/<version>/insights", summary="Read how a version has run",
        responses={200: VersionInsights, **ERRORS},
        description="For the version's instances started in the period, from the audit log: per element how many "
                    "times and instances passed it, loops and waits (mean, p90); per diagram the counts and the "
                    "sequence flows taken (through call activities too); the most frequent paths of the finished "
                    "instances; and the instances whose recorded path the diagrams cannot replay, each with its "
                    "first deviating step and what the diagram expected instead. The numbers of the insights "
                    "page's JSON. 403 for staff who are neither process owners nor auditors.")
def read_insights(path: VersionPath, query: PeriodQuery) -> tuple[dict[str, Any], int]:
    found = insights.version_insights(services(), caller(), path.process_id, path.version,
                                      query.since.isoformat() if query.since else None,
                                      query.until.isoformat() if query.until else None)
    return respond(VersionInsights.model_validate(
        {**found, "diagrams": [{k: v for k, v in d.items() if k != "xml"} for d in found["diagrams"]]}))
