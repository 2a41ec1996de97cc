"""The timeline writes the instants inside an event's payload (a service's result, a form's data) as people read
them, in the reader's zone; a date alone stays a date."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from app.services.audit import timeline
from app.store.models import AuditEvent


def summary(event_type: str, payload: dict, where: ZoneInfo | None = None) -> str:
    event = AuditEvent(event_type=event_type, actor="worker", payload=payload)
    return timeline.describe(event, {"close_crm_case": "Update and close CRM case"}, {}, {}, where)[0]


def test_a_service_result_instant_is_written_in_the_readers_zone():
    result = {"case_id": "CRM-000004", "status": "closed", "closed_at": "2026-12-01T15:00:10.382920+00:00"}
    payload = {"bpmn_id": "close_crm_case", "operator": "crm.close_case", "result": result}
    assert summary("service_called", payload) == (
        "“Update and close CRM case” ran (crm.close_case): case_id: CRM-000004; status: closed; "
        "closed_at: Tue 1 Dec 2026, 09:00 CST")
    assert summary("service_called", payload, ZoneInfo("Europe/Berlin")).endswith("Tue 1 Dec 2026, 16:00 CET")


def test_form_data_keeps_its_dates_and_writes_its_instants_locally():
    data = {"planned_start": "2026-12-15", "reached_at": "2026-12-01T15:00:00Z", "note": "at 2026-12-01T15:00"}
    text = summary("task_completed", {"name": "Draw up work plan", "data": data})
    assert text == ("“Draw up work plan” completed: planned_start: 2026-12-15; reached_at: Tue 1 Dec 2026, 09:00 CST; "
                    "note: at 2026-12-01T15:00")  # only a value that is an instant, not words that contain one
