"""Request search latency at 100,000 requests, through the service and over HTTP, on SQLite or PostgreSQL.

Run from the repository root:

    .venv/bin/python -m bench.search [--requests 100000] [--samples 30] [--database-url URL]

Set-up (timed and printed, not part of the measurement): a fresh database (a temporary SQLite file unless
--database-url is given; PostgreSQL gets a private schema that is dropped afterwards), migrated, seeded with the demo
users and groups. The N requests are bulk-inserted with SQLAlchemy core, not through the engine (a request's
process instance, tasks and audit rows play no part in finding it): realistic rows drawn from a fixed seed (titles
from a few hundred IT-request phrases, 40 agencies, 2,000 requesters, numbers RF-000001…, a CRM case each, both
provider groups, all priorities, 70% closed, about 8% breached and 5% at risk, created over two years), and each
request's search-index entry with the words `app.store.search_index` writes (a third with staff notes): the FTS5 row
on SQLite, the weighted `search_document` on PostgreSQL (staged per chunk and set by one UPDATE).
Then ANALYZE, as a database in service would have had.

Measured (`time.perf_counter`, sequential, one process, after one warm-up of each query): a mix of searches through
`listing.list_requests` with a numbered page (so the total is counted too, as the Requests page does), as sam (one
provider group: the need-to-know filter applies), maria (both groups) and audrey (every group): a common word, a
rare word, word prefixes, a request number typed exactly, a number prefix, a CRM case, words with filters, filters
alone, relevance and other sorts, a later page. A few of them also over HTTP: a real socket to the app served by
werkzeug in a thread, signed in through the login form, the whole Requests page rendered. Printed: p50/p95/max
wall-clock per query and overall, against the target p95 < 100 ms, and the median CPU time of this process (the
app's own work, and on SQLite the database's too; a wall clock far above it means the machine was busy elsewhere).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import httpx
from sqlalchemy import insert, select, text
from werkzeug.serving import make_server

from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.domain.search_terms import normalised
from app.services.admin import auth, setup
from app.services.requests import listing
from app.store.models import ProviderGroup, ServiceRequest, SlaEscalation, User
from app.web import create_app
from bench.lifecycle import backend_facts, database

DEFAULT_REQUESTS = 100_000
DEFAULT_SAMPLES = 30
TARGET_P95_MS = 100.0
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SEED = 20261201
CHUNK = 5_000
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SHOWING = re.compile(r"Showing [\d,]+–[\d,]+ of ([\d,]+) request")

SUBJECTS = ["VPN access", "Printer", "Payroll report", "Email mailbox", "Laptop", "Firewall rule", "Database backup",
            "Shared drive", "Password reset", "Wi-Fi", "Phone line", "Website form", "GIS layer", "Badge reader",
            "Timesheet app", "License renewal", "Server patching", "Network switch", "Teams channel", "Scanner"]
ACTIONS = ["for the field office", "not working", "request for new staff", "upgrade", "keeps failing",
           "needs more space", "for the Guthrie office", "slow since Monday", "access for contractors",
           "migration to the cloud", "replacement", "configuration change", "for the audit", "outage"]
DETAILS = ["Two new rangers need profiles before Monday.", "The queue stops after ten pages.",
           "Finance asked for a monthly export.", "Users see a certificate warning.", "Please add three members.",
           "The vendor confirmed the fix is available.", "Happens every morning at nine.",
           "Needed for the legislative session.", "Budget approved by the director.", "Affects the whole floor."]
AGENCIES = [f"Oklahoma {name}" for name in (
    "Department of Tourism", "Department of Libraries", "Office of Payroll", "Department of Health",
    "Department of Transportation", "Tax Commission", "Department of Corrections", "Water Resources Board",
    "Department of Education", "Historical Society", "Department of Agriculture", "Conservation Commission",
    "Department of Commerce", "Employment Security Commission", "Department of Wildlife", "Arts Council",
    "Department of Mental Health", "Insurance Department", "Department of Labor", "Corporation Commission")] + [
    f"Oklahoma Board of {name}" for name in (
        "Nursing", "Pharmacy", "Medical Licensure", "Dentistry", "Accountancy", "Architects", "Engineers",
        "Cosmetology", "Veterinary Examiners", "Chiropractic", "Optometry", "Podiatry", "Psychologists",
        "Social Workers", "Counselors", "Dietetics", "Athletic Trainers", "Audiology", "Funeral", "Tests")]
FIRST = ["Ann", "Lee", "Quentin", "Maya", "Omar", "Rosa", "Tariq", "Ivy", "Noah", "Zoe", "Eli", "Nia", "Raj", "Uma",
         "Yuri", "Kai", "Lena", "Hugo", "Ines", "Joel"]
LAST = ["Agency", "Librarian", "Quill", "Stone", "Rivers", "Hart", "Baker", "Cole", "Diaz", "Evans", "Frost", "Gray",
        "Hayes", "Irwin", "Jones", "Knox", "Lowe", "Moss", "Nash", "Owens", "Price", "Reed", "Shaw", "Tate", "Voss",
        "Wade", "Young", "Zane", "Bloom", "Crane", "Doyle", "Ellis", "Flynn", "Grant", "Hale", "Ives", "Jett", "Kerr",
        "Lamb", "Marsh", "Noble", "Oakes", "Pike", "Quinn", "Rowe", "Sage", "Thorn", "Upton", "Vance", "Webb",
        "Xu", "York", "Ames", "Birch", "Cobb", "Dale", "Eaton", "Fox", "Gage", "Holt", "Ingram", "Judd", "Kemp",
        "Lord", "Mann", "North", "Orr", "Page", "Ray", "Snow", "Todd", "Underwood", "Vale", "Ward", "Yates", "Zeller",
        "Abbot", "Bell", "Cruz", "Dunn", "Ebert", "Ford", "Gill", "Hunt", "Ito", "Jain", "Kahn", "Lutz", "Mills",
        "Neal", "Ortiz", "Poole", "Rhodes", "Soto", "Tran", "Uddin", "Vega", "Wolf", "Yoon", "Zhou"]
NOTES = ["Replaced the toner and tested a page.", "Profile issued; user confirmed the connection.",
         "Customer asked to wait until the zebrafish lab moves.", "Rolled back the patch after the test failed.",
         "Escalated to the vendor with ticket 4471.", "Test passed on staging and production.",
         "Billing code 7710 applied for chargeable hours.", "Documented the need with the agency CIO."]
PRIORITY_SHARE = (("low", 0.2), ("medium", 0.45), ("high", 0.25), ("critical", 0.1))


@dataclass
class Sample:
    name: str
    side: str
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU (not the PostgreSQL server's)
    found: int = 0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * (len(ordered) - 1))))]


def _priority(rnd: random.Random) -> str:
    roll, total = rnd.random(), 0.0
    for name, share in PRIORITY_SHARE:
        total += share
        if roll < total:
            return name
    return "medium"


def seed_requests(services: Services, n: int) -> dict[str, Any]:
    """Bulk-insert `n` requests with their search-index entries and some warning escalations; returns a few facts
    the queries use (a number, a CRM case)."""
    rnd = random.Random(SEED)
    postgresql = services.engine.dialect.name == "postgresql"
    with services.engine.begin() as conn:
        groups = dict(conn.execute(select(ProviderGroup.code, ProviderGroup.id)).all())
    people = [(f"{f} {last}", f"{f.lower()}.{last.lower()}{i}@agency.example")
              for i, (f, last) in enumerate((rnd.choice(FIRST), rnd.choice(LAST)) for _ in range(2000))]
    index_sql = text("INSERT INTO search_stage (id, head, body, notes) VALUES (:id, :head, :body, :notes)"
                     if postgresql else
                     "INSERT INTO request_search (rowid, head, body, notes) VALUES (:id, :head, :body, :notes)")
    span = timedelta(days=730).total_seconds()
    for start in range(1, n + 1, CHUNK):
        rows, entries, warnings = [], [], []
        for i in range(start, min(n, start + CHUNK - 1) + 1):
            created = NOW - timedelta(seconds=span * (1 - i / n))
            kind = "enhancement" if rnd.random() < 0.3 else "assistance"
            title = f"{rnd.choice(SUBJECTS)} {rnd.choice(ACTIONS)}"
            description = " ".join(rnd.sample(DETAILS, 2))
            agency = rnd.choice(AGENCIES)
            name, email = rnd.choice(people)
            closed = rnd.random() < 0.7 and created < NOW - timedelta(days=3)
            breached = rnd.random() < 0.08
            due = created + timedelta(hours=rnd.choice((4, 8, 24, 72, 240)))
            row = {"id": i, "number": f"RF-{i:06d}", "request_type": kind, "title": title,
                   "description": description, "agency": agency, "requester_name": name, "requester_email": email,
                   "provider_group_id": groups["network" if rnd.random() < 0.6 else "apps"],
                   "priority": _priority(rnd), "routine": kind == "assistance" or rnd.random() < 0.5,
                   "crm_case_id": f"CRM-{i:06d}", "sla_due_at": due, "sla_target_seconds": 4 * 3600,
                   "sla_paused_seconds": 0, "sla_breached_at": due if breached else None,
                   "status": "closed" if closed else "open", "created_by": "bench", "created_at": created,
                   "closed_at": created + timedelta(days=rnd.randint(1, 20)) if closed else None}
            rows.append(row)
            notes = " ".join(rnd.sample(NOTES, 2)) if rnd.random() < 0.33 else ""
            entries.append({"id": i, "head": normalised(row["number"], title),
                            "body": normalised(description, agency, name, email, row["crm_case_id"]),
                            "notes": normalised(notes)})
            if not breached and rnd.random() < 0.05:
                warnings.append({"request_id": i, "level": "warning", "threshold_at": due, "raised_at": due,
                                 "recipients": []})
        with services.engine.begin() as conn:
            conn.execute(insert(ServiceRequest), rows)
            if postgresql:  # the words staged, then one UPDATE: what search_index.refresh/add_words write
                conn.execute(text("CREATE TEMPORARY TABLE search_stage (id INTEGER PRIMARY KEY, head TEXT, body TEXT, "
                                  "notes TEXT) ON COMMIT DROP"))
            conn.execute(index_sql, entries)
            if postgresql:
                conn.execute(text(
                    "UPDATE service_request SET search_document = setweight(to_tsvector('simple', s.head), 'A') || "
                    "setweight(to_tsvector('simple', s.body), 'B') || setweight(to_tsvector('simple', s.notes), 'C') "
                    "FROM search_stage AS s WHERE s.id = service_request.id"))
            if warnings:
                conn.execute(insert(SlaEscalation), warnings)
        print(f"  seeded {rows[-1]['id']:,} requests", file=sys.stderr, flush=True)
    with services.engine.begin() as conn:
        if postgresql:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('service_request', 'id'), :n)"), {"n": n})
        else:
            conn.execute(text("ANALYZE"))
    if postgresql:  # what autovacuum does soon after a load: statistics, and the visibility map for index-only scans
        with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    middle = n // 2 + 7
    return {"number": f"RF-{middle:06d}", "prefix": f"RF-{middle:06d}"[:-2], "crm": f"CRM-{n // 3:06d}",
            "requester": people[7][0]}


def readers(services: Services) -> dict[str, Any]:
    with services.uow() as uow:
        return {u.username: auth.identity_of(u) for u in uow.session.scalars(
            select(User).where(User.username.in_(("sam", "maria", "audrey"))))}


def queries(facts: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, user, filters): the measured mix."""
    return [
        ("common word", "sam", {"q": "vpn"}),
        ("common word, relevance", "maria", {"q": "printer", "sort": "relevance"}),
        ("rare word (notes)", "maria", {"q": "zebrafish"}),
        ("two word prefixes", "sam", {"q": "pay rep"}),
        ("prefix, relevance", "audrey", {"q": "libr", "sort": "relevance"}),
        ("requester name", "maria", {"q": facts["requester"]}),
        ("number typed exactly", "maria", {"q": facts["number"], "sort": "relevance"}),
        ("number prefix", "audrey", {"q": facts["prefix"]}),
        ("CRM case", "maria", {"q": facts["crm"]}),
        ("word + open + high", "sam", {"q": "vpn", "status": "open", "priority": "high"}),
        ("word + SLA breached, due", "maria", {"q": "firewall", "sla": "breached", "sort": "due"}),
        ("filters: open, at risk", "maria", {"status": "open", "sla": "warning"}),
        ("filters: enhancement, created range", "audrey",
         {"request_type": "enhancement", "created_from": (NOW - timedelta(days=60)).date(),
          "created_to": (NOW - timedelta(days=30)).date(), "sort": "priority"}),
        ("no filter, newest", "sam", {}),
        ("word, page 5", "audrey", {"q": "office", "page": 5}),
    ]


