"""Every state the bundled Request Fulfillment processes can rest in, each built as one request through the services.

A path is a request (its intake data) and the answers its staff give; `rest_at` drives a new request along a path
until it rests at a target element (a user task, a service task waiting for the worker, the service-live timer, a
service task in an incident, or closed). Service jobs run one request at a time (`worker.run_job`), so requests
resting at a service task in the same database stay there. `finish` drives a request on to its end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.services import job_failures, worker
from app.store.models import CrmCase, ServiceJob, ServiceRequest
from tests.conftest import day
from tests.driver import Driver

RENAMED = {"assistance_request.bpmn": "fulfil_assistance_request", "enhancement_request.bpmn": "update_work_list"}
CLOSED = "closed"
TIMER = "wait_until_service_live"
WORK_PLAN = {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
             "planned_start": day(1), "planned_finish": day(17)}
FULFILMENT = {"fulfilment_notes": "Report built and deployed to staging", "hours_spent": 6}
RESOLVED = {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved", "time_spent_hours": 1.5}
CHARGEABLE = {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"}

# bpmn id -> who answers it, and the answers in the order the path meets the task
Answers = dict[str, tuple[str, list[dict[str, Any]]]]
ENHANCEMENT: Answers = {
    "draw_up_work_plan": ("pete", [WORK_PLAN]),
    "fulfil_enhancement_request": ("pete", [FULFILMENT, {**FULFILMENT, "fulfilment_notes": "Fixed totals"}]),
    "test_solution": ("pete", [{"test_result": "fail", "test_notes": "Totals are wrong"},
                               {"test_result": "pass", "test_notes": "Totals match"}]),
    "determine_chargeability": ("pete", [CHARGEABLE]),
    "initiate_billing": ("carla", [{"billing_notes": "Bill Q1", "service_live_date": day(0)}]),
    "notify_customer_of_fulfilment": ("carla", [{"customer_message": "Your report is live."}]),
}


@dataclass(frozen=True)
class Path:
    name: str
    request_type: str
    answers: Answers
    request: dict[str, Any] = field(default_factory=dict)


ASSISTANCE = Path("assistance, waiting on the customer once", "assistance", {
    "assign_specialist": ("maria", [{"specialist": "sam"}]),
    "fulfil_assistance_request": ("sam", [{**RESOLVED, "resolution_code": "awaiting_customer",
                                           "resolution_notes": "Which office needs the VPN?"}, RESOLVED]),
    "await_customer_reply": ("sam", [{"customer_reply": "The field office in Tulsa"}]),
})
CHARGEABLE_ENHANCEMENT = Path("chargeable enhancement with a failed test", "enhancement", ENHANCEMENT,
                              {"provider_group": "apps"})
LIVE_LATER = Path("chargeable enhancement going live later", "enhancement", {
    **ENHANCEMENT, "initiate_billing": ("carla", [{"billing_notes": "Bill Q2", "service_live_date": day(30)}])},
    {"provider_group": "apps"})
NOT_CHARGEABLE = Path("enhancement that is not chargeable", "enhancement", {
    **ENHANCEMENT, "test_solution": ("pete", [{"test_result": "pass", "test_notes": "All green"}]),
    "determine_chargeability": ("pete", [{"chargeable": False}])})
DISCOVERY_NEW = Path("non-routine request for a new service", "enhancement", {
    **ENHANCEMENT,
    "document_customer_need": ("carla", [{"need_summary": "SFTP drop for vendors", "customer_is_current": True,
                                          "new_service": True}]),
    "prepare_proposal": ("pete", [{"proposal_summary": "Managed SFTP", "estimated_cost": 4200,
                                   "po_number": "PO-2026-0042"}]),
    "wait_on_schedule": ("pete", [{}])}, {"routine": False})  # pete pulls it from the schedule
DISCOVERY_EXISTING = Path("non-routine request for an existing service", "enhancement", {
    **DISCOVERY_NEW.answers,
    "document_customer_need": ("carla", [{"need_summary": "More SFTP space", "customer_is_current": True,
                                          "new_service": False}])}, {"routine": False})


@dataclass(frozen=True)
class State:
    """A request of `path` resting at `target` (its `occurrence`th visit); `incident` makes that service task fail."""

    path: Path
    target: str
    occurrence: int = 1
    incident: str = ""  # "" | "bad plan dates" | "crm case gone"

    @property
    def label(self) -> str:
        at = f"{self.target} #{self.occurrence}" if self.occurrence > 1 else self.target
        return f"{self.path.name}: {'incident at ' if self.incident else ''}{at}"


STATES = [
    *[State(ASSISTANCE, target) for target in (
        "take_crm_case", "assign_specialist", "fulfil_assistance_request", "ask_customer", "await_customer_reply")],
    State(ASSISTANCE, "fulfil_assistance_request", 2),
    *[State(ASSISTANCE, target) for target in ("close_crm_case", "notify_assistance_customer", CLOSED)],
    State(ASSISTANCE, "take_crm_case", incident="crm case gone"),
    *[State(CHARGEABLE_ENHANCEMENT, target) for target in (
        "draw_up_work_plan", "update_work_list", "fulfil_enhancement_request", "test_solution")],
    State(CHARGEABLE_ENHANCEMENT, "fulfil_enhancement_request", 2),
    State(CHARGEABLE_ENHANCEMENT, "test_solution", 2),
    *[State(CHARGEABLE_ENHANCEMENT, target) for target in (
        "determine_chargeability", "create_billing_case", "initiate_billing", "request_asd_update",
        "notify_customer_of_fulfilment", "send_fulfilment_notice", CLOSED)],
    State(CHARGEABLE_ENHANCEMENT, "update_work_list", incident="bad plan dates"),
    State(LIVE_LATER, TIMER),
    *[State(NOT_CHARGEABLE, target) for target in ("notify_customer_of_fulfilment", CLOSED)],
    *[State(DISCOVERY_NEW, target) for target in (
        "document_customer_need", "prepare_proposal", "attach_proposal_to_crm_case", "start_asd_service",
        "wait_on_schedule", "draw_up_work_plan")],
    State(DISCOVERY_EXISTING, "attach_proposal_to_crm_case"),
    State(DISCOVERY_EXISTING, "draw_up_work_plan"),
]


def bundled() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (PROJECT_ROOT / "bpmn").glob("*.bpmn")}


def laid_out_anew(files: dict[str, bytes]) -> dict[str, bytes]:
    """A harmless change: the enhancement diagram's pool is drawn wider and each process's documentation reworded
    (new content, so a new version; no task of any process changes)."""
    changed = {}
    for name, data in files.items():
        text = re.sub(r'(<dc:Bounds x="\d+" y="\d+" width=")(\d+)', lambda m: f"{m[1]}{int(m[2]) + 10}",
                      data.decode(), count=1)
        text, count = re.subn(r"(<bpmn:process [^>]*>\s*<bpmn:documentation>)", r"\1Revised layout. ", text, count=1)
        assert count == 1, name
        changed[name] = text.encode()
    return changed


def with_renamed_tasks(files: dict[str, bytes]) -> dict[str, bytes]:
    """A change that matters: the specialist's fulfilment task and the work-list service task are renamed."""
    changed = dict(files)
    for name, bpmn_id in RENAMED.items():
        text, count = re.subn(rf'(<bpmn:\w+ id="{bpmn_id}" name=")([^"]*)"', r'\1\2 (revised)"',
                              changed[name].decode())
        assert count == 1, bpmn_id
        changed[name] = text.encode()
    return changed


