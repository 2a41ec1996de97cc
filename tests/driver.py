"""Drives requests through the services the way staff and the worker would (each call loads and saves)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.bootstrap import Services
from app.clock import FixedClock
from app.domain.permissions import OPERATOR
from app.services import worker
from app.services.admin import auth
from app.services.requests import intake, queries, schedule_queue
from app.services.tasks import actions as tasks
from app.store.models import TaskRow

REQUEST = {
    "title": "VPN access for the field office",
    "agency": "Oklahoma Department of Tourism",
    "requester_name": "Ann Agency",
    "requester_email": "ann@tourism.example",
    "provider_group": "network",
    "priority": "high",
}


SCHEDULE_WAIT = "wait_on_schedule"  # after Discovery (bpmn/request_fulfillment.bpmn): a pull completes it


class Driver:
    def __init__(self, services: Services, clock: FixedClock) -> None:
        self.services = services
        self.clock = clock

    def new(self, request_type: str, **overrides: Any) -> str:
        request = intake.new_request(self.services, request_type, {**REQUEST, **overrides}, "ann.logger")
        assert request.number
        return request.number

    def open_task(self, number: str, bpmn_id: str) -> TaskRow:
        with self.services.uow() as uow:
            rows = list(uow.session.scalars(select(TaskRow).where(
                TaskRow.request_number == number, TaskRow.bpmn_id == bpmn_id, TaskRow.status == "open")))
            uow.session.expunge_all()
        assert len(rows) == 1, f"expected one open {bpmn_id} on {number}, got {len(rows)}: {self.show(number)}"
        return rows[0]

    def complete(self, number: str, bpmn_id: str, user: str, data: dict[str, Any]) -> None:
        if bpmn_id == SCHEDULE_WAIT:  # nobody's inbox work: pulling the request from the schedule completes it
            self.open_task(number, bpmn_id)
            self.pull(number, user)
            return
        tasks.complete(self.services, self.open_task(number, bpmn_id).task_uuid, user, data)

    def pull(self, number: str, user: str) -> schedule_queue.Pulled:
        return schedule_queue.pull(self.services, auth.load_identity(self.services, user), number)

    def work(self) -> worker.WorkerPass:
        return worker.run_once(self.services, now=self.clock.now())

    def show(self, number: str) -> dict[str, Any]:
        return queries.show_request(self.services, number, reader=OPERATOR)

    def open_bpmn_ids(self, number: str) -> list[str]:
        return sorted(t["bpmn_id"] for t in self.show(number)["open_tasks"])
