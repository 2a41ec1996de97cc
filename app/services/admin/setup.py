"""Database migration and reference data (roles, provider groups, demo users)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.adapters.crm import case_number
from app.services.admin import auth
from app.services.admin import calendar as calendar_admin
from app.services.context import Context
from app.store import audit
from app.store.models import CrmCase, Membership, ProviderGroup, Role, User

MIGRATIONS = Path(__file__).resolve().parents[2] / "store" / "schema_migrations"

# code, name, BPMN lane the role acts in
ROLES: list[tuple[str, str, str | None]] = [
    ("manager", "Provider Group Manager", "Provider Group Manager"),
    ("specialist", "Specialist", "Specialist"),
    ("service_provider", "Service Provider", "Service Provider"),
    ("car", "Customer Account Representative", "Customer Account Representative"),
    ("process_owner", "Process Owner", None),
    ("auditor", "Auditor", None),
    ("admin", "Administrator", None),
]

PROVIDER_GROUPS = [("network", "Network Context"), ("apps", "Application Context")]

DEMO_PASSWORD = "demo"
# username, full name, [(role, group or None)]
DEMO_USERS: list[tuple[str, str, list[tuple[str, str | None]]]] = [
    ("maria", "Maria Manager", [("manager", "network"), ("manager", "apps")]),
    ("sam", "Sam Specialist", [("specialist", "network")]),
    ("sara", "Sara Specialist", [("specialist", "network")]),
    ("pete", "Pete Provider", [("service_provider", "apps"), ("service_provider", "network")]),
    ("carla", "Carla CAR", [("car", "apps"), ("car", "network")]),
    ("olive", "Olive Owner", [("process_owner", None)]),
    ("audrey", "Audrey Auditor", [("auditor", None)]),
    ("adam", "Adam Admin", [("admin", None)]),
]


# Assistance requests waiting in the CRM Pending Queue of a demo installation.
DEMO_CASES = [
    ("Oklahoma Tourism and Recreation Department", "Ann Agency", "ann@travelok.example", "network",
     "VPN access for the Guthrie field office", "Two new rangers need VPN profiles before Monday."),
    ("Oklahoma Department of Libraries", "Lee Librarian", "lee@libraries.example", "network",
     "Wi-Fi drops in the reading room", "Access point on the second floor restarts several times a day."),
    ("Oklahoma Tax Commission", "Tia Taxes", "tia@tax.example", "apps",
     "Reset workflow for the refund approval report", "The nightly report stopped after the upgrade."),
]


def migrate(services: Context) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with services.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def _seed_roles(session: Session) -> int:
    existing = {r.code for r in session.scalars(select(Role))}
    added = 0
    for code, name, lane in ROLES:
        if code not in existing:
            session.add(Role(code=code, name=name, lane=lane))
            added += 1
    return added


def _seed_demo(session: Session) -> int:
    groups = {g.code: g for g in session.scalars(select(ProviderGroup))}
    for code, name in PROVIDER_GROUPS:
        if code not in groups:
            groups[code] = ProviderGroup(code=code, name=name)
            session.add(groups[code])
    session.flush()
    roles = {r.code: r for r in session.scalars(select(Role))}
    users = {u.username for u in session.scalars(select(User))}
    added = 0
    for username, full_name, grants in DEMO_USERS:
        if username in users:
            continue
        user = User(username=username, full_name=full_name, email=f"{username}@omes.example",
                    password_hash=_demo_password_hash())
        user.memberships = [Membership(role=roles[r], provider_group=groups[g] if g else None) for r, g in grants]
        session.add(user)
        added += 1
    return added


@cache
def _demo_password_hash() -> str:
    """One (salted, slow) hash of the demo password for every demo user of this process: they share it anyway."""
    return generate_password_hash(DEMO_PASSWORD)


def _seed_cases(session: Session, now: datetime) -> int:
    if session.scalars(select(CrmCase).limit(1)).first() is not None:
        return 0
    for agency, name, email, group, subject, description in DEMO_CASES:
        case = CrmCase(agency=agency, requester_name=name, requester_email=email, provider_group=group,
                       subject=subject, description=description, opened_at=now)
        session.add(case)
        session.flush()
        case.case_number = case_number(case.id)
    return len(DEMO_CASES)


def seed(services: Context, demo: bool) -> dict[str, Any]:
    """Roles, the statutory holidays of the clock's current and next year, the default SLA targets (and demo data)."""
    now = services.clock.now()
    with services.uow() as uow:
        roles = _seed_roles(uow.session)
        uow.session.flush()
        users = _seed_demo(uow.session) if demo else 0
        if demo:
            auth.mark_demo(uow.session, now)  # the login page lists the demo accounts on this installation only
        if users:
            _seed_cases(uow.session, now)
        calendar = calendar_admin.seed(uow.session, now)
        if roles or users or calendar["holidays_added"] or calendar["sla_targets_added"]:
            audit.append(uow.session, actor="system", event_type="reference_data_seeded",
                         payload={"roles_added": roles, "demo_users_added": users, **calendar}, now=now)
        uow.commit()
    return {"roles_added": roles, "demo_users_added": users, **calendar}