HTTP_QUERIES = [
    ("page: common word", "/requests?q=vpn"),
    ("page: number typed exactly", "/requests?q={number}"),
    ("page: word + filters", "/requests?q=printer&status=open&priority=high"),
    ("page: no filter", "/requests"),
]


def time_it(sample: Sample, samples: int, one: Callable[[], int]) -> Sample:
    sample.found = one()  # warm-up (and what it finds)
    for _ in range(samples):
        started, cpu = time.perf_counter(), time.process_time()
        one()
        sample.ms.append(1000 * (time.perf_counter() - started))
        sample.cpu_ms.append(1000 * (time.process_time() - cpu))
    return sample


@contextmanager
def serving(services: Services) -> Iterator[str]:
    app = create_app(services, {"SECRET_KEY": "bench-secret"})
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def signed_in(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    token = CSRF.search(client.get("/login").text)
    assert token, "no CSRF token on /login"
    answer = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token.group(1)})
    assert answer.status_code == 302, f"login as {username} failed"
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="requests seeded (default 100000)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="timed runs of each query (default 30)")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL; default a temporary SQLite file. PostgreSQL runs in a private schema.")
    args = parser.parse_args(argv)
    if args.requests < 100 or args.samples < 1:
        parser.error("--requests must be at least 100 and --samples at least 1")
    results: list[Sample] = []
    with database(args.database_url) as url:
        settings = replace(Settings.from_env({}), database_url=url, bpmn_dir=PROJECT_ROOT / "bpmn",
                           forms_dir=PROJECT_ROOT / "forms")
        services = bootstrap(settings, FixedClock(NOW))
        try:
            started = time.perf_counter()
            setup.migrate(services)
            setup.seed(services, demo=True)
            print(f"seeding {args.requests:,} requests ...", file=sys.stderr, flush=True)
            facts = seed_requests(services, args.requests)
            seeded = time.perf_counter() - started
            who = readers(services)
            for name, user, filters in queries(facts):
                wanted = listing.RequestFilters(**{"page": 1, **filters})
                print(f"measuring {name} ...", file=sys.stderr, flush=True)
                results.append(time_it(Sample(f"{name} ({user})", "service"), args.samples, lambda w=wanted, u=user:
                                       listing.list_requests(services, who[u], w).total or 0))
            with serving(services) as base:
                clients = {user: signed_in(base, user) for user in ("sam", "maria")}
                for (name, path), user in zip(HTTP_QUERIES, ("sam", "maria", "maria", "sam"), strict=True):
                    target = path.format(number=facts["number"])
                    print(f"measuring {name} over HTTP ...", file=sys.stderr, flush=True)

                    def fetch(t: str = target, u: str = user) -> int:
                        answer = clients[u].get(t)
                        assert answer.status_code == 200, (t, answer.status_code)
                        shown = SHOWING.search(answer.text)
                        return int(shown.group(1).replace(",", "")) if shown else 0

                    results.append(time_it(Sample(f"{name} ({user})", "HTTP"), args.samples, fetch))
                for client in clients.values():
                    client.close()
            database_facts = backend_facts(services)
        finally:
            services.engine.dispose()
    report(results, {
        "python": f"{platform.python_implementation()} {platform.python_version()} on {platform.platform()}",
        "cpus": f"{os.cpu_count()}, load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        "database": database_facts,
        "libraries": f"SQLAlchemy {version('SQLAlchemy')}, Flask {version('Flask')}",
        "requests": f"{args.requests:,} (seeded in {seeded:.1f} s, not timed)",
        "samples": f"{args.samples} per query after one warm-up; sequential, one process",
    })
    return 0


def report(results: list[Sample], facts: dict[str, str]) -> None:
    sys.stderr.flush()
    print()
    for name, value in facts.items():
        print(f"{name:<10} {value}")
    print()
    header = (f"{'query':<48} {'side':<8} {'found':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'cpu p50':>8}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.name:<48} {r.side:<8} {r.found:>6} {percentile(r.ms, 0.5):>8.1f} {percentile(r.ms, 0.95):>8.1f} "
              f"{max(r.ms):>8.1f} {percentile(r.cpu_ms, 0.5):>8.1f}")
    print()
    for side in ("service", "HTTP"):
        values = [v for r in results if r.side == side for v in r.ms]
        worst = max((r for r in results if r.side == side), key=lambda r: percentile(r.ms, 0.95))
        p95 = percentile(values, 0.95)
        print(f"{side:<8} all queries: p50 {percentile(values, 0.5):.1f} ms, p95 {p95:.1f} ms "
              f"({'PASS' if p95 < TARGET_P95_MS else 'FAIL'} against p95 < {TARGET_P95_MS:.0f} ms); "
              f"slowest query p95 {percentile(worst.ms, 0.95):.1f} ms ({worst.name})")


if __name__ == "__main__":
    raise SystemExit(main())
