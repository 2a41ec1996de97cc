"""Times on pages, in the reader's zone: the Jinja filters every template uses (`when`, `moment`, `day`).

The words come from `app.domain.local_time`; this module only knows whose zone it is: the signed-in user's choice
(Preferences), else the installation's (RF_TIME_ZONE). `when` also keeps the exact instant for machines in a
`<time datetime="…Z">` element.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g
from markupsafe import Markup, escape

from app.domain import local_time


def installation_zone() -> ZoneInfo:
    return local_time.zone(current_app.extensions["rf_services"].settings.time_zone)


def viewer_zone() -> ZoneInfo:
    """The signed-in user's zone when they chose one, else the installation's."""
    who = g.get("identity")
    chosen = getattr(who, "time_zone", None)
    if chosen:
        try:
            return local_time.zone(chosen)
        except local_time.UnknownTimeZone:  # a zone removed from tzdata since it was chosen: fall back
            pass
    return installation_zone()


def moment(value: datetime | str | None, year: bool = True) -> str:
    return local_time.moment(value, viewer_zone(), year=year)


def day(value: date | datetime | str | None) -> str:
    return local_time.calendar_date(value, viewer_zone())


def when(value: datetime | str | None, year: bool = True, empty: str = "—") -> Markup:
    """`<time datetime="2026-12-03T17:07:00Z">Thu 3 Dec 2026, 11:07 CST</time>`; `empty` when there is none."""
    if value is None or value == "":
        return Markup(escape(empty))
    return Markup('<time datetime="{}">{}</time>').format(local_time.iso_utc(value), moment(value, year))


def install(app: Flask) -> None:
    app.jinja_env.filters.update(when=when, moment=moment, day=day)

    @app.context_processor
    def _zone() -> dict[str, Any]:
        return {"viewer_zone": viewer_zone}
