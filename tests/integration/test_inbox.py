"""The inbox query on a real database: queues, counts, filters, sorting and paging."""

from __future__ import annotations

from datetime import timedelta

from app.services.admin import auth
from app.services.tasks import actions as tasks
from app.services.tasks.inbox import InboxFilters, inbox
from tests.driver import Driver


def test_queues_counts_filters_and_paging(services, clock):
    drive = Driver(services, clock)
    for priority in ("low", "critical", "high"):
        drive.new("assistance", priority=priority, title=f"{priority} one")
    drive.new("enhancement", provider_group="apps", title="report")
    drive.work()
    maria = auth.load_identity(services, "maria")
    first = inbox(services, maria, InboxFilters(queue="available", sort="priority"))
    assert [r.priority for r in first.rows] == ["critical", "high", "low"]  # enhancements are not hers
    assert first.counts == {"mine": 0, "available": 3, "groups": 3, "overdue": 0}
    tasks.claim(services, first.rows[0].id, "maria")
    clock.advance(timedelta(days=3))  # critical (1 day) and high (2 days) targets have passed
    after = inbox(services, maria, InboxFilters(queue="groups"))
    assert after.counts == {"mine": 1, "available": 2, "groups": 3, "overdue": 2}
    assert [r.overdue for r in after.rows] == [True, True, False]
    assert inbox(services, maria, InboxFilters(queue="groups", overdue=True, priority="high")).total == 1
    assert inbox(services, maria, InboxFilters(queue="groups", request_type="enhancement")).total == 0
    paged = inbox(services, maria, InboxFilters(queue="groups", per_page=2, page=2))
    assert (paged.total, paged.pages, paged.page, len(paged.rows)) == (3, 2, 2, 1)
    pete = auth.load_identity(services, "pete")
    assert [r.name for r in inbox(services, pete, InboxFilters(queue="available")).rows] == [
        "Draw up work plan and estimates"]
    assert inbox(services, auth.load_identity(services, "audrey"), InboxFilters(queue="groups")).total == 0
