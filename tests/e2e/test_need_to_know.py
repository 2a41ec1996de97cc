"""Need-to-know reading, as a matrix: every demo user (plus one with no role and one who belongs to one group only)
× a request of each provider group × every page and endpoint that shows a request → 200 for the members of the
request's provider group, process owners, auditors and administrators; 404, exactly as for a request that does not
exist, for everyone else. The dashboard lists only readable requests. The `rf` command line reads every request."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.domain.permissions import Identity, may_read_request
from app.services.admin import auth
from app.services.admin import users as user_admin
from app.services.admin.setup import DEMO_USERS
from app.store.models import AuditEvent, ServiceRequest
from tests.driver import Driver
from tests.web import WebUser

NO_ROLE, ONE_GROUP = "nora", "gina"  # a signed-in user with no role; a Specialist of the apps group only
USERS = [username for username, _, _ in DEMO_USERS] + [NO_ROLE, ONE_GROUP]
# who reads a request of each provider group, written out by hand from the rule (not computed from it)
READERS = {
    "network": {"maria", "sam", "sara", "pete", "carla", "olive", "audrey", "adam"},
    "apps": {"maria", "pete", "carla", "olive", "audrey", "adam", ONE_GROUP},
}
AUDIT_READERS = {"olive", "audrey", "adam"}  # the /audit page and its downloads are theirs (403 for the others)


def pages(number: str, request_id: int) -> list[tuple[str, str]]:
    """(method, path) of every page and endpoint that shows this one request."""
    return [("GET", f"/requests/{number}"), ("GET", f"/requests/{request_id}"), ("GET", f"/api/requests/{number}"),
            ("GET", f"/api/requests/{request_id}"), ("GET", f"/api/requests/{number}/diagrams"),
            ("GET", f"/api/requests/{number}/diagrams?step=1"), ("GET", f"/requests/{number}/history"),
            ("GET", f"/requests/{number}/history?step=2"), ("POST", f"/requests/{number}/replay")]


def audit_pages(number: str) -> list[str]:
    return [f"/audit?request={number}", f"/audit/export/csv?request={number}", f"/audit/export/xes?request={number}"]


def call(web: WebUser, method: str, path: str) -> Any:
    return web.post(path) if method == "POST" else web.get(path)


def add_users(services) -> None:
    admin = auth.load_identity(services, "adam")
    for username, name in ((NO_ROLE, "Nora Noroles"), (ONE_GROUP, "Gina Apps")):
        user_admin.create_user(services, admin, {"username": username, "full_name": name, "password": "long-enough-1",
                                                 "email": f"{username}@omes.example"})
    user_admin.grant(services, admin, ONE_GROUP, "specialist", "apps")


@pytest.fixture
def one_request_per_group(services, clock) -> dict[str, tuple[str, int]]:
    """group -> (number, id) of a request of that provider group that has some history (the worker ran)."""
    add_users(services)
    drive = Driver(services, clock)
    numbers = {group: drive.new("assistance", provider_group=group, title=f"Secret of {group}") for group in READERS}
    drive.work()
    with services.uow() as uow:
        ids = {number: request_id for number, request_id in uow.session.execute(
            select(ServiceRequest.number, ServiceRequest.id))}
    return {group: (number, ids[number]) for group, number in numbers.items()}


def login(services, username: str) -> WebUser:
    return WebUser(services, username, "demo" if username not in (NO_ROLE, ONE_GROUP) else "long-enough-1")


def test_every_user_reads_exactly_the_requests_of_their_groups_on_every_page_and_endpoint(
        services, one_request_per_group):
    checked = 0
    for username in USERS:
        web = login(services, username)
        for group, (number, request_id) in one_request_per_group.items():
            reads = username in READERS[group]
            for method, path in pages(number, request_id):
                response = call(web, method, path)
                assert response.status_code == (200 if reads else 404), (username, method, path, response.status)
                body = response.get_data(as_text=True)
                if reads:  # the request itself, or its diagrams (which name no request)
                    shows = f"Secret of {group}" if "/diagrams" not in path else '"completed"'
                    assert shows in body, (username, path)
                else:  # exactly what a request that does not exist answers: nothing about this one leaks
                    ref = path.split("/")[3 if path.startswith("/api/") else 2].split("?")[0]
                    assert f"no request {ref}" in body and "Secret of" not in body and "ann@" not in body, body
                checked += 1
            for path in audit_pages(number):
                response = web.get(path)
                expected = 200 if username in AUDIT_READERS else 403  # the auditors' page: the same for any request
                assert response.status_code == expected, (username, path, response.status)
                checked += 1
    assert checked == len(USERS) * len(READERS) * (len(pages("x", 1)) + len(audit_pages("x")))


def test_the_dashboard_lists_and_counts_only_the_requests_a_user_may_read(services, one_request_per_group):
    for username in USERS:
        board = login(services, username).get("/")
        assert board.status_code == 200
        html = board.get_data(as_text=True)
        for group, (number, _) in one_request_per_group.items():
            assert (number in html) == (username in READERS[group]), (username, number)
            assert (f"Secret of {group}" in html) == (username in READERS[group]), (username, group)


def test_the_rule_matches_the_matrix_for_every_user_and_group(services, one_request_per_group):
    """The one definition (`may_read_request`) says what the pages enforce; an identity with no grants reads nothing."""
    for username in USERS:
        identity = auth.load_identity(services, username)
        for group in READERS:
            assert may_read_request(identity, group) == (username in READERS[group]), (username, group)
    assert not may_read_request(Identity("x", "X", "x@x", frozenset()), "network")


def test_an_auditors_looks_stay_logged_and_a_refused_look_logs_nothing(services, one_request_per_group):
    number, _ = one_request_per_group["apps"]
    for username in ("audrey", "sam", NO_ROLE):
        web = login(services, username)
        web.get(f"/requests/{number}")
        web.get(f"/requests/{number}/history")
        web.get(f"/api/requests/{number}")
    with services.uow() as uow:
        views = [(e.actor, e.payload["view"]) for e in uow.session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "auditor_viewed").order_by(AuditEvent.seq))]
    assert views == [("audrey", "request_page"), ("audrey", "history"), ("audrey", "request_json")]


def test_a_task_of_a_request_someone_may_not_read_does_not_exist_for_them(services, one_request_per_group):
    number, _ = one_request_per_group["apps"]
    task = Driver(services, None).open_task(number, "assign_specialist")  # type: ignore[arg-type]
    assert login(services, "maria").get(f"/tasks/{task.task_uuid}").status_code == 200  # the group's manager
    assert login(services, "audrey").get(f"/tasks/{task.task_uuid}").status_code == 403  # reads, may not work it
    for outsider in ("sam", NO_ROLE):
        page = login(services, outsider).get(f"/tasks/{task.task_uuid}")
        assert page.status_code == 404 and f"no task {task.task_uuid}" in page.get_data(as_text=True)


def test_the_command_line_is_the_operators_tool_and_reads_every_request(rf, services, one_request_per_group):
    for number, _ in one_request_per_group.values():
        assert rf.show(number)["number"] == number
        assert rf("replay", number).exit_code == 0
        assert rf("export", "--format", "csv", "--request", number).exit_code == 0


def test_the_list_filter_and_the_one_request_check_agree_for_every_user(services, one_request_per_group):
    """The SQL filter lists use (`queries.readable`) and `may_read_request` come from the same definition."""
    from dataclasses import replace

    from app.services.requests.queries import readable

    identities = [auth.load_identity(services, username) for username in USERS]
    with services.uow() as uow:
        requests = list(uow.session.scalars(select(ServiceRequest)))
        for identity in identities:
            for who in (identity, replace(identity, grants=frozenset())):
                by_sql = set(uow.session.scalars(select(ServiceRequest.number).where(*readable(who))))
                by_python = {r.number for r in requests if may_read_request(who, r.provider_group.code)}
                assert by_sql == by_python, who.username
