"""The copied seeded database (tests/seeded_databases.py) is the one `set_up_database` makes: same tables, same
rows, same migration head, an intact audit log, and a copy that takes new writes (sequences carried over)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import MetaData, create_engine, func, select, text

from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.services.requests import intake
from app.store import audit
from tests.conftest import POSTGRES_URL, START, _postgres_schema_url, set_up_database
from tests.driver import REQUEST


def _row_counts(svc: Services) -> dict[str, int]:
    metadata = MetaData()
    metadata.reflect(svc.engine)
    with svc.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in metadata.tables.items()}


@pytest.fixture
def set_up_slowly(services: Services) -> Iterator[Services]:
    """A second database of the same backend as `services`, set up the slow way (no template)."""
    url = services.settings.database_url
    schema = None
    if url.startswith("sqlite"):
        other_url = url.replace(".sqlite3", "-slow.sqlite3")
    else:
        schema = f"rf_test_slow_{uuid.uuid4().hex[:12]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        other_url = _postgres_schema_url(schema)
    slow = bootstrap(replace(services.settings, database_url=other_url), FixedClock(START))
    set_up_database(slow)
    yield slow
    slow.engine.dispose()
    if schema is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_the_copy_has_every_table_and_row_the_slow_set_up_makes(services: Services, set_up_slowly: Services) -> None:
    copied = _row_counts(services)
    assert copied == _row_counts(set_up_slowly)
    assert copied["alembic_version"] == 1 and copied["app_user"] > 0 and copied["definition_version"] > 0
    with services.uow() as uow:
        assert audit.verify(uow.session).intact


def test_the_copy_takes_new_requests_and_keeps_its_audit_log_intact(services: Services) -> None:
    first = intake.new_request(services, "assistance", REQUEST, "ann.logger")
    second = intake.new_request(services, "assistance", REQUEST, "ann.logger")
    assert second.id == first.id + 1
    with services.uow() as uow:
        assert audit.verify(uow.session).intact
