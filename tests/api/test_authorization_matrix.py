"""Who may call what, as a matrix: every operation the OpenAPI document lists × every principal, against the real
`rf serve` (tests/api/conftest.py's `api_server`, SQLite and PostgreSQL).

Principals: every demo user and `nora` (no role) and `gina` (Specialist of apps only), each with a bearer token; and
no credentials, a revoked token and an expired token (all three: 401 problem+json with `WWW-Authenticate: Bearer`).

Each operation is called with a plausible request (`OPERATIONS`: a body and the kind of row each path parameter
names; path parameters are real ids of seeded or freshly made rows). Who may succeed is written out BY HAND in
`OPERATIONS` from the rules of app/domain/permissions.py (as tests/e2e/test_need_to_know.py does for the pages),
not computed from them. Then:

* a user in the allowed set gets a 2xx (so the example really is plausible and the refusals below mean something);
* anyone else gets a refusal (403, 404, or 409 when the row's state forbids it anyway), as problem+json, never a
  2xx, and the audit log does not grow: a refused call changes nothing;
* no answer is a 5xx.

A write that succeeded changes its row, so the next principal gets a fresh row of the same kind (a refused call
leaves it as it was: that is what the audit count checks).

An operation the table does not know FAILS the test, saying exactly what to add: a new endpoint must state who may
call it. Other resources add their entries to `OPERATIONS` (and, for a new kind of path parameter, a maker to
`TARGETS` and its name to `PATH_TARGETS`). A body that must name a fresh row is a function of the server (made
again whenever the path's rows are); an upload (`multipart/form-data`) is given as its files.

The CRM's case feed (`POST /api/v1/crm/cases`) is public: the CRM's signature authenticates it, not a token or a
session (`signed=True`). So for it every principal, a signed-in user's token included, sending an unsigned message
gets a 401 problem+json and nothing changes, and one message signed with the server's shared secret, sent without
any credentials, succeeds (the example is plausible).

Also here: a cookie-session POST needs `X-CSRF-Token` (400 without, 200 with), a bearer-token POST does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.api.conftest import EXPIRED, FULFIL, NO_ROLE, ONE_GROUP, PROCESS, REVOKED, USERS, ApiServer
from tests.conftest import day
from tests.integration.test_migration import changed_bundle

ANONYMOUS = "no credentials"
UNAUTHENTICATED = [ANONYMOUS, REVOKED, EXPIRED]
PROBLEM = "application/problem+json"

EVERYONE = frozenset(USERS)  # every signed-in user, whatever their roles
NETWORK_READERS = frozenset({"maria", "sam", "sara", "pete", "carla", "olive", "audrey", "adam"})  # need-to-know
ADMINS = frozenset({"adam"})  # ADMINISTRATORS
OWNERS = frozenset({"olive", "adam"})  # PROCESS_OWNERS
AUDIT_READERS = frozenset({"audrey", "adam", "olive"})  # AUDIT_READERS
REPORT_READERS = frozenset({"maria", "carla", "audrey", "adam", "olive"})  # REPORT_READERS
APPS_MANAGERS_AND_ADMINS = frozenset({"maria", "adam"})  # may_repair_incidents of an apps request
INCIDENT_READERS = APPS_MANAGERS_AND_ADMINS | {"olive"}  # may_see_incidents / may_list_incidents
MANAGERS = frozenset({"maria"})  # CRM_PULLERS (maria manages network and apps)
NETWORK_MEMBERS_AND_ADMINS = frozenset({"maria", "sam", "sara", "pete", "carla", "adam"})  # may_add_to_request
NETWORK_PLANNERS = frozenset({"maria", "pete"})  # SCHEDULE_PLANNERS of network: its manager and service provider
NEW_REQUEST = {"request_type": "assistance", "data": {
    "title": "Printer queue for the front desk", "agency": "Oklahoma Tax Commission", "requester_name": "Tia Taxes",
    "requester_email": "tia@tax.example", "provider_group": "network", "priority": "medium"}}


CRM_CASE = {"event": "created", "case_id": "SD-MATRIX-1", "subject": "Badge reader offline", "agency": "OMES",
            "requester_name": "Pat Payer", "requester_email": "pat@omes.example", "provider_group": "network"}
ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//api tests//EN\r\nBEGIN:VEVENT\r\nUID:matrix-1@api.tests\r\n"
       b"DTSTAMP:20261201T150000Z\r\nDTSTART;VALUE=DATE:20330309\r\nSUMMARY:Statehood observance\r\n"
       b"END:VEVENT\r\nEND:VCALENDAR\r\n")  # one all-day event on a Wednesday
Body = dict[str, Any] | Callable[[ApiServer], dict[str, Any]] | None
Upload = list[tuple[str, tuple[str, bytes, str]]]  # (field, (file name, content, media type)) for `requests`


def _bundle() -> Upload:
    """The bundle of version 2 (deployed by the fixture): a deploy is identical content (200, `created` false)."""
    return [("files", (name, data, "application/xml")) for name, data in sorted(changed_bundle().items())]


def _note_file() -> Upload:
    return [("file", ("site-visit.txt", b"Site visit: the switch is in room 2.\n", "text/plain"))]


def _ics() -> Upload:
    return [("ics", ("observances.ics", ICS, "text/calendar"))]


@dataclass(frozen=True)
class Rule:
    """Who may call an operation (by hand, from app/domain/permissions.py) and a plausible call of it."""

    allowed: frozenset[str]
    body: Body = None  # JSON; a function of the server when it must name a fresh row
    query: dict[str, str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)  # path parameter -> TARGETS key (default: PATH_TARGETS)
    upload: Callable[[], Upload] | None = None  # a multipart/form-data body instead of JSON
    signed: bool = False  # public, authenticated by the CRM's signature (see the module's docstring)
    why: str = ""


# "METHOD /path as in the OpenAPI document" -> Rule. A new endpoint adds a line here.
OPERATIONS: dict[str, Rule] = {
    "GET /api/v1/requests": Rule(EVERYONE, query={"limit": "5"},
                                 why="anyone signed in lists; the list keeps the requests they may read"),
    "POST /api/v1/requests": Rule(frozenset({"maria", "carla"}), body=NEW_REQUEST,
                                  why="REQUEST_LOGGERS (manager, CAR) of the request's group (network)"),
    "GET /api/v1/requests/{ref}": Rule(NETWORK_READERS,
                                       why="need-to-know: network's members and the all-group readers"),
    # the 60 day schedule (app/services/requests/schedule_queue.py: may_plan_schedule, may_pull_scheduled)
    "POST /api/v1/requests/{ref}/pull": Rule(NETWORK_PLANNERS, targets={"ref": "scheduled_request"},
                                             why="network's service providers in the planned week, its managers"),
    "POST /api/v1/requests/{ref}/plan": Rule(NETWORK_PLANNERS, targets={"ref": "scheduled_request"},
                                             body=lambda server: {"week": day(7)},
                                             why="SCHEDULE_PLANNERS of network (manager, service provider)"),
    "POST /api/v1/requests/{ref}/cancel": Rule(MANAGERS, targets={"ref": "scheduled_request"},
                                               body={"reason": "The agency withdrew it"},
                                               why="may_cancel_scheduled: network's managers"),
    # notes and attachments (app/services/requests/notes.py, attachments.py: may_read_request, may_add_to_request)
    "GET /api/v1/requests/{ref}/notes": Rule(NETWORK_READERS, why="need-to-know, as reading the request"),
    "POST /api/v1/requests/{ref}/notes": Rule(NETWORK_MEMBERS_AND_ADMINS, body={"body": "Called the agency back."},
                                              why="may_add_to_request: network's members (any role) and admins"),
    "GET /api/v1/requests/{ref}/attachments": Rule(NETWORK_READERS, why="need-to-know, as reading the request"),
    "POST /api/v1/requests/{ref}/attachments": Rule(NETWORK_MEMBERS_AND_ADMINS, upload=_note_file,
                                                    why="may_add_to_request: network's members and admins"),
    "GET /api/v1/requests/{ref}/attachments/{attachment_id}": Rule(
        NETWORK_READERS, why="need-to-know, as reading the request (a file of the seeded network request)"),
    # in-app notifications (app/services/notices/inbox.py): each user their own
    "GET /api/v1/notifications": Rule(EVERYONE, why="anyone signed in reads their own (empty for most)"),
    "POST /api/v1/notifications/read": Rule(EVERYONE, why="anyone signed in marks their own read"),
    "POST /api/v1/notifications/{notice_id}/read": Rule(frozenset({"sam"}),
                                                        why="only the notification's user (sam's notice: 404 else)"),
    "GET /api/v1/tasks": Rule(EVERYONE, query={"queue": "groups"},
                              why="anyone signed in has an inbox (empty without group roles)"),
    "GET /api/v1/tasks/{task_id}": Rule(frozenset({"maria", "sam", "sara"}),
                                        why="the lane role (specialist) in network, or network's manager"),
    "POST /api/v1/tasks/{task_id}/claim": Rule(frozenset({"sam", "sara"}), targets={"task_id": "free_specialist_task"},
                                               why="holders of the lane role in network, while it is unassigned"),
    "POST /api/v1/tasks/{task_id}/release": Rule(frozenset({"sam", "maria"}),
                                                 why="the assignee (sam) or a manager of network"),
    "POST /api/v1/tasks/{task_id}/assign": Rule(frozenset({"maria"}), body={"assignee": "sara"},
                                                why="managers of network, to a holder of the lane role"),
    "POST /api/v1/tasks/{task_id}/complete": Rule(frozenset({"sam"}), body={"data": FULFIL},
                                                  why="the lane role in network, and the task is assigned to sam"),
    # business calendar and SLA targets (app/services/admin/calendar.py: _require_admin)
    "GET /api/v1/admin/calendar": Rule(ADMINS, query={"year": "2027"}, why="ADMINISTRATORS"),
    "POST /api/v1/admin/calendar/holidays": Rule(ADMINS, body={"day": "2031-03-04", "name": "Matrix day"},
                                                 why="ADMINISTRATORS (a Tuesday no one made a holiday)"),
    "DELETE /api/v1/admin/calendar/holidays/{holiday_id}": Rule(ADMINS, why="ADMINISTRATORS (a fresh holiday each)"),
    "POST /api/v1/admin/calendar/years": Rule(ADMINS, body={"year": 2040}, why="ADMINISTRATORS, a year not loaded"),
    "POST /api/v1/admin/calendar/import": Rule(ADMINS, upload=_ics,
                                               why="ADMINISTRATORS (again: the date is `already_present`, still 201)"),
    "GET /api/v1/admin/sla-targets": Rule(ADMINS, why="ADMINISTRATORS"),
    "PATCH /api/v1/admin/sla-targets": Rule(ADMINS, body={"targets": [{"request_type": "assistance", "priority": "low",
                                                                       "amount": 6, "unit": "business_days"}]},
                                            why="ADMINISTRATORS"),
    # the audit log (app/services/audit/export.py: require_audit_reader -> may_read_audit)
    "GET /api/v1/audit/events": Rule(AUDIT_READERS, query={"type": "task_completed"}, why="AUDIT_READERS"),
    "GET /api/v1/audit/chain": Rule(AUDIT_READERS, why="AUDIT_READERS"),
    "GET /api/v1/audit/export.csv": Rule(AUDIT_READERS, query={"since": day(-30)}, why="AUDIT_READERS"),
    "GET /api/v1/audit/export.xes": Rule(AUDIT_READERS, query={"since": day(-30)}, why="AUDIT_READERS"),
    # the CRM: the Pending Queue (crm_queue: may_pull_crm) and the CRM's own signed feed
    "GET /api/v1/crm/pending": Rule(MANAGERS, why="CRM_PULLERS: managers of some group"),
    "POST /api/v1/crm/pending/{case}/pull": Rule(MANAGERS, body={"priority": "high"},
                                                 why="CRM_PULLERS of the case's group (network)"),
    "POST /api/v1/crm/cases": Rule(frozenset(), body=CRM_CASE, signed=True,
                                   why="public: authenticated by the CRM's HMAC signature, never by a token"),
    # incidents (app/services/requests/incidents.py) of an apps request
    "GET /api/v1/incidents": Rule(INCIDENT_READERS, why="may_list_incidents: admins, process owners, managers"),
    "GET /api/v1/incidents/{job_id}": Rule(INCIDENT_READERS,
                                           why="may_see_incidents: apps's managers, admins and process owners"),
    "POST /api/v1/incidents/{job_id}/edit-and-retry": Rule(
        APPS_MANAGERS_AND_ADMINS, body={"changes": {"planned_finish": day(17)}},
        why="may_repair_incidents: apps's managers and admins (process owners only see it: 403)"),
    "POST /api/v1/incidents/{job_id}/retry": Rule(APPS_MANAGERS_AND_ADMINS, why="may_repair_incidents"),
    "POST /api/v1/incidents/{job_id}/cancel": Rule(APPS_MANAGERS_AND_ADMINS, body={"reason": "Logged twice"},
                                                   why="may_repair_incidents"),
    # process definitions and instance moves (versions.require_owner, current, instance_moves: PROCESS_OWNERS)
    "GET /api/v1/processes": Rule(OWNERS, why="PROCESS_OWNERS"),
    "POST /api/v1/processes": Rule(OWNERS, upload=_bundle,
                                   why="PROCESS_OWNERS (identical to version 2: 200, nothing deployed)"),
    "POST /api/v1/processes/check": Rule(OWNERS, upload=_bundle, why="PROCESS_OWNERS"),
    "GET /api/v1/processes/{process_id}/versions": Rule(OWNERS, why="PROCESS_OWNERS"),
    "GET /api/v1/processes/{process_id}/versions/{version}": Rule(OWNERS, why="PROCESS_OWNERS"),
    "GET /api/v1/processes/{process_id}/versions/{version}/bpmn": Rule(OWNERS, why="PROCESS_OWNERS"),
    # how a version has run (app/services/definitions/insights.py: process owners or audit readers)
    "GET /api/v1/processes/{process_id}/versions/{version}/insights": Rule(
        AUDIT_READERS, why="PROCESS_OWNERS or may_read_audit"),
    "POST /api/v1/processes/{process_id}/versions/{version}/current": Rule(
        OWNERS, why="PROCESS_OWNERS (version 1 is current already: `changed` false)"),
    "GET /api/v1/processes/{process_id}/versions/{version}/moves": Rule(OWNERS, query={"to": "2"},
                                                                        why="PROCESS_OWNERS"),
    "POST /api/v1/processes/{process_id}/versions/{version}/moves": Rule(
        OWNERS, body=lambda server: {"to_version": 2, "requests": [server.new_request()]},
        why="PROCESS_OWNERS (a fresh request waiting at the unchanged assignment, 1 -> 2)"),
    # reports (app/services/reports/filters.py: may_read_reports)
    "GET /api/v1/reports": Rule(REPORT_READERS, why="REPORT_READERS"),
    "GET /api/v1/reports/{name}": Rule(REPORT_READERS, why="REPORT_READERS (each reads the groups they may)"),
    "GET /api/v1/reports/{name}.csv": Rule(REPORT_READERS, query={"type": "assistance"}, why="REPORT_READERS"),
}

# Rows the path parameters name. Each maker returns a real id; a write that succeeds gets a fresh one next time.
TARGETS: dict[str, Callable[[ApiServer], str]] = {
    "network_request": lambda server: server.numbers["network"],
    "scheduled_request": lambda server: server.target_scheduled_request(),  # waits on network's schedule
    "specialist_task": lambda server: server.target_specialist_task(claimed=True),  # Fulfil, assigned to sam
    "free_specialist_task": lambda server: server.target_specialist_task(claimed=False),  # Fulfil, unassigned
    "holiday": lambda server: str(server.target_holiday()),  # a manual holiday in 2060
    "pending_case": lambda server: server.target_pending_case("network"),  # in the CRM Pending Queue
    "incident": lambda server: str(server.target_incident()),  # an apps enhancement stopped at the work list
    "process": lambda server: PROCESS,
    "first_version": lambda server: "1",  # current; version 2 is newer
    "report": lambda server: "fulfilment",
    "attachment": lambda server: server.target_attachment(),  # a file of the seeded network request
    "own_notice": lambda server: server.target_own_notice(),  # sam's
}
# path parameter name -> default target
PATH_TARGETS = {"ref": "network_request", "task_id": "specialist_task", "holiday_id": "holiday",
                "case": "pending_case", "job_id": "incident", "process_id": "process", "version": "first_version",
                "name": "report", "attachment_id": "attachment", "notice_id": "own_notice"}


def _operations(server: ApiServer) -> list[tuple[str, str, str]]:
    doc = requests.get(f"{server.api}/openapi.json", timeout=10).json()
    return [(method.upper(), path, f"{method.upper()} {path}") for path, item in doc["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")]


def _headers(server: ApiServer, who: str) -> dict[str, str]:
    return {} if who == ANONYMOUS else server.bearer(who)


def _is_problem(response: requests.Response) -> bool:
    body = response.json() if response.headers.get("Content-Type", "").startswith(PROBLEM) else None
    return isinstance(body, dict) and body.get("status") == response.status_code


def test_every_operation_has_a_rule(api_server: ApiServer) -> None:
    listed = {key for _, _, key in _operations(api_server)}
    missing = sorted(listed - set(OPERATIONS))
    assert not missing, "\n".join(
        f"No authorization rule for {key}: add\n    {key!r}: Rule(frozenset({{...who may call it...}}), "
        f"body={{...a plausible body...}}, why=\"...the rule in app/domain/permissions.py...\"),\n"
        f"to OPERATIONS in tests/api/test_authorization_matrix.py" for key in missing)
    stale = sorted(set(OPERATIONS) - listed)
    assert not stale, f"OPERATIONS names operations the API no longer lists: {stale}"
    for _method, path, key in _operations(api_server):
        for name in _path_names(path):
            target = OPERATIONS[key].targets.get(name, PATH_TARGETS.get(name))
            assert target in TARGETS, (f"{key}: no row for path parameter {{{name}}}: add a maker to TARGETS and "
                                       f"{name!r} to PATH_TARGETS (or targets={{{name!r}: ...}} to its Rule)")


def _path_names(path: str) -> list[str]:
    return re.findall(r"\{([^}/]+)\}", path)  # also `{name}.csv`


def _call(server: ApiServer, method: str, url: str, rule: Rule, body: dict[str, Any] | None,
          headers: dict[str, str]) -> requests.Response:
    if rule.upload is not None:
        return requests.request(method, url, headers=headers, params=rule.query, files=rule.upload(), timeout=60)
    if rule.signed:  # the exact bytes a signature would cover
        return requests.request(method, url, headers={**headers, "Content-Type": "application/json"},
                                params=rule.query, data=json.dumps(body).encode(), timeout=30)
    return requests.request(method, url, headers=headers, params=rule.query,
                            json=body if method != "GET" else None, timeout=30)


def _body(rule: Rule, server: ApiServer) -> dict[str, Any] | None:
    return rule.body(server) if callable(rule.body) else rule.body


def test_no_unauthorised_success_on_any_operation(api_server: ApiServer) -> None:
    failures: list[str] = []
    calls = 0
    for method, path, key in _operations(api_server):
        rule = OPERATIONS.get(key)
        if rule is None:
            failures.append(f"{key}: no rule (see test_every_operation_has_a_rule)")
            continue
        names = _path_names(path)
        makers = {name: rule.targets.get(name, PATH_TARGETS.get(name, "")) for name in names}
        if any(maker not in TARGETS for maker in makers.values()):
            failures.append(f"{key}: a path parameter has no target (see test_every_operation_has_a_rule)")
            continue
        values: dict[str, str] = {}
        body: dict[str, Any] | None = None
        fresh = False
        for who in [*USERS, *UNAUTHENTICATED]:
            if not fresh:  # the rows of the path (and the body naming one) for this and the next principals
                values = {name: TARGETS[maker](api_server) for name, maker in makers.items()}
                body, fresh = _body(rule, api_server), True
            url = api_server.url + path.format(**values)
            before = api_server.audit_count()
            response = _call(api_server, method, url, rule, body, _headers(api_server, who))
            calls += 1
            changed = api_server.audit_count() != before
            status = response.status_code
            where = f"{key} as {who}: {status} {response.text[:300]}"
            if status >= 500:
                failures.append(f"server error: {where}")
            elif rule.signed:
                if status != 401 or not _is_problem(response):
                    failures.append(f"an unsigned message must be a 401 problem+json whoever sends it: {where}")
            elif who in UNAUTHENTICATED:
                if status != 401 or not _is_problem(response) \
                        or "bearer" not in response.headers.get("WWW-Authenticate", "").lower():
                    failures.append(f"expected 401 problem+json with WWW-Authenticate: Bearer: {where}")
            elif who in rule.allowed:
                if not 200 <= status < 300:
                    failures.append(f"allowed ({rule.why}) but refused: {where}")
            elif 200 <= status < 300:
                failures.append(f"UNAUTHORISED SUCCESS (allowed: {sorted(rule.allowed)}; {rule.why}): {where}")
            elif status not in (403, 404, 409) or not _is_problem(response):
                failures.append(f"expected a 403/404/409 problem+json refusal: {where}")
            if not 200 <= status < 300 and changed:
                failures.append(f"refused, yet the audit log grew: {where}")
            if method != "GET" and (200 <= status < 300 or changed):
                fresh = False  # the row has changed: the next principal gets a fresh one
        if rule.signed:  # signed with the shared secret, no credentials: the CRM's own call succeeds
            data = json.dumps(body).encode()
            response = requests.request(method, api_server.url + path.format(**values), data=data,
                                        headers=api_server.signed(data), params=rule.query, timeout=30)
            calls += 1
            if not 200 <= response.status_code < 300:
                failures.append(f"{key}: a signed message ({rule.why}) was refused: {response.status_code} "
                                f"{response.text[:300]}")
    assert calls >= 9 * (len(USERS) + len(UNAUTHENTICATED))
    assert not failures, f"{len(failures)} of {calls} calls went wrong:\n" + "\n".join(failures)


def test_need_to_know_lists_and_inbox(api_server: ApiServer) -> None:
    """The 200s of the lists are not leaks: nobody lists a request of a group they may not read."""
    network = api_server.numbers["network"]
    for who in USERS:
        found = requests.get(f"{api_server.api}/requests", headers=api_server.bearer(who),
                             params={"q": "Network secret"}, timeout=10).json()["items"]
        assert (network in [item["number"] for item in found]) == (who in NETWORK_READERS), who
    for who in (NO_ROLE, ONE_GROUP, "audrey", "adam"):
        inbox = requests.get(f"{api_server.api}/tasks", headers=api_server.bearer(who), params={"queue": "groups"},
                             timeout=10).json()
        assert all(item["provider_group"] != "network" for item in inbox["items"]), who


# --- CSRF: cookie sessions need X-CSRF-Token on POST; bearer tokens do not ------------------------------------------


def test_a_cookie_session_post_needs_the_csrf_token(api_server: ApiServer) -> None:
    web, csrf = api_server.session("maria")
    task = api_server.target_manager_task()
    claim = f"{api_server.api}/tasks/{task}/claim"
    assert web.get(f"{api_server.api}/tasks/{task}", timeout=10).status_code == 200  # a GET needs no token

    before = api_server.audit_count()
    refused = web.post(claim, timeout=10)
    assert refused.status_code == 400, refused.text
    assert _is_problem(refused) and "CSRF" in refused.json()["detail"]
    wrong = web.post(claim, headers={"X-CSRF-Token": csrf[::-1]}, timeout=10)
    assert wrong.status_code == 400, wrong.text
    assert api_server.audit_count() == before

    done = web.post(claim, headers={"X-CSRF-Token": csrf}, timeout=10)
    assert done.status_code == 200, done.text
    assert done.json()["assignee"] == "maria"
    assert api_server.audit_count() == before + 1


def test_a_bearer_token_post_needs_no_csrf_token(api_server: ApiServer) -> None:
    task = api_server.target_manager_task()
    before = api_server.audit_count()
    done = requests.post(f"{api_server.api}/tasks/{task}/claim", headers=api_server.bearer("maria"), timeout=10)
    assert done.status_code == 200, done.text
    assert "Set-Cookie" not in done.headers  # no session is made for a token
    assert api_server.audit_count() == before + 1


@pytest.mark.parametrize("who", [REVOKED, EXPIRED])
def test_revoked_and_expired_tokens_sign_nobody_in(api_server: ApiServer, who: str) -> None:
    answer = requests.get(f"{api_server.api}/requests", headers=api_server.bearer(who), timeout=10)
    assert answer.status_code == 401 and _is_problem(answer)
    assert ("revoked" if who == REVOKED else "expired") in answer.json()["detail"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_post_with_no_credentials_is_told_to_authenticate(api_server: ApiServer) -> None:
    """Regression: an API POST with neither a token nor a session answered 400 "missing CSRF token" (the CSRF check
    ran before the sign-in check); it is a 401 with WWW-Authenticate, and a cookie session still needs the token."""
    task = api_server.target_manager_task()
    answer = requests.post(f"{api_server.api}/tasks/{task}/claim", timeout=10)
    assert answer.status_code == 401 and _is_problem(answer), answer.text
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
