"""Requests through /api/v1: create (validated by the request schema, field errors as problem+json, Idempotency-Key),
find (search, filters, cursor paging, need-to-know), read (open tasks, path, timeline)."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.store.models import AuditEvent, ServiceRequest
from tests.api.client import Api, is_problem
from tests.driver import REQUEST, Driver


def counts(services) -> tuple[int, int]:
    with services.uow() as uow:
        return (int(uow.session.scalar(select(func.count()).select_from(ServiceRequest))),
                int(uow.session.scalar(select(func.count()).select_from(AuditEvent))))


def test_bad_requests_get_field_errors_and_write_nothing(services):
    api = Api(services, "maria")
    specialist = Api(services, "sam", client=api.client)  # logs no requests
    before = counts(services)
    body = is_problem(api.post("/api/v1/requests", {"request_type": "assistance",
                                                    "data": {**REQUEST, "title": "x", "requester_email": "nope"}}), 422)
    assert {e["field"] for e in body["errors"]} == {"title", "requester_email"}, body
    body = is_problem(api.post("/api/v1/requests", {"request_type": "repair", "data": REQUEST}), 422)
    assert body["errors"][0]["field"] == "request_type"
    is_problem(specialist.post("/api/v1/requests", {"request_type": "assistance", "data": REQUEST}), 403)
    is_problem(api.post("/api/v1/requests", {"request_type": "assistance", "data": {**REQUEST, "title": "a\nb"}}), 422)
    deep = '{"request_type": "assistance", "data": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    assert "nested more than 64" in is_problem(api.client.post(
        "/api/v1/requests", data=deep, content_type="application/json", headers=api.headers()), 422)["detail"]
    assert "not valid JSON" in is_problem(api.client.post(
        "/api/v1/requests", data='{"request_type": ', content_type="application/json", headers=api.headers()),
        400)["detail"]
    is_problem(api.client.post("/api/v1/requests", data="request_type=assistance", headers=api.headers(),
                               content_type="application/x-www-form-urlencoded"), 422)
    assert counts(services) == before


def test_idempotency_key_gives_the_first_answer_again_and_acts_once(services):
    api = Api(services, "maria")
    body = {"request_type": "assistance", "data": REQUEST}
    first = api.post("/api/v1/requests", body, headers={"Idempotency-Key": "order-42"})
    assert first.status_code == 201
    after_first = counts(services)
    again = api.post("/api/v1/requests", body, headers={"Idempotency-Key": "order-42"})
    assert (again.status_code, again.get_json(), again.headers["Idempotent-Replayed"]) == (201, first.get_json(),
                                                                                             "true")
    assert counts(services) == after_first
    other = {"request_type": "assistance", "data": {**REQUEST, "title": "Another thing"}}
    assert is_problem(api.post("/api/v1/requests", other, headers={"Idempotency-Key": "order-42"}),
                      422)["errors"][0]["field"] == "Idempotency-Key"
    # a refusal is an answer too: the same key gets the same 4xx, without acting
    refused = api.post("/api/v1/requests", {"request_type": "assistance", "data": {**REQUEST, "title": "x"}},
                       headers={"Idempotency-Key": "bad-one"})
    assert refused.status_code == 422
    assert api.post("/api/v1/requests", {"request_type": "assistance", "data": {**REQUEST, "title": "x"}},
                    headers={"Idempotency-Key": "bad-one"}).get_json() == refused.get_json()
    # keys belong to their caller: another token's same key is a new request
    assert Api(services, "maria", name="other").post("/api/v1/requests", body,
                                                      headers={"Idempotency-Key": "order-42"}).status_code == 201
    assert counts(services)[0] == after_first[0] + 1
    is_problem(api.post("/api/v1/requests", body, headers={"Idempotency-Key": "k" * 300}), 422)


def test_search_filters_and_cursor_pages_show_only_readable_requests(services, clock):
    drive = Driver(services, clock)
    network = [drive.new("assistance", title=f"VPN profile {i}") for i in range(5)]
    apps = drive.new("enhancement", provider_group="apps", title="Payroll report", agency="Office of Payroll")
    api = Api(services, "adam")
    found = api.get("/api/v1/requests?q=payroll").get_json()
    assert [r["number"] for r in found["items"]] == [apps] and found["next_cursor"] is None
    assert [r["number"] for r in api.get("/api/v1/requests?type=enhancement").get_json()["items"]] == [apps]
    assert api.get("/api/v1/requests?q=100%25_").get_json()["items"] == []  # LIKE wildcards are literal
    pages, cursor = [], ""
    while True:
        page = api.get(f"/api/v1/requests?group=network&limit=2{cursor}").get_json()
        pages.append([r["number"] for r in page["items"]])
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert pages == [network[::-1][0:2], network[::-1][2:4], network[::-1][4:]]
    sam = Api(services, "sam")  # a network specialist: apps requests do not exist for him
    assert apps not in json.dumps(sam.get("/api/v1/requests?limit=200").get_json())
    assert is_problem(sam.get(f"/api/v1/requests/{apps}"), 404)["detail"] == f"no request {apps}"
    is_problem(api.get("/api/v1/requests?limit=0"), 422)
    is_problem(api.get("/api/v1/requests?cursor=abc"), 422)
    is_problem(api.get("/api/v1/requests?created_from=yesterday"), 422)


def test_read_a_request_with_its_open_tasks_path_and_timeline(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    shown = Api(services, "maria").get(f"/api/v1/requests/{number}")
    assert shown.status_code == 200
    body = shown.get_json()
    assert [t["bpmn_id"] for t in body["open_tasks"]] == ["assign_specialist"]
    assert body["path"][:4] == ["request_received", "request_type_gateway", "assistance_started", "take_crm_case"]
    assert [e["event_type"] for e in body["timeline"]][:1] == ["instance_started"]
    assert body["number"] == number and body["status"] == "open"


def test_a_query_parameter_given_twice_or_unknown_is_refused_not_ignored(services):
    """Regression (Schemathesis, negative_data_rejection): `?group=a&group=b` on a one-value parameter answered 200,
    read as `group=a`, and a parameter the operation does not have (`?grup=apps`, `?=false`) was ignored; both are
    a 422 problem naming the parameter, on every operation."""
    api = Api(services, "maria")
    assert api.get("/api/v1/requests?group=network&limit=5").status_code == 200
    body = is_problem(api.get("/api/v1/requests?group=network&group=apps&limit=5&limit=6"), 422)
    assert [e["field"] for e in body["errors"]] == ["group", "limit"], body
    assert "2 times" in body["errors"][0]["message"]
    body = is_problem(api.get("/api/v1/requests?grup=apps"), 422)
    assert body["errors"] == [{"field": "grup", "message": "not a parameter of this operation"}], body
    is_problem(Api(services, "adam").get("/api/v1/reports/aging?type=assistance&type=enhancement"), 422)
    is_problem(Api(services, "adam").get("/api/v1/reports/fulfilment?=false"), 422)
    is_problem(Api(services, "olive").get("/api/v1/processes/request_fulfillment/versions/1/bpmn?=false"), 422)
    is_problem(Api(services, "audrey").get("/api/v1/audit/events?page=1&page=2"), 422)
    is_problem(api.get("/api/v1/incidents?all=1"), 422)  # an operation without a query takes none


def test_a_nul_character_in_a_parameter_is_a_422_not_a_database_error(services):
    """Regression (Schemathesis on PostgreSQL, not_a_server_error): a NUL character in a path or query parameter that
    reaches a query (`?q=a%00b`, `/requests/RF%00`, `/tasks/…%00`, the audit filters) was a 500, PostgreSQL refusing
    it in a string; it is a 422 problem naming the parameter, on both backends."""
    maria, audrey = Api(services, "maria"), Api(services, "audrey")
    for path in ("/api/v1/requests?q=a%00b", "/api/v1/requests?group=net%00work", "/api/v1/tasks?group=a%00",
                 "/api/v1/audit/events?actor=a%00", "/api/v1/audit/events?version=a%00:1",
                 "/api/v1/audit/export.csv?request=RF%00"):
        caller = audrey if "/audit/" in path else maria
        body = is_problem(caller.get(path), 422)
        assert body["errors"][0]["message"] == "must not contain a NUL character", (path, body)
    body = is_problem(maria.get("/api/v1/requests/RF%00"), 422)
    assert body["errors"] == [{"field": "ref", "message": "must not contain a NUL character"}], body
    is_problem(maria.get("/api/v1/tasks/ab%00cd"), 422)
