"""Administration of the business calendar (working hours, holidays: add, remove, load a year's statutory list,
import an iCalendar file) and of the SLA targets, as on *Admin → Business calendar and SLA targets*."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any, Literal

from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.file import FileStorage
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.domain.input_limits import MAX_RECORD_NUMBER
from app.services.admin import calendar as calendar_admin
from app.web.api.common import ERRORS, SECURITY, WRITE_ERRORS, caller, idempotent, respond, tag
from app.web.context import services

bp = APIBlueprint("api_calendar", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Business calendar", "The working days and hours SLA clocks count, the holiday table, and the SLA targets. "
                         "Administrators only (anyone else is refused, 403); every change is in the audit log and "
                         "applies to requests logged afterwards.")], abp_security=SECURITY)

FIRST_YEAR, LAST_YEAR = calendar_admin.YEARS[0], calendar_admin.YEARS[-1]
RequestType = Literal["assistance", "enhancement"]
Priority = Literal["low", "medium", "high", "critical"]
Unit = Literal["business_hours", "business_days", "calendar_days"]
assert set(calendar_admin.MAX_AMOUNT) == {"business_hours", "business_days", "calendar_days"}


class YearQuery(BaseModel):
    year: int | None = Field(None, ge=FIRST_YEAR, le=LAST_YEAR, description="Default: this year (Oklahoma)")


class Holiday(BaseModel):
    id: int
    day: date
    weekday: str
    name: str
    source: Literal["statute", "manual", "ics"]
    created_by: str


class BusinessCalendar(BaseModel):
    time_zone: str
    working_days: list[str]
    day_start: str = Field(description="HH:MM, local time")
    day_end: str = Field(description="HH:MM, local time")
    year: int
    holidays: list[Holiday] = Field(description="The holidays of `year`, by date")
    loaded_years: list[int] = Field(description="Years whose statutory holidays were loaded")
    missing_years: list[int] = Field(description="This year and next, when not loaded yet")


class NewHoliday(BaseModel):
    day: date = Field(description="A weekday (Oklahoma date)")
    name: str = Field(min_length=2, max_length=200)


class HolidayId(BaseModel):
    holiday_id: int = Field(ge=1, le=MAX_RECORD_NUMBER)


class HolidayRecord(BaseModel):
    id: int
    day: date
    name: str
    source: Literal["statute", "manual", "ics"]


class YearToLoad(BaseModel):
    year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR)


class YearLoaded(BaseModel):
    year: int
    added: int = Field(description="How many dates were added (dates already holidays are kept)")


class IcsUpload(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    ics: FileStorage = Field(description=f"An iCalendar file of all-day events, at most "
                                         f"{calendar_admin.ICS_MAX_BYTES // 1024} KiB and "
                                         f"{calendar_admin.ICS_MAX_EVENTS} events, no recurring rules")


class DatedName(BaseModel):
    day: date
    name: str


class Imported(BaseModel):
    added: list[DatedName]
    already_present: list[date]
    weekend_skipped: list[date]
    cancelled_skipped: int


class SlaTarget(BaseModel):
    request_type: RequestType
    priority: Priority
    amount: int
    unit: Unit
    text: str = Field(description="The target in words")
    default: str = Field(description="The agreed default in words")
    updated_by: str | None
    updated_at: datetime | None
    due_if_logged_now: datetime


class SlaTargets(BaseModel):
    targets: list[SlaTarget]


class TargetSetting(BaseModel):
    request_type: RequestType
    priority: Priority
    amount: int = Field(ge=1, le=max(calendar_admin.MAX_AMOUNT.values()),
                        description=", ".join(f"{unit}: 1-{most}" for unit, most in calendar_admin.MAX_AMOUNT.items()))
    unit: Unit


class TargetSettings(BaseModel):
    targets: list[TargetSetting] = Field(min_length=1, max_length=8,
                                         description="The targets to set; those not listed keep theirs")

    @model_validator(mode="after")
    def _once_each(self) -> TargetSettings:
        pairs = [(t.request_type, t.priority) for t in self.targets]
        if len(set(pairs)) != len(pairs):
            raise ValueError("each request type and priority at most once")
        return self

    def as_form(self) -> dict[str, str]:
        """The fields of the admin page's form, which the service reads."""
        fields: dict[str, str] = {}
        for t in self.targets:
            fields[f"amount-{t.request_type}-{t.priority}"] = str(t.amount)
            fields[f"unit-{t.request_type}-{t.priority}"] = t.unit
        return fields


