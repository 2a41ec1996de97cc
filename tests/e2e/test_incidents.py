"""Repairing incidents from the web: an enhancement whose work plan reached the work list with its finish before its
start is stopped by the work-list step (the handler refuses it: an incident at once). The group's manager sees it,
corrects the dates (validated by the work-plan form's rules, audited before and after) and the request goes on; or
cancels the request, which closes its CRM case as cancelled and tells the customer why. Who sees and who acts."""

from __future__ import annotations

from sqlalchemy import select

from app import engine
from app.services.requests import incidents
from app.store.models import AuditEvent, DefinitionVersion, ProcessInstance, ServiceJob, ServiceRequest
from tests.conftest import day, text_of
from tests.driver import Driver
from tests.web import WebUser

WORK_PLAN = {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
             "planned_start": day(1), "planned_finish": day(17)}


def stopped_at_the_work_list(services, clock) -> tuple[Driver, str, int]:
    """An enhancement (apps group) whose plan dates were swapped before the work-list step ran: an incident."""
    drive = Driver(services, clock)
    number = drive.new("enhancement", provider_group="apps")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    with services.uow() as uow:
        job = uow.session.scalars(select(ServiceJob).where(ServiceJob.status == "pending")).one()
        instance = uow.session.get(ProcessInstance, job.instance_id)
        definition = uow.session.get(DefinitionVersion, instance.definition_version_id)
        state = engine.edit_service_inputs(definition.spec_json, instance.state_json, job.task_uuid,
                                           {"planned_finish": day(-5)}, clock.now())
        instance.state_json = state.state_json
        uow.commit()
        job_id = job.id
    drive.work()
    with services.uow() as uow:
        assert uow.session.get(ServiceJob, job_id).status == "incident"
    return drive, number, job_id


def events(services, kind: str) -> list[dict]:
    with services.uow() as uow:
        return [e.payload for e in uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == kind))]


def test_the_groups_manager_corrects_the_plan_dates_and_the_request_goes_on(services, clock):
    drive, number, job = stopped_at_the_work_list(services, clock)
    maria = WebUser(services, "maria")
    listed = maria.get("/incidents").get_data(as_text=True)
    assert number in listed and "InvalidParams" in listed
    page = maria.get(f"/incidents/{job}").get_data(as_text=True)
    assert "Save and retry" in page and "Cancel the request" in page and day(-5) in page

    reads = {k: str(v) for k, v in incidents.incident(services, maria_identity(services), job).inputs.reads.items()}
    assert reads["planned_finish"] == day(-5) and reads["planned_start"] == day(1)
    refused = maria.post(f"/incidents/{job}/edit", {**reads, "planned_finish": "not a date"})
    assert refused.status_code == 422 and "valid date" in refused.get_data(as_text=True)
    assert events(services, "incident_data_edited") == []

    done = maria.post(f"/incidents/{job}/edit", {**reads, "planned_finish": day(17)})
    assert done.status_code == 302
    [edited] = events(services, "incident_data_edited")
    assert edited["before"] == {"planned_finish": day(-5)} and edited["after"] == {"planned_finish": day(17)}
    drive.work()
    assert drive.open_bpmn_ids(number) == ["fulfil_enhancement_request"]
    assert incidents.list_incidents(services, maria_identity(services)) == []


def maria_identity(services):
    from app.services.admin import auth

    return auth.load_identity(services, "maria")


def test_retry_as_it_is_runs_the_step_again_and_fails_again_with_the_same_data(services, clock):
    drive, number, job = stopped_at_the_work_list(services, clock)
    assert WebUser(services, "adam").post(f"/incidents/{job}/retry").status_code == 302
    drive.work()
    with services.uow() as uow:
        assert uow.session.get(ServiceJob, job).status == "incident"  # the data is still wrong
    assert [e["action"] for e in events(services, "incident_resolved")] == ["retry"]


