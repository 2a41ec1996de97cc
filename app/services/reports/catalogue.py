"""The reports: fulfilment per provider group and agency, aging of open requests, outstanding enhancement requests,
SLA breaches and chargeable work billed per agency; each as a page and as a CSV download.

Who reads them and which groups they see: :mod:`app.services.reports.filters`. How each number is measured is
written on each report (``Report.notes``) and in :mod:`app.domain.measures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.measures import local_date
from app.domain.permissions import Identity
from app.errors import Forbidden, NotFound
from app.services.context import Context
from app.services.reports.billing import billing
from app.services.reports.breaches import breaches
from app.services.reports.enhancements import outstanding
from app.services.reports.filters import (
    BadFilter,
    ReportFilters,
    covered_groups,
    may_read_reports,
    parse_filters,
    readable_groups,
)
from app.services.reports.fulfilment import aging, fulfilment
from app.services.reports.tables import Builder, Report, ReportContext, to_csv
from app.services.requests import sla_targets as sla
from app.store import audit


@dataclass(frozen=True)
class ReportKind:
    name: str
    title: str
    description: str
    build: Builder


REPORTS: dict[str, ReportKind] = {kind.name: kind for kind in (
    ReportKind("fulfilment", "Fulfilment", "Volume, mean and p90 time to fulfil and % within target, per provider "
               "group and per agency.", fulfilment),
    ReportKind("aging", "Aging of open requests", "Open requests by business days since logging, per provider "
               "group.", aging),
    ReportKind("outstanding", "Outstanding enhancement requests", "Open enhancement requests with their stage, "
               "plan, and whether they will miss the 60 day plan.", outstanding),
    ReportKind("breaches", "SLA breaches", "Requests whose SLA target passed while open, with their escalations.",
               breaches),
    ReportKind("billing", "Chargeable work billed per agency", "Billing cases of chargeable enhancements: count, "
               "hours and amount per agency.", billing),
)}


@dataclass
class ReportPage:
    kind: ReportKind
    given: dict[str, str]  # the filters as typed
    groups: dict[str, str]  # the groups the user may choose
    report: Report | None = None  # None when a filter was not understood
    filters: ReportFilters | None = None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class CsvDownload:
    content: bytes
    filename: str


def _kind(name: str) -> ReportKind:
    if name not in REPORTS:
        raise NotFound(f"no report {name!r}; the reports are {', '.join(REPORTS)}")
    return REPORTS[name]


def _build(services: Context, identity: Identity, kind: ReportKind, given: dict[str, str]) -> ReportPage:
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        visible = readable_groups(s, identity)
        page = ReportPage(kind, given, visible)
        calendar = sla.load_calendar(s)
        filters = parse_filters(local_date(now, calendar), given.get("since"), given.get("until"),
                                given.get("group"), given.get("type"))
        covered = covered_groups(s, visible, filters.group)
        page.filters = filters
        page.report = kind.build(ReportContext(s, calendar, filters, covered, now))
        return page


def report_page(services: Context, identity: Identity, name: str, given: dict[str, str]) -> ReportPage:
    """A report for its page; a filter that cannot be understood comes back in `errors` (and no report)."""
    kind = _kind(name)
    try:
        return _build(services, identity, kind, given)
    except BadFilter as err:
        with services.uow() as uow:
            visible = readable_groups(uow.session, identity)
        return ReportPage(kind, given, visible, errors={e.field: e.message for e in err.errors} or {"": str(err)})


def _log_auditor_download(services: Context, identity: Identity, name: str, fmt: str, args: dict[str, str]) -> None:
    if identity.has_role("auditor"):
        with services.uow() as uow:
            audit.append(uow.session, actor=identity.username, event_type="auditor_viewed", now=services.clock.now(),
                         payload={"view": "report", "report": name, "format": fmt, **args})
            uow.commit()


def report_data(services: Context, identity: Identity, name: str, given: dict[str, str]) -> ReportPage:
    """The report as data for the API (a bad filter raises BadFilter, 400): the same report as the page and the CSV;
    an auditor's download is logged as the CSV's is (auditor_viewed, format json)."""
    page = _build(services, identity, _kind(name), given)
    assert page.report is not None and page.filters is not None
    _log_auditor_download(services, identity, name, "json", page.filters.args())
    return page


def export_csv(services: Context, identity: Identity, name: str, given: dict[str, str]) -> CsvDownload:
    """The report as CSV (a bad filter raises BadFilter); an auditor's download is logged (auditor_viewed)."""
    page = _build(services, identity, _kind(name), given)
    assert page.report is not None and page.filters is not None
    args = page.filters.args()
    _log_auditor_download(services, identity, name, "csv", args)
    suffix = "_".join(args[k] for k in ("group", "type") if k in args)
    filename = f"{name}_{args['since']}_{args['until']}{'_' + suffix if suffix else ''}.csv"
    return CsvDownload(to_csv(page.report).encode("utf-8"), filename)


def report_index(identity: Identity) -> list[ReportKind]:
    if not may_read_reports(identity):
        raise Forbidden("reports are for provider group managers, customer account representatives, auditors, "
                        "administrators and process owners")
    return list(REPORTS.values())
