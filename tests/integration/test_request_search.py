"""Finding requests (app/services/requests/listing.py over the search index): every indexed field, word prefixes, a
number typed exactly first, hostile text as plain words, need-to-know, filters, sorting and stable paging, and the
migration's backfill; on SQLite (FTS5) and PostgreSQL (tsvector + GIN)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import select

from app.domain.permissions import OPERATOR
from app.errors import InvalidData
from app.services.admin import auth
from app.services.admin.setup import MIGRATIONS
from app.services.requests import listing
from app.services.requests.listing import RequestFilters
from app.store.db import Base
from app.store.models import ServiceRequest, SlaEscalation, User
from tests.driver import Driver


def who(services, username: str):
    with services.uow() as uow:
        return auth.identity_of(uow.session.scalars(select(User).where(User.username == username)).one())


def numbers(services, reader=OPERATOR, **filters) -> list[str]:
    return [r["number"] for r in listing.list_requests(services, reader, RequestFilters(**filters)).items]


@pytest.fixture
def world(services, clock):
    drive = Driver(services, clock)
    vpn = drive.new("assistance", title="VPN access for rangers", description="Two profiles before Monday")
    clock.advance(timedelta(minutes=5))
    payroll = drive.new("enhancement", provider_group="apps", title="Payroll report", agency="Office of Payroll",
                        requester_name="Quentin Quill", requester_email="quill@payroll.example", priority="low")
    clock.advance(timedelta(minutes=5))
    printer = drive.new("assistance", title="Printer jams", agency="Department of Libraries", priority="critical",
                        description="Paper feed on floor 3")
    drive.work()  # takes the CRM case: the manager's task follows
    drive.complete(printer, "assign_specialist", "maria", {"specialist": "sam",
                                                           "assignment_note": "Try the zebrafish toner first"})
    return {"vpn": vpn, "payroll": payroll, "printer": printer, "drive": drive}


def test_every_field_is_found_by_word_prefix_and_an_exact_number_comes_first(services, world):
    vpn, payroll, printer = world["vpn"], world["payroll"], world["printer"]
    with services.uow() as uow:
        crm = uow.session.scalar(select(ServiceRequest.crm_case_id).where(ServiceRequest.number == payroll))
    assert crm
    for query, expected in (("rangers", [vpn]), ("Monday", [vpn]), ("payroll", [payroll]), ("Quentin", [payroll]),
                            ("quill@payroll", [payroll]), (crm, [payroll]), (crm.lower(), [payroll]),
                            ("zebrafish", [printer]), ("vpn", [vpn]), ("VP", [vpn]), ("libr", [printer]),
                            ("printer floor", [printer]), ("printer monday", []), (payroll, [payroll])):
        assert numbers(services, q=query) == expected, query
    assert set(numbers(services, q="RF-00")) == {vpn, payroll, printer}
    # a number typed exactly comes first by relevance, also typed as its id alone
    assert numbers(services, q=printer, sort="relevance")[0] == printer
    assert numbers(services, q=str(int(printer[3:])), sort="relevance") == [printer]
    # relevance: a title word outranks the same word in the description
    world["drive"].new("assistance", title="Monday rota", description="x")
    assert numbers(services, q="monday", sort="relevance")[0] != vpn


HOSTILE = ['"', "'", '"vpn', "vpn\"*", "NEAR(vpn printer)", "vpn AND OR NOT", "title:vpn", "vpn:*", "!vpn & | <->",
           "(", "*", "-vpn", "^vpn", "a\x00b", "'; DROP TABLE service_request; --", "%_\\", "vpn" * 333 + "x",
           " ".join(["vpn"] * 200), "ñandú 🚀", "\t\n", "{}[]()", "RF-", "0" * 1000]


def test_hostile_text_is_searched_as_plain_words_never_an_error(services, world):
    for text in HOSTILE:
        found = listing.list_requests(services, OPERATOR, RequestFilters(q=text, sort="relevance", page=1))
        assert found.total == len(found.items), repr(text)
    assert numbers(services, q='"vpn" "rangers"') == [world["vpn"]]  # quotes are separators
    assert numbers(services, q="vpn NOT rangers") == []  # operator words are words too: all of them required
    assert numbers(services, q="vpn:*") == [world["vpn"]]
    assert numbers(services, q="-vpn") == [world["vpn"]]
    assert numbers(services, q="'") == []  # only punctuation: nothing to look for


def test_a_reader_finds_only_the_requests_of_their_groups(services, world):
    sam, maria = who(services, "sam"), who(services, "maria")  # sam: network only
    assert world["payroll"] not in numbers(services, sam, q="payroll") + numbers(services, sam)
    assert numbers(services, sam, q="RF") == [world["printer"], world["vpn"]]
    assert numbers(services, sam, group="apps") == []
    assert numbers(services, maria, q="payroll") == [world["payroll"]]
    assert numbers(services, who(services, "audrey"), group="apps") == [world["payroll"]]


def test_filters_sorting_and_numbered_pages(services, clock, world):
    vpn, payroll, printer = world["vpn"], world["payroll"], world["printer"]
    now = clock.now()
    with services.uow() as uow:
        s = uow.session
        rows = {r.number: r for r in s.scalars(select(ServiceRequest))}
        rows[vpn].status, rows[vpn].closed_at = "closed", now + timedelta(days=2)
        rows[printer].sla_breached_at = now
        s.add(SlaEscalation(request_id=rows[payroll].id, level="warning", threshold_at=now, raised_at=now,
                            recipients=[]))
        uow.commit()
    assert numbers(services, status="closed") == [vpn]
    assert numbers(services, status="open") == [printer, payroll]
    assert numbers(services, request_type="enhancement") == [payroll]
    assert numbers(services, priority="critical") == [printer]
    assert numbers(services, group="apps", q="report") == [payroll]
    assert numbers(services, sla="breached") == [printer]
    assert numbers(services, sla="warning") == [payroll]
    assert numbers(services, sla="on_time") == [vpn]
    day = now.date()
    assert numbers(services, closed_from=day + timedelta(days=2), closed_to=day + timedelta(days=2)) == [vpn]
    assert numbers(services, closed_to=day + timedelta(days=1)) == []
    assert numbers(services, created_from=day, created_to=day) == [printer, payroll, vpn]
    assert numbers(services, created_to=day - timedelta(days=1)) == []
    assert numbers(services, sort="oldest") == [vpn, payroll, printer]
    assert numbers(services, sort="priority") == [printer, vpn, payroll]  # critical, high, low
    due = {number: row.sla_due_at for number, row in rows.items()}
    assert numbers(services, sort="due") == sorted(due, key=lambda n: (due[n] is None, due[n], n))
    for bad in ({"status": "half"}, {"sort": "sideways"}, {"sla": "late"}, {"cursor": "x"},
                {"created_from": day, "created_to": day - timedelta(days=1)}, {"cursor": "5", "sort": "oldest"}):
        with pytest.raises(InvalidData):
            numbers(services, **bad)
    # numbered pages: complete, without overlap, with the total; the same order for every sort
    more = [world["drive"].new("assistance", title=f"Bulk {i}") for i in range(5)]
    everyone = [*more[::-1], printer, payroll, vpn]
    for sort, expected in (("newest", everyone), ("oldest", everyone[::-1])):
        pages = [listing.list_requests(services, OPERATOR, RequestFilters(sort=sort, page=p, limit=3))
                 for p in (1, 2, 3)]
        assert [r["number"] for page in pages for r in page.items] == expected, sort
        assert [(p.total, p.page, p.pages, p.offset) for p in pages] == [(8, 1, 3, 0), (8, 2, 3, 3), (8, 3, 3, 6)]
    pages = [listing.list_requests(services, OPERATOR, RequestFilters(sort="priority", page=p, limit=3))
             for p in (1, 2, 3)]
    ordered = [r["number"] for page in pages for r in page.items]
    assert sorted(ordered) == sorted(everyone) and ordered[0] == printer and ordered[-1] == payroll
    beyond = listing.list_requests(services, OPERATOR, RequestFilters(page=99, limit=3))
    assert beyond.page == 3  # past the end: the last page


def test_the_migration_builds_the_index_for_existing_requests_and_downgrades(services, world):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with services.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0015")
    with services.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
    assert numbers(services, q="zebrafish") == [world["printer"]]  # notes from the task_completed audit events
    assert numbers(services, q="rangers") == [world["vpn"]]
    assert numbers(services, q="quill") == [world["payroll"]]
    with services.engine.connect() as conn:  # what the migration made is what the models describe
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "saved_filter" in repr(d) or "ix_service_request_listing" in repr(d)] == []
