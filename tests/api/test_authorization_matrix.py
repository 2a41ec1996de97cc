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
`TARGETS` and its name to `PATH_TARGETS`).

Also here: a cookie-session POST needs `X-CSRF-Token` (400 without, 200 with), a bearer-token POST does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.api.conftest import EXPIRED, FULFIL, NO_ROLE, ONE_GROUP, REVOKED, USERS, ApiServer

ANONYMOUS = "no credentials"
UNAUTHENTICATED = [ANONYMOUS, REVOKED, EXPIRED]
PROBLEM = "application/problem+json"

EVERYONE = frozenset(USERS)  # every signed-in user, whatever their roles
NETWORK_READERS = frozenset({"maria", "sam", "sara", "pete", "carla", "olive", "audrey", "adam"})  # need-to-know
NEW_REQUEST = {"request_type": "assistance", "data": {
    "title": "Printer queue for the front desk", "agency": "Oklahoma Tax Commission", "requester_name": "Tia Taxes",
    "requester_email": "tia@tax.example", "provider_group": "network", "priority": "medium"}}


@dataclass(frozen=True)
class Rule:
    """Who may call an operation (by hand, from app/domain/permissions.py) and a plausible call of it."""

    allowed: frozenset[str]
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)  # path parameter -> TARGETS key (default: PATH_TARGETS)
    why: str = ""


# "METHOD /path as in the OpenAPI document" -> Rule. A new endpoint adds a line here.
OPERATIONS: dict[str, Rule] = {
    "GET /api/v1/requests": Rule(EVERYONE, query={"limit": "5"},
                                 why="anyone signed in lists; the list keeps the requests they may read"),
    "POST /api/v1/requests": Rule(frozenset({"maria", "carla"}), body=NEW_REQUEST,
                                  why="REQUEST_LOGGERS (manager, CAR) of the request's group (network)"),
    "GET /api/v1/requests/{ref}": Rule(NETWORK_READERS,
                                       why="need-to-know: network's members and the all-group readers"),
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
}

# Rows the path parameters name. Each maker returns a real id; a write that succeeds gets a fresh one next time.
TARGETS: dict[str, Callable[[ApiServer], str]] = {
    "network_request": lambda server: server.numbers["network"],
    "specialist_task": lambda server: server.target_specialist_task(claimed=True),  # Fulfil, assigned to sam
    "free_specialist_task": lambda server: server.target_specialist_task(claimed=False),  # Fulfil, unassigned
}
PATH_TARGETS = {"ref": "network_request", "task_id": "specialist_task"}  # path parameter name -> default target


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
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


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
        for who in [*USERS, *UNAUTHENTICATED]:
            for name, maker in makers.items():
                if name not in values:
                    values[name] = TARGETS[maker](api_server)
            url = api_server.url + path.format(**values)
            before = api_server.audit_count()
            response = requests.request(method, url, headers=_headers(api_server, who), params=rule.query,
                                        json=rule.body if method != "GET" else None, timeout=30)
            calls += 1
            changed = api_server.audit_count() != before
            status = response.status_code
            where = f"{key} as {who}: {status} {response.text[:300]}"
            if status >= 500:
                failures.append(f"server error: {where}")
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
                values.clear()  # the row has changed: the next principal gets a fresh one
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
