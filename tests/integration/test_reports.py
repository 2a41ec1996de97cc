"""The reports and the 60 day schedule over requests driven through the process on a real database (see
tests/reports_scenario.py for what the scenario creates and the numbers it leads to)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.errors import Forbidden, NotFound
from app.services.admin.auth import load_identity
from app.services.reports import catalogue as reports
from app.services.reports import schedule
from app.services.reports.filters import BadFilter
from app.services.reports.tables import to_csv
from app.store.models import AuditEvent, Membership, ProviderGroup, Role, ServiceRequest, SlaEscalation, User
from tests import reports_scenario
from tests.conftest import START
from tests.reports_scenario import HEALTH, TOURISM


@pytest.fixture
def scenario(services, clock) -> reports_scenario.Scenario:
    thursday = (START + timedelta(days=2)).date()
    return reports_scenario.build(services, clock, START, thursday + timedelta(days=7))


def as_user(services, username):
    return load_identity(services, username)


def report(services, name, username="maria", **given):
    page = reports.report_page(services, as_user(services, username), name, given)
    assert not page.errors, page.errors
    return page.report


def rows(table, key="name"):
    return {row[key]: row for row in table.rows}


def test_fulfilment_report_measures_volume_mean_p90_and_within_target_per_group_and_agency(services, scenario):
    found = report(services, "fulfilment")
    by_group, by_agency = found.tables
    network, apps = rows(by_group)["network"], rows(by_group)["apps"]
    assert (network["closed"], round(network["mean_days"], 1), network["p90_days"]) == (2, 0.7, pytest.approx(1.0))
    assert (network["within_target"], network["within_target_pct"]) == (1, 50.0)
    assert (apps["closed"], apps["mean_days"], apps["p90_days"], apps["within_target_pct"]) == (
        1, pytest.approx(2.0), pytest.approx(2.0), 100.0)
    assert (apps["enhancements"], apps["on_plan_pct"]) == (1, 100.0)
    total = by_group.total
    assert (total["closed"], round(total["mean_days"], 1), total["p90_days"], round(total["within_target_pct"], 1)) \
        == (3, 1.1, pytest.approx(2.0), 66.7)
    assert rows(by_agency)[TOURISM]["closed"] == 2 and rows(by_agency)[HEALTH]["closed"] == 1
    assert "by_group,network,2,0.7,1.0,1,50.0,0,\r\n" in to_csv(found)
    assert "by_group,All,3,1.1,2.0,2,66.7,1,100.0\r\n" in to_csv(found)


def test_aging_report_buckets_open_requests_by_completed_business_days(services, scenario, clock):
    by_group, detail = report(services, "aging").tables
    assert rows(by_group, "group")["network"]["days_2_5"] == 2  # A3 and E4, two business days old
    assert rows(by_group, "group")["apps"]["days_2_5"] == 2  # E2 and E3
    assert by_group.total["open"] == 4 and by_group.total["days_0_1"] == 0
    assert {row["request"] for row in detail.rows} == {scenario.numbers[k] for k in ("A3", "E2", "E3", "E4")}
    clock.advance(timedelta(days=21))  # three weeks later (15 working days, no holidays before Dec 24)
    by_group = report(services, "aging").tables[0]
    assert by_group.total["days_11_20"] == 4


def test_outstanding_enhancements_show_stage_plan_and_whether_they_will_miss_the_plan(services, scenario, clock):
    table = report(services, "outstanding").tables[0]
    found = rows(table, "request")
    n = scenario.numbers
    assert set(found) == {n["E2"], n["E3"], n["E4"]}
    assert found[n["E3"]]["plan"] == "late" and found[n["E3"]]["will_miss"].startswith("yes: planned finish")
    assert found[n["E2"]]["plan"] == "no plan" and found[n["E2"]]["will_miss"] == "no"
    assert found[n["E2"]]["stage"] == "Draw up work plan and estimates"
    assert found[n["E4"]]["plan"] == "on track" and found[n["E4"]]["stage"] == "Fulfil enhancement request"
    assert table.rows[0]["request"] == n["E3"]  # the ones that will miss the plan come first
    clock.advance(timedelta(days=5))  # next Tuesday 09:00: E2 has waited five business days for a plan
    found = rows(report(services, "outstanding").tables[0], "request")
    assert found[n["E2"]]["will_miss"] == "yes: no work plan after 5 business days"
    assert report(services, "outstanding", type="assistance").tables[0].rows == []


def test_breaches_report_lists_late_requests_with_their_escalations(services, scenario):
    n = scenario.numbers
    with services.uow() as uow:  # A3 breached as the SLA clock records it (the worker's part is tested elsewhere)
        a3 = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == n["A3"])).one()
        a3.sla_breached_at = START + timedelta(hours=30)
        uow.session.add(SlaEscalation(request_id=a3.id, level="breach", threshold_at=a3.sla_breached_at,
                                      raised_at=START + timedelta(hours=31), recipients=["maria@omes.example"]))
        uow.commit()
    found = report(services, "breaches")
    breached, per_group = found.tables
    listed = rows(breached, "request")
    assert set(listed) == {n["A2"], n["A3"]}
    a2 = listed[n["A2"]]
    assert a2["breached_at"] == a2["target"] and a2["status"] == "closed"
    assert a2["late_days"] == pytest.approx(5 / 9)  # 13:00 to 17:00 on Tuesday, 08:00 to 09:00 on Wednesday
    assert listed[n["A3"]]["escalated_at"] == START + timedelta(hours=31)
    assert rows(per_group, "group")["network"] == {"group": "network", "breaches": 2, "open": 1, "closed": 1}
    assert report(services, "breaches", since=(START + timedelta(days=2)).date().isoformat()).tables[0].rows == []


def test_billing_report_sums_the_billing_cases_per_agency(services, scenario):
    by_agency, cases = report(services, "billing").tables
    assert [(r["agency"], r["cases"], str(r["hours"]), str(r["amount"])) for r in by_agency.rows] == [
        (HEALTH, 1, "12.50", "1062.50")]
    assert cases.rows[0]["request"] == scenario.numbers["E1"] and cases.rows[0]["billing_code"] == "PS-628"
    assert to_csv(report(services, "billing")).splitlines() == [
        "agency,cases,hours,amount", f"{HEALTH},1,12.50,1062.50", "All,1,12.50,1062.50"]
    assert report(services, "billing", type="assistance").tables[0].rows == []


def test_filters_narrow_the_reports_by_group_type_and_period(services, scenario):
    only_apps = report(services, "fulfilment", group="apps").tables[0]
    assert [r["name"] for r in only_apps.rows] == ["apps"]
    assistance = report(services, "fulfilment", type="assistance").tables[0]
    assert assistance.total["closed"] == 2
    tuesday = START.date().isoformat()
    assert report(services, "fulfilment", since=tuesday, until=tuesday).tables[0].total["closed"] == 1  # A1


def test_schedule_shows_load_per_week_and_flags_requests_that_will_miss_the_plan(services, scenario, clock):
    plan = schedule.schedule(services, as_user(services, "maria"), clock.now())
    n = scenario.numbers
    assert plan.start == (START + timedelta(days=2)).date() and len(plan.weeks) == 9
    assert [(w.requests["network"], w.days["network"]) for w in plan.weeks[:3]] == [(0, 0), (1, 5.0), (0, 0)]
    assert all(w.requests["apps"] == 0 for w in plan.weeks)  # E3's plan has passed, E1 is closed
    by_number = {r.number: r for r in plan.rows}
    assert set(by_number) == {n["E1"], n["E2"], n["E3"], n["E4"]}
    assert (by_number[n["E1"]].plan, by_number[n["E1"]].status) == ("on time", "closed")
    assert [r.number for r in plan.flagged] == [n["E3"]]
    apps_only = schedule.schedule(services, as_user(services, "maria"), clock.now(), group="apps")
    assert {r.group for r in apps_only.rows} == {"apps"} and apps_only.visible == ["apps", "network"]


def test_reports_are_for_managers_cars_auditors_admins_and_process_owners(services, scenario):
    for username in ("maria", "carla", "audrey", "adam", "olive"):
        assert report(services, "fulfilment", username).tables[0].total["closed"] == 3
    for username in ("sam", "pete"):
        with pytest.raises(Forbidden):
            reports.report_page(services, as_user(services, username), "fulfilment", {})
    with pytest.raises(NotFound):
        reports.report_page(services, as_user(services, "maria"), "salaries", {})
    page = reports.report_page(services, as_user(services, "maria"), "fulfilment", {"group": "nope"})
    assert page.report is None and page.errors == {"group": "no provider group 'nope'"}
    with pytest.raises(BadFilter):
        reports.export_csv(services, as_user(services, "maria"), "aging", {"since": "31/12/2026"})


def test_a_manager_reads_only_the_groups_they_manage(services, scenario):
    with services.uow() as uow:
        network = uow.session.scalars(select(ProviderGroup).where(ProviderGroup.code == "network")).one()
        manager = uow.session.scalars(select(Role).where(Role.code == "manager")).one()
        uow.session.add(User(username="nina", full_name="Nina Network", email="nina@omes.example",
                             memberships=[Membership(role=manager, provider_group=network)]))
        uow.commit()
    nina = as_user(services, "nina")
    page = reports.report_page(services, nina, "fulfilment", {})
    assert [r["name"] for r in page.report.tables[0].rows] == ["network"]
    assert page.report.tables[0].total["closed"] == 2
    with pytest.raises(Forbidden):
        reports.report_page(services, nina, "fulfilment", {"group": "apps"})
    with pytest.raises(Forbidden):
        schedule.schedule(services, nina, services.clock.now(), group="apps")


def test_an_auditors_csv_download_is_itself_logged(services, scenario):
    done = reports.export_csv(services, as_user(services, "audrey"), "billing", {"group": "apps"})
    assert done.filename.startswith("billing_") and done.filename.endswith("_apps.csv")
    with services.uow() as uow:
        logged = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "auditor_viewed")).all()
        assert [(e.actor, e.payload["report"], e.payload["group"]) for e in logged] == [("audrey", "billing", "apps")]
    reports.export_csv(services, as_user(services, "maria"), "billing", {})
    with services.uow() as uow:
        assert len(uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "auditor_viewed")).all()) == 1