def test_cancelling_ends_the_request_tells_the_customer_and_needs_a_reason(services, clock, mailbox):
    drive, number, job = stopped_at_the_work_list(services, clock)
    maria = WebUser(services, "maria")
    assert maria.post(f"/incidents/{job}/cancel", {"reason": "   "}).status_code == 422
    assert maria.post(f"/incidents/{job}/cancel", {"reason": "The agency withdrew the request."}).status_code == 302
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        assert request.status == "cancelled" and request.closed_at is not None
        case_number = request.crm_case_id
        assert uow.session.get(ServiceJob, job).status == "cancelled"
    assert drive.open_bpmn_ids(number) == []
    [cancelled] = events(services, "request_cancelled")
    assert cancelled["reason"] == "The agency withdrew the request."
    drive.work()
    [mail] = mailbox.to("ann@tourism.example")
    assert mail["Subject"] == f"Case {case_number}: Request {number} cancelled"  # the customer's case first
    assert "withdrew" in text_of(mail) and mail.is_multipart()  # text and HTML, from the editable template


def test_only_admins_and_the_groups_managers_act_and_process_owners_only_look(services, clock):
    _, number, job = stopped_at_the_work_list(services, clock)
    olive = WebUser(services, "olive")
    assert olive.get(f"/incidents/{job}").status_code == 200
    assert "Save and retry" not in olive.get(f"/incidents/{job}").get_data(as_text=True)
    for who in ("olive", "pete", "sam", "carla", "audrey"):
        assert WebUser(services, who).post(f"/incidents/{job}/retry").status_code in (403, 404), who
        assert WebUser(services, who).post(f"/incidents/{job}/cancel", {"reason": "x"}).status_code in (403, 404)
    for who in ("pete", "sam", "carla"):
        assert WebUser(services, who).get(f"/incidents/{job}").status_code == 404, who
        assert number not in WebUser(services, who).get("/incidents").get_data(as_text=True)
    assert events(services, "incident_resolved") == [] and events(services, "request_cancelled") == []


def test_the_request_page_and_the_schedule_link_to_the_incident(services, clock):
    _, number, job = stopped_at_the_work_list(services, clock)
    maria = WebUser(services, "maria")
    assert f'/incidents/{job}"' in maria.get(f"/requests/{number}").get_data(as_text=True)
    schedule = maria.get("/schedule").get_data(as_text=True)
    assert f'/incidents/{job}"' in schedule and "incident at update_work_list" in schedule


def test_what_names_the_request_is_shown_but_never_edited(services, clock):
    _, number, job = stopped_at_the_work_list(services, clock)
    maria = maria_identity(services)
    detail = incidents.incident(services, maria, job)
    assert detail.inputs.reads["request_number"] == number
    assert "request_number" not in detail.edit_schema["properties"]
    assert "provider_group" not in detail.edit_schema["properties"]
    try:
        incidents.edit_and_retry(services, maria, job, {"request_number": "RF-999999"})
    except incidents.InvalidData as err:
        assert "request_number" in str(err) or any("request_number" in e.message for e in err.errors)
    else:
        raise AssertionError("an identifier was edited")
    assert events(services, "incident_data_edited") == []


def test_a_failed_timer_pass_is_an_incident_that_can_be_retried_or_cancelled_but_has_no_data_to_edit(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    with services.uow() as uow:
        instance = uow.session.scalars(select(ProcessInstance)).one()
        uow.session.add(ServiceJob(instance_id=instance.id, request_id=instance.request_id,
                                   task_uuid=f"timer:{instance.id}", bpmn_id="timer", operator="engine.timer",
                                   status="incident", attempts=3, last_error="RuntimeError: timer failed",
                                   next_attempt_at=clock.now(), created_at=clock.now(), updated_at=clock.now()))
        uow.commit()
        job = uow.session.scalars(select(ServiceJob.id).where(ServiceJob.operator == "engine.timer")).one()
    maria = WebUser(services, "maria")
    page = maria.get(f"/incidents/{job}")
    assert page.status_code == 200 and "Timers of this request" in page.get_data(as_text=True)
    assert "Save and retry" not in page.get_data(as_text=True) and "Retry as it is" in page.get_data(as_text=True)
    assert maria.post(f"/incidents/{job}/retry").status_code == 302
    assert number
