"""A known set of requests for the schedule and report tests, driven through the process with a settable clock.

`t0` is a Tuesday 09:00 in Oklahoma with Tuesday to Thursday working days. What happens (Oklahoma times):

| request | group | made | what | business days to fulfil |
|---|---|---|---|---|
| A1 assistance, high | network | Tue 09:00 | closed Tue 12:36 | 0.4 (within target) |
| A2 assistance, critical (4 business hours) | network | Tue 09:00 | closed Wed 09:00 | 1.0 (late: breach) |
| A3 assistance, medium | network | Tue 09:00 | open | |
| E1 enhancement, medium, chargeable | apps | Tue 09:00 | plan Wed + 16 days, billed 1062.50, closed Thu 09:00 | 2.0 |
| E2 enhancement, high | apps | Tue 09:00 | open, no work plan | |
| E3 enhancement, medium | apps | Tue 09:00 | open, plan Tue–Wed (late on Thursday) | |
| E4 enhancement, medium | network | Tue 09:00 | open, plan `plan_from` … +6 days, 45 hours | |

So at Thursday 09:00 the fulfilment report reads: network 2 closed, mean 0.7, p90 1.0, 50.0% within target;
apps 1 closed, 2.0, 2.0, 100.0%; all 3 closed, mean 1.1, p90 2.0, 66.7% within target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.bootstrap import Services
from app.clock import FixedClock
from app.domain.business_calendar import CHICAGO
from app.services.requests import sla_targets as sla
from tests.driver import Driver

TOURISM = "Oklahoma Department of Tourism"
HEALTH = "Oklahoma State Department of Health"


@dataclass
class Scenario:
    t0: datetime
    numbers: dict[str, str]
    plan_from: date

    @property
    def thursday(self) -> datetime:
        return self.t0 + timedelta(days=2)


def plan(start: date, finish: date, hours: float = 16) -> dict[str, object]:
    return {"work_plan": "Analyse, build, test", "estimated_hours": hours, "planned_start": start.isoformat(),
            "planned_finish": finish.isoformat()}


def fulfil_assistance(drive: Driver, number: str) -> None:
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    drive.complete(number, "fulfil_assistance_request", "sam",
                   {"resolution_notes": "Done", "resolution_code": "resolved", "time_spent_hours": 1})
    drive.work()


def recent_tuesday(services: Services, before: date) -> datetime:
    """The latest Tuesday 09:00 (Oklahoma) before `before` whose Tuesday to Thursday are working days."""
    with services.uow() as uow:
        calendar = sla.load_calendar(uow.session)
    day = before - timedelta(days=(before.weekday() - 1) % 7 or 7)
    while not all(calendar.is_working_day(day + timedelta(days=i)) for i in range(3)):
        day -= timedelta(days=7)
    return datetime(day.year, day.month, day.day, 9, tzinfo=CHICAGO)


def build(services: Services, clock: FixedClock, t0: datetime, plan_from: date) -> Scenario:
    """Create the requests of the table above; leaves the clock at Thursday 09:00."""
    drive = Driver(services, clock)
    clock.set(t0)
    n = {
        "A1": drive.new("assistance", title="VPN profile", priority="high"),
        "A2": drive.new("assistance", title="Firewall rule", priority="critical"),
        "A3": drive.new("assistance", title="Printer share", priority="medium", agency=HEALTH),
        "E1": drive.new("enhancement", title="Inspection report", provider_group="apps", priority="medium",
                        agency=HEALTH),
        "E2": drive.new("enhancement", title="Licence portal", provider_group="apps", priority="high"),
        "E3": drive.new("enhancement", title="Audit extract", provider_group="apps", priority="medium"),
        "E4": drive.new("enhancement", title="Branch office link", priority="medium"),
    }
    drive.work()
    day0 = t0.date()
    drive.complete(n["E1"], "draw_up_work_plan", "pete", plan(day0 + timedelta(days=1), day0 + timedelta(days=17)))
    drive.complete(n["E3"], "draw_up_work_plan", "pete", plan(day0, day0 + timedelta(days=1)))
    drive.complete(n["E4"], "draw_up_work_plan", "pete", plan(plan_from, plan_from + timedelta(days=6), 45))
    drive.work()

    clock.set(t0 + timedelta(hours=3, minutes=36))
    fulfil_assistance(drive, n["A1"])

    clock.set(t0 + timedelta(days=1))
    fulfil_assistance(drive, n["A2"])

    clock.set(t0 + timedelta(days=2))
    e1 = n["E1"]
    drive.complete(e1, "fulfil_enhancement_request", "pete", {"fulfilment_notes": "Built", "hours_spent": 12})
    drive.complete(e1, "test_solution", "pete", {"test_result": "pass", "test_notes": "Green"})
    drive.complete(e1, "determine_chargeability", "pete",
                   {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"})
    drive.work()
    drive.complete(e1, "initiate_billing", "carla", {"billing_notes": "Bill now",
                                                     "service_live_date": (day0 + timedelta(days=2)).isoformat()})
    drive.work()
    drive.work()
    drive.complete(e1, "notify_customer_of_fulfilment", "carla", {"customer_message": "Live and billed."})
    drive.work()
    assert drive.show(e1)["status"] == "closed", drive.show(e1)
    return Scenario(t0, n, plan_from)