def open_jobs(drive: Driver, number: str) -> list[ServiceJob]:
    with drive.services.uow() as uow:
        found = list(uow.session.scalars(select(ServiceJob).join(
            ServiceRequest, ServiceRequest.id == ServiceJob.request_id).where(
            ServiceRequest.number == number, ServiceJob.status.in_(("pending", "incident"))).order_by(ServiceJob.id)))
        uow.session.expunge_all()
        return found


@contextmanager
def _failing(drive: Driver, incident: str, number: str) -> Iterator[None]:
    """Make the next service task of the request fail the way the issue's reports did."""
    if incident == "crm case gone":  # the CRM case vanished: the handler refuses its parameters
        with drive.services.uow() as uow:
            case = uow.session.scalars(select(CrmCase).where(CrmCase.request_number == number)).one()
            case.case_number = f"GONE-{number}"
            uow.commit()
        yield
        return
    handlers = drive.services.handlers
    real = handlers["worklist.update_entry"]

    def finish_before_start(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        # a plan recorded with its planned finish before its planned start, as the form once accepted
        return real({**params, "planned_start": day(17), "planned_finish": day(1)}, ctx)

    handlers["worklist.update_entry"] = finish_before_start
    try:
        yield
    finally:
        handlers["worklist.update_entry"] = real


class Walker:
    """Drives one request along its path, one step at a time."""

    def __init__(self, drive: Driver, path: Path, number: str) -> None:
        self.drive, self.path, self.number = drive, path, number
        self.answered: dict[str, int] = {}
        self.visits: dict[str, int] = {}
        self._last: list[str] = []

    def at(self) -> list[str]:
        """Where the request rests now: its open human tasks, service jobs, the waiting timer, or closed."""
        shown = self.drive.show(self.number)
        if shown["status"] == "closed":
            return [CLOSED]
        here = [t["bpmn_id"] for t in shown["open_tasks"]] + [j["bpmn_id"] for j in shown["pending_services"]]
        return here or ([TIMER] if shown["instance"]["next_timer_at"] else [])

    def step(self, on_job: Callable[[], Any] | None = None) -> None:
        shown = self.drive.show(self.number)
        if shown["open_tasks"]:
            bpmn_id = shown["open_tasks"][0]["bpmn_id"]
            user, answers = self.path.answers[bpmn_id]
            index = min(self.answered.get(bpmn_id, 0), len(answers) - 1)
            self.answered[bpmn_id] = self.answered.get(bpmn_id, 0) + 1
            self.drive.complete(self.number, bpmn_id, user, answers[index])
        elif jobs := open_jobs(self.drive, self.number):
            assert jobs[0].status == "pending", f"{self.number} has an incident at {jobs[0].bpmn_id}"
            outcome = worker.run_job(self.drive.services, jobs[0].id, self.drive.clock.now())
            assert outcome in ("done", "incident"), (outcome, jobs[0].bpmn_id)
        elif due := shown["instance"]["next_timer_at"]:
            when = datetime.fromisoformat(due)
            if when > self.drive.clock.now():  # waits for a later day: the clock moves on to it
                self.drive.clock.set(when + timedelta(minutes=1))
            worker.fire_timers(self.drive.services, self.drive.clock.now())
            assert self.at() != [TIMER], f"{self.number}'s timer did not fire"
        else:
            raise AssertionError(f"{self.number} rests nowhere: {shown}")

    def until(self, target: str, occurrence: int = 1, incident: str = "") -> None:
        for _ in range(60):
            here = self.at()
            for bpmn_id in set(here) - set(self._last):
                self.visits[bpmn_id] = self.visits.get(bpmn_id, 0) + 1
            self._last = here
            if target in here and self.visits[target] >= occurrence:
                if incident:
                    with _failing(self.drive, incident, self.number):
                        self.step()
                    [job] = open_jobs(self.drive, self.number)
                    assert job.status == "incident", job.last_error
                return
            assert CLOSED not in here, f"{self.number} closed before reaching {target}"
            self.step()
        raise AssertionError(f"{self.number} never reached {target}")

    def repair(self) -> None:
        """Resolve an incident the way an operator would: put back what failed, then retry the job."""
        with self.drive.services.uow() as uow:
            case = uow.session.scalars(select(CrmCase).where(CrmCase.request_number == self.number)).one_or_none()
            if case is not None and case.case_number.startswith("GONE-"):
                case.case_number = uow.session.scalars(select(ServiceRequest.crm_case_id).where(
                    ServiceRequest.number == self.number)).one()
                uow.commit()
        for job in open_jobs(self.drive, self.number):
            if job.status == "incident":
                job_failures.retry_incident(self.drive.services, job.id, "adam")

    def finish(self) -> None:
        self.until(CLOSED)


def rest_at(drive: Driver, state: State) -> Walker:
    number = drive.new(state.path.request_type, title=state.label[:120], **state.path.request)
    walker = Walker(drive, state.path, number)
    walker.until(state.target, state.occurrence, state.incident)
    return walker
