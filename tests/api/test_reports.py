"""Reports through /api/v1 with a bearer token, over the requests of tests/reports_scenario.py: the index, each
report's data with the same filters and the same numbers as its CSV download, who reads them, what is logged, and
bad filters as problems."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from app.services.admin import auth
from app.services.reports import catalogue
from tests import reports_scenario
from tests.api.token_client import ApiUser, assert_documented, events, is_problem
from tests.conftest import START, day
from tests.reports_scenario import HEALTH

REPORT_NAMES = ("fulfilment", "aging", "outstanding", "breaches", "billing")


@pytest.fixture
def scenario(services, clock) -> reports_scenario.Scenario:
    thursday = (START + timedelta(days=2)).date()
    return reports_scenario.build(services, clock, START, thursday + timedelta(days=7))


def as_csv_cell(value) -> str:
    """A JSON cell written as the CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def json_as_csv(data: dict) -> list[list[str]]:
    """The report's JSON tables laid out as its CSV: the first table's columns, and every table with the same."""
    keys = [c["key"] for c in data["tables"][0]["columns"]]
    tables = [t for t in data["tables"] if [c["key"] for c in t["columns"]] == keys]
    several = len(tables) > 1
    rows = [(["table"] if several else []) + keys]
    for table in tables:
        for row in table["rows"] + ([table["total"]] if table["total"] else []):
            rows.append(([table["key"]] if several else []) + [as_csv_cell(row[k]) for k in keys])
    return rows


def test_the_report_operations_are_documented(services):
    assert_documented(services, "/api/v1/reports", {
        ("get", "/api/v1/reports"), ("get", "/api/v1/reports/{name}"), ("get", "/api/v1/reports/{name}.csv")})


def test_the_index_lists_the_reports_a_reader_may_read(services):
    listed = ApiUser(services, "carla").get("/api/v1/reports")
    assert listed.status_code == 200
    assert [r["name"] for r in listed.get_json()["items"]] == list(REPORT_NAMES)
    assert listed.get_json()["items"][0]["url"] == "/api/v1/reports/fulfilment"
    for who in ("sam", "pete"):
        assert is_problem(ApiUser(services, who).get("/api/v1/reports"), 403), who
        assert is_problem(ApiUser(services, who).get("/api/v1/reports/fulfilment"), 403), who
        assert is_problem(ApiUser(services, who).get("/api/v1/reports/fulfilment.csv"), 403), who


def test_the_fulfilment_report_measures_the_requests_closed(services, scenario):
    data = ApiUser(services, "maria").get("/api/v1/reports/fulfilment").get_json()
    assert data["name"] == "fulfilment" and data["snapshot"] is False and data["notes"]
    assert data["filters"] == {"since": (scenario.thursday.date() - timedelta(days=89)).isoformat(),
                               "until": scenario.thursday.date().isoformat(), "group": None, "type": None}
    by_group = {row["name"]: row for row in data["tables"][0]["rows"]}
    assert by_group["network"] == {"name": "network", "closed": 2, "mean_days": 0.7, "p90_days": 1.0,
                                   "within_target": 1, "within_target_pct": 50.0, "enhancements": 0,
                                   "on_plan_pct": None}
    assert data["tables"][0]["total"] == {"name": "All", "closed": 3, "mean_days": 1.1, "p90_days": 2.0,
                                          "within_target": 2, "within_target_pct": 66.7, "enhancements": 1,
                                          "on_plan_pct": 100.0}
    by_agency = {row["name"]: row for row in data["tables"][1]["rows"]}
    assert by_agency[HEALTH]["closed"] == 1 and by_agency[HEALTH]["within_target_pct"] == 100.0
    assert set(data["chart"]["categories"]) == {"apps", "network"}
    assert [s["name"] for s in data["chart"]["series"]] and data["cards"][0]["value"] == "3"


def test_every_reports_json_has_the_numbers_of_its_csv(services, scenario):
    maria = ApiUser(services, "maria")
    identity = auth.load_identity(services, "maria")
    filters = [{}, {"group": "network"}, {"type": "enhancement"},
               {"since": day(0), "until": day(0), "group": "network", "type": "assistance"}]
    for name in REPORT_NAMES:
        for query in filters:
            got = maria.get(f"/api/v1/reports/{name}", query)
            assert got.status_code == 200, (name, query, got.get_json())
            given = {key: query.get(key, "") for key in ("since", "until", "group", "type")}
            from_service = catalogue.export_csv(services, identity, name, given).content.decode()
            through_api = maria.get(f"/api/v1/reports/{name}.csv", query)
            assert through_api.status_code == 200 and through_api.mimetype == "text/csv"
            assert through_api.get_data(as_text=True) == from_service
            assert json_as_csv(got.get_json()) == list(csv.reader(io.StringIO(from_service))), (name, query)
    billing = maria.get("/api/v1/reports/billing").get_json()["tables"][0]
    assert billing["rows"] == [{"agency": HEALTH, "cases": 1, "hours": "12.50", "amount": "1062.50"}]
    only_a1 = maria.get("/api/v1/reports/fulfilment", {"since": day(0), "until": day(0), "group": "network",
                                                        "type": "assistance"}).get_json()
    assert only_a1["tables"][0]["total"]["closed"] == 1 and only_a1["tables"][0]["total"]["mean_days"] == 0.4


def test_an_auditors_reads_are_logged_naming_the_token_and_a_managers_are_not(services, scenario):
    audrey = ApiUser(services, "audrey")
    assert audrey.get("/api/v1/reports/aging", {"group": "apps"}).status_code == 200
    assert audrey.get("/api/v1/reports/aging.csv").status_code == 200
    assert ApiUser(services, "maria").get("/api/v1/reports/aging").status_code == 200
    logged = events(services, "auditor_viewed")
    assert [(e.actor, e.payload["format"], e.payload.get("group")) for e in logged] == [
        ("audrey", "json", "apps"), ("audrey", "csv", None)]
    assert all(e.payload["via"] == audrey.via and e.payload["report"] == "aging" for e in logged)


def test_bad_filters_are_problems_naming_the_field(services):
    maria = ApiUser(services, "maria")
    for query, status, field in [
        ({"since": "2026-13-01"}, 422, "since"), ({"until": "yesterday"}, 422, "until"),
        ({"type": "incident"}, 422, "type"), ({"group": "g" * 65}, 422, "group"),
        ({"since": day(5), "until": day(1)}, 400, "until"), ({"group": "payroll"}, 400, "group"),
        ({"since": "2000-01-01", "until": day(0)}, 400, "since"),
    ]:
        got = maria.get("/api/v1/reports/aging", query)
        assert is_problem(got, status), (query, got.status_code, got.get_json())
        assert any(e["field"].endswith(field) for e in got.get_json()["errors"]), (query, got.get_json())
    assert is_problem(maria.get("/api/v1/reports/salaries"), 404)
    assert is_problem(maria.get("/api/v1/reports/salaries.csv"), 404)
    assert is_problem(maria.get("/api/v1/reports/" + "x" * 41), 422)
