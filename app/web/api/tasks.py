"""Tasks: the inbox queues with their counts, one task with its form, claim, release, assign, complete."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.observability import metrics
from app.services.tasks import actions
from app.services.tasks import inbox as inbox_service
from app.web.api.common import ERRORS, SECURITY, WRITE_ERRORS, caller, respond, tag
from app.web.context import services

bp = APIBlueprint("api_tasks", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Tasks", "User tasks as the inbox shows them. Only holders of the task's lane role in its provider group see, "
             "claim and complete it; the group's managers also release and assign.")], abp_security=SECURITY)


class TaskQuery(BaseModel):
    queue: Literal["mine", "available", "groups"] = "mine"
    group: str | None = Field(None, max_length=64)
    type: Literal["assistance", "enhancement"] | None = None
    priority: Literal["low", "medium", "high", "critical"] | None = None
    overdue: bool = False
    sort: Literal["due", "priority", "newest", "request"] = "due"
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(25, ge=1, le=200)


class InboxTask(BaseModel):
    id: str
    request_number: str
    request_id: int
    request_type: str
    title: str
    agency: str
    name: str
    lane: str | None
    provider_group: str
    assignee: str | None
    priority: str
    due_at: datetime | None
    overdue: bool
    created_at: datetime
    sla: str = Field(description="'' | at_risk | breached | paused")


class QueueCounts(BaseModel):
    mine: int
    available: int
    groups: int
    overdue: int


class InboxPage(BaseModel):
    items: list[InboxTask]
    total: int
    page: int
    pages: int
    counts: QueueCounts


class TaskId(BaseModel):
    task_id: str = Field(max_length=64)


class Task(BaseModel):
    id: str
    request_id: int
    request_number: str
    title: str
    agency: str
    bpmn_id: str
    name: str
    lane: str | None
    role: str | None
    provider_group: str
    assignee: str | None
    candidates: list[str]
    due_at: datetime | None
    priority: str
    status: str
    instructions: str | None


class TaskDetail(BaseModel):
    task: Task
    form_schema: dict[str, Any] = Field(description="The JSON Schema `complete` validates `data` against")
    ui_schema: dict[str, Any] | None
    request: dict[str, Any]
    may_complete: bool
    may_claim: bool
    may_release: bool
    may_assign: bool
    colleagues: list[str]


class Assignment(BaseModel):
    assignee: str = Field(min_length=1, max_length=64, description="A user holding the task's lane role")


class Completion(BaseModel):
    data: dict[str, Any] = Field(description="The form's fields, validated by the task's form schema and its "
                                             "cross-field rules")


def _task(view: actions.TaskView) -> Task:
    fields = view.as_dict()
    fields.pop("form_schema", None)
    return Task(**fields)


@bp.get("/tasks", summary="List a queue of the inbox", responses={200: InboxPage, **ERRORS})
def list_tasks(query: TaskQuery) -> tuple[dict[str, Any], int]:
    page = inbox_service.inbox(services(), caller(), inbox_service.InboxFilters(
        queue=query.queue, group=query.group, request_type=query.type, priority=query.priority,
        overdue=query.overdue, sort=query.sort, page=query.page, per_page=query.per_page))
    return respond(InboxPage(items=[InboxTask(**row.__dict__) for row in page.rows], total=page.total,
                             page=page.page, pages=page.pages, counts=QueueCounts(**page.counts)))


@bp.get("/tasks/<task_id>", summary="Read a task with its form schema", responses={200: TaskDetail, **ERRORS})
def read_task(path: TaskId) -> tuple[dict[str, Any], int]:
    detail = actions.task_detail(services(), path.task_id, caller().username)
    request = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in detail.request.items()}
    return respond(TaskDetail(task=_task(detail.task), form_schema=detail.schema, ui_schema=detail.ui_schema,
                              request=request, may_complete=detail.may_complete, may_claim=detail.may_claim,
                              may_release=detail.may_unclaim, may_assign=detail.may_assign,
                              colleagues=detail.colleagues))


@bp.post("/tasks/<task_id>/claim", summary="Take a task", responses={200: Task, **WRITE_ERRORS})
def claim(path: TaskId) -> tuple[dict[str, Any], int]:
    return respond(_task(actions.claim(services(), path.task_id, caller())))


@bp.post("/tasks/<task_id>/release", summary="Put a task back in the group queue",
         responses={200: Task, **WRITE_ERRORS})
def release(path: TaskId) -> tuple[dict[str, Any], int]:
    return respond(_task(actions.unclaim(services(), path.task_id, caller().username)))


@bp.post("/tasks/<task_id>/assign", summary="Assign a task to a colleague (managers)",
         responses={200: Task, **WRITE_ERRORS})
def assign(path: TaskId, body: Assignment) -> tuple[dict[str, Any], int]:
    return respond(_task(actions.assign(services(), path.task_id, caller().username, body.assignee)))


@bp.post("/tasks/<task_id>/complete", summary="Complete a task with its form's data",
         responses={200: Task, **WRITE_ERRORS})
def complete(path: TaskId, body: Completion) -> tuple[dict[str, Any], int]:
    done = actions.complete(services(), path.task_id, caller(), body.data)
    metrics.TASKS_COMPLETED.labels(done.bpmn_id, "api").inc()
    return respond(_task(done))