class TargetChange(BaseModel):
    request_type: str
    priority: str
    before: str
    after: str


class TargetChanges(BaseModel):
    changes: list[TargetChange] = Field(description="Only the targets that changed (each one audited)")


def _targets(overview: dict[str, Any]) -> SlaTargets:
    return SlaTargets(targets=[SlaTarget(**row) for row in overview["targets"]])


@bp.get("/admin/calendar", summary="Read the business calendar and a year's holidays",
        responses={200: BusinessCalendar, **ERRORS})
def read_calendar(query: YearQuery) -> tuple[dict[str, Any], int]:
    """The working days and hours in their time zone, the holidays of one year, and which years' statutory
    holidays were loaded."""
    data = calendar_admin.overview(services(), caller())
    year = query.year or data["this_year"]
    holidays = dict(data["holidays_by_year"]).get(year, [])
    return respond(BusinessCalendar(
        time_zone=data["time_zone"], working_days=data["working_days"], day_start=data["day_start"],
        day_end=data["day_end"], year=year, holidays=[Holiday(**h) for h in holidays],
        loaded_years=data["loaded_years"], missing_years=data["missing_years"]))


@bp.post("/admin/calendar/holidays", summary="Add a holiday", responses={201: HolidayRecord, **WRITE_ERRORS})
@idempotent
def add_holiday(body: NewHoliday) -> tuple[dict[str, Any], int]:
    """A weekday from 2000 to 2100 that is not a holiday yet (409 when it is) becomes one (`holiday_added`).
    Honours `Idempotency-Key`."""
    added = calendar_admin.add_holiday(services(), caller(), body.day.isoformat(), body.name)
    return respond(HolidayRecord.model_validate(asdict(added)), 201)


@bp.delete("/admin/calendar/holidays/<holiday_id>", summary="Remove a holiday",
           responses={200: HolidayRecord, **WRITE_ERRORS})
def remove_holiday(path: HolidayId) -> tuple[dict[str, Any], int]:
    """The date is a working day again (`holiday_removed`); answers the holiday removed."""
    return respond(HolidayRecord.model_validate(asdict(calendar_admin.remove_holiday(services(), caller(),
                                                                                   path.holiday_id))))


@bp.post("/admin/calendar/years", summary="Load a year's statutory holidays",
         responses={201: YearLoaded, **WRITE_ERRORS})
@idempotent
def load_year(body: YearToLoad) -> tuple[dict[str, Any], int]:
    """The federal and state holidays Oklahoma observes (25 O.S. §82.1) of a year never loaded before (409 when it
    was: add or remove single dates instead), in one audited change (`holidays_loaded`). Check them against the
    Governor's Executive Order. Honours `Idempotency-Key`."""
    added = calendar_admin.load_year(services(), caller(), str(body.year))
    return respond(YearLoaded(year=body.year, added=added), 201)


@bp.post("/admin/calendar/import", summary="Import holidays from an iCalendar file",
         responses={201: Imported, **WRITE_ERRORS})
def import_ics(form: IcsUpload) -> tuple[dict[str, Any], int]:
    """A `multipart/form-data` upload (field `ics`). Every all-day weekday event not yet a holiday is added, in one
    audited change (`holidays_imported`); a file with any error is refused whole (422 naming the problem)."""
    content = form.ics.stream.read(calendar_admin.ICS_MAX_BYTES + 1)
    done = calendar_admin.import_ics(services(), caller(), content, form.ics.filename or "")
    return respond(Imported(added=[DatedName(day=h.day, name=h.name) for h in done.added],
                            already_present=done.already_present, weekend_skipped=done.weekend,
                            cancelled_skipped=done.cancelled), 201)


@bp.get("/admin/sla-targets", summary="Read the SLA targets", responses={200: SlaTargets, **ERRORS})
def read_targets() -> tuple[dict[str, Any], int]:
    """The target of each request type and priority, its default, who changed it last, and when a request logged
    now would be due."""
    return respond(_targets(calendar_admin.overview(services(), caller())))


@bp.patch("/admin/sla-targets", summary="Set SLA targets", responses={200: TargetChanges, **WRITE_ERRORS})
def set_targets(body: TargetSettings) -> tuple[dict[str, Any], int]:
    """Sets the listed targets (those not listed keep theirs); only changes are written, each audited
    (`sla_target_changed`), and nothing is written when any is out of bounds for its unit (422). Requests already
    logged keep their due dates."""
    changes = calendar_admin.set_targets(services(), caller(), body.as_form())
    return respond(TargetChanges(changes=[TargetChange(**change) for change in changes]))
