"""Property-based contract tests of `/api/v1` with Schemathesis, against the real `rf serve` (tests/api/conftest.py's
`api_server`: one server per module and backend, SQLite and PostgreSQL, seeded with real requests and tasks).

The schema is loaded from the running server (`/api/v1/openapi.json`), so every operation it lists is tested,
including those other resources add later. For each operation Schemathesis generates cases (its examples, coverage
and fuzzing phases; valid and invalid inputs) and each case is sent:

* as one of a few callers, drawn by Hypothesis: the administrator `adam`, the manager `maria`, the specialist `sam`,
  the auditor `audrey` and `nora` (no role), each with a bearer token;
* with, half of the time, every path parameter replaced by a real one of the seeded data (`REAL_VALUES`: request
  numbers and ids, open task ids, open incidents, pending CRM cases, holidays, processes and versions, reports), so
  that reads and writes reach real rows and not only 404s. The token and the real parameters are set on the case
  itself, so Schemathesis judges the request as sent (a negative case whose only invalid part was replaced is a
  positive one);
* the CRM feed (`POST /crm/cases`) is served with a shared secret (the fixture's RF_CRM_FEED_SECRET), so its
  generated messages, never signed, are 401 problems.

Checks on every response:

* `not_a_server_error`: no 5xx;
* `status_code_conformance`: the status code is documented for the operation;
* `content_type_conformance`: the Content-Type is one documented for that status (problem details are documented as
  `application/problem+json`);
* `response_schema_conformance` and `response_headers_conformance`: the body (and documented headers) match the
  response's schema;
* `negative_data_rejection`: input that breaks the schema is refused (4xx), never accepted;
* `problem_details` (ours): every 4xx is `application/problem+json` with `type`, `title`, `status` (equal to the
  response's) and `detail`, and every 401 names the scheme in `WWW-Authenticate`.

Example budget: `MAX_EXAMPLES` = 25 generated cases per operation (Hypothesis fuzzing of Schemathesis's positive
and negative strategies; RF_API_MAX_EXAMPLES changes it), plus each example the document gives sent once as every
caller; `deadline=None`, the `too_slow`, `filter_too_much` and `data_too_large` health checks suppressed,
derandomized (the same cases every run, so a new failure is a change, not luck; RF_API_RANDOM=1 explores). With the
40 operations of requests, tasks, processes, instance moves, the CRM, incidents, audit, reports and the business
calendar that is ~1,100 calls and about 30 s per backend on a 2-core machine (the module, SQLite and PostgreSQL,
server start-ups and seeding included: under 90 s); a new resource adds about a second per operation.
Schemathesis's own pytest plugin (`from_fixture`/`parametrize`) breaks under pytest 9.2, so the operations are walked
in `test_every_operation_keeps_its_contract`, one Hypothesis run each, and the failures of all operations are
reported together.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.hypothesis.examples import generate_one
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.services.reports.catalogue import REPORTS
from app.store.models import CrmCase, DefinitionVersion, Holiday, ServiceJob, ServiceRequest, TaskRow
from tests.api.conftest import NO_ROLE, ApiServer

MAX_EXAMPLES = int(os.environ.get("RF_API_MAX_EXAMPLES", "25"))
CALLERS = ["adam", "maria", "sam", "audrey", NO_ROLE]
PROBLEM = "application/problem+json"


def _request_refs(server: ApiServer) -> list[str]:
    with server.services.uow() as uow:
        rows = uow.session.execute(select(ServiceRequest.number, ServiceRequest.id).order_by(ServiceRequest.id))
        return [ref for number, request_id in rows for ref in (str(number), str(request_id))]


def _open_tasks(server: ApiServer) -> list[str]:
    with server.services.uow() as uow:
        return list(uow.session.scalars(select(TaskRow.task_uuid).where(TaskRow.status == "open")
                                        .order_by(TaskRow.id)))


def _incidents(server: ApiServer) -> list[str]:
    with server.services.uow() as uow:
        return [str(job) for job in uow.session.scalars(select(ServiceJob.id).where(ServiceJob.status == "incident")
                                                        .order_by(ServiceJob.id))]


def _pending_cases(server: ApiServer) -> list[str]:
    with server.services.uow() as uow:
        return [str(case) for case in uow.session.scalars(select(CrmCase.case_number).where(CrmCase.status == "pending")
                                                          .order_by(CrmCase.id))]


def _holidays(server: ApiServer) -> list[str]:
    with server.services.uow() as uow:
        return [str(holiday) for holiday in uow.session.scalars(select(Holiday.id).order_by(Holiday.id))]


def _processes(server: ApiServer) -> list[str]:
    with server.services.uow() as uow:
        return sorted(set(uow.session.scalars(select(DefinitionVersion.process_id))))


def _versions(server: ApiServer) -> list[str]:
    with server.services.uow() as uow:
        return [str(n) for n in sorted(set(uow.session.scalars(select(DefinitionVersion.version))))]


# path parameter name -> real values in the seeded database (a resource with a new kind of id adds a line here)
REAL_VALUES: dict[str, Callable[[ApiServer], list[str]]] = {
    "ref": _request_refs,
    "task_id": _open_tasks,
    "job_id": _incidents,
    "case": _pending_cases,
    "holiday_id": _holidays,
    "process_id": _processes,
    "version": _versions,
    "name": lambda server: list(REPORTS),
}


def problem_details(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error is RFC 9457 problem details; a 401 says how to authenticate."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    assert content_type == PROBLEM, f"a {response.status_code} answered {content_type!r}, not {PROBLEM}"
    body = response.json()
    assert isinstance(body, dict), f"problem details must be an object: {body!r}"
    assert body.get("status") == response.status_code, f"problem status {body.get('status')!r} is not the response's"
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str), f"problem details without {key!r}: {body!r}"
    if response.status_code == 401:
        assert any("bearer" in value.lower() for value in response.headers.get("www-authenticate", [])), \
            "a 401 without WWW-Authenticate: Bearer"
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection, problem_details]


@pytest.fixture(scope="module")
def api_schema(api_server: ApiServer) -> Any:
    return schemathesis.openapi.from_url(f"{api_server.api}/openapi.json")


def _cases(operation: Any) -> st.SearchStrategy[Any]:
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))


def _run_operation(operation: Any, server: ApiServer, http: requests.Session) -> dict[int, int]:
    """Hypothesis over one operation; returns how many answers of each status it got (the minimal failing case is
    raised)."""
    statuses: dict[int, int] = {}
    _send_documented_examples(operation, server, http, statuses)
    real_values = {name: REAL_VALUES[name](server) for name in _path_names(operation) if name in REAL_VALUES}

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=not os.environ.get("RF_API_RANDOM"), database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(case=_cases(operation), caller=st.sampled_from(CALLERS), real=st.booleans(),
           pick=st.integers(min_value=0, max_value=10**6))
    def run(case: Any, caller: str, real: bool, pick: int) -> None:
        # The caller's token replaces whatever `Authorization` was generated, and real path parameters the generated
        # ones; both are set on the case (not passed beside it) so that Schemathesis judges the request actually
        # sent: a negative case whose only invalid part was replaced by a valid one is positive, and a 2xx to it is
        # no "schema-violating request accepted".
        case.headers = {**{k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"},
                        **server.bearer(caller)}
        if real and case.path_parameters:
            parameters = dict(case.path_parameters)
            for name in parameters:
                values = real_values.get(name, [])  # read once per operation (a stale one is a 404)
                if values:
                    parameters[name] = values[pick % len(values)]
            case.path_parameters = parameters
        assert case.meta is not None  # revalidates what was replaced
        response = case.call_and_validate(base_url=server.url, session=http, checks=CHECKS, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    run()
    return dict(sorted(statuses.items()))


def _path_names(operation: Any) -> list[str]:
    return [parameter.name for parameter in operation.path_parameters]


def _send_documented_examples(operation: Any, server: ApiServer, http: requests.Session,
                              statuses: dict[int, int]) -> None:
    """Each example the document gives (e.g. a request a manager may log), sent once as every caller."""
    for strategy in operation.get_strategies_from_examples(fill_missing=False):
        case = generate_one(strategy)
        for caller in CALLERS:
            response = case.call_and_validate(base_url=server.url, session=http, headers=server.bearer(caller),
                                              checks=CHECKS, timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1


def test_every_operation_keeps_its_contract(api_server: ApiServer, api_schema: Any) -> None:
    """Schemathesis's pytest plugin (`from_fixture`) does not run under pytest 9.2 (it sets `Item._nodeid`), so the
    operations are walked here: each gets its own Hypothesis run, and every operation's failure is reported."""
    http = requests.Session()
    failures: list[str] = []
    sent: dict[str, dict[int, int]] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            sent[operation.label] = _run_operation(operation, api_server, http)
        except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001 - every operation's failure is collected and reported together
            failures.append(f"{operation.label}: {type(err).__name__}: {err}")
    for label, statuses in sent.items():
        print(f"{label:45} {statuses}")
    assert len(sent) + len(failures) >= 9, "the schema lost operations"
    assert not failures, "\n\n".join(failures)


def test_the_schema_lists_the_api_and_documents_problem_details(api_server: ApiServer) -> None:
    """The document itself: OpenAPI 3.1, both security schemes (the session cookie under its real name), and every
    error response documented as problem+json (what `content_type_conformance` holds the answers to)."""
    doc = requests.get(f"{api_server.api}/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.1")
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["session"]["in"] == "cookie" and schemes["session"]["name"] == "rf_session"
    operations = [(method, path, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert len(operations) >= 9
    for method, path, op in operations:
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert list(response.get("content", {})) == [PROBLEM], f"{method.upper()} {path} {status}"
