"""Seeded databases made once per test session and copied into each test's database.

Every test that asks for `services` needs the same starting point: the schema migrated to head, the demo users
seeded and the bundled process deployed, all at the tests' clock. Doing that for each test (Alembic's whole
history, password hashing, parsing the diagrams) cost ~1.5 s on SQLite and ~2.5 s on PostgreSQL, about half of the
suite. Here it is done once per backend and copied:

* SQLite: the template file is copied with SQLite's own online backup (pages, WAL included);
* PostgreSQL: the template schema is dumped once with `pg_dump` (the PostgreSQL client beside the server) and the
  dump, renamed to the test's schema, is loaded with `psql` into the schema the `database_url` fixture created.

The copy is the database the slow path would have made: `test_seeded_copy_is_what_setup_makes` compares both, table
by table. Without `pg_dump`/`psql` (another machine's client-less PostgreSQL), PostgreSQL tests take the slow path.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

TEMPLATE_SCHEMA_PREFIX = "rf_template_"


class SeededTemplates:
    """Builds each backend's template lazily (the first test that needs it) and copies it on demand."""

    def __init__(self, workdir: Path, postgres_url: str, schema_url: Callable[[str], str],
                 make: Callable[[str], None]) -> None:
        self._workdir = workdir
        self._postgres_url = postgres_url
        self._schema_url = schema_url
        self._make = make  # migrates, seeds and deploys into the database at the given URL
        self._lock = threading.Lock()
        self._sqlite_template: Path | None = None
        self._postgres_dump: tuple[str, str] | None = None  # (template schema name, dump text)
        self._template_schema: str | None = None

    def copy_into(self, database_url: str) -> bool:
        """Make the database at `database_url` (empty, as `database_url` gives it) the seeded one; False when this
        backend has no template here and the caller must set the database up itself."""
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            self._copy_sqlite(Path(str(url.database)))
            return True
        if url.get_backend_name() == "postgresql" and _pg_client_available():
            schema = _search_path_schema(database_url)
            if schema is not None:
                self._copy_postgres(schema)
                return True
        return False

    def close(self) -> None:
        if self._template_schema is not None:
            admin = create_engine(self._postgres_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self._template_schema}" CASCADE'))
            admin.dispose()

    def _copy_sqlite(self, target: Path) -> None:
        with self._lock:
            if self._sqlite_template is None:
                path = self._workdir / "seeded-template.sqlite3"
                self._make(f"sqlite:///{path}")
                self._sqlite_template = path
        source = sqlite3.connect(self._sqlite_template)
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()

    def _copy_postgres(self, schema: str) -> None:
        with self._lock:
            if self._postgres_dump is None:
                self._postgres_dump = self._dump_postgres_template()
        template, dump = self._postgres_dump
        script = dump.replace(f"CREATE SCHEMA {template};", "").replace(template, schema)
        _psql(self._postgres_url, script)

    def _dump_postgres_template(self) -> tuple[str, str]:
        template = f"{TEMPLATE_SCHEMA_PREFIX}{uuid.uuid4().hex[:12]}"
        admin = create_engine(self._postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{template}"'))
        admin.dispose()
        self._template_schema = template
        self._make(self._schema_url(template))
        dump = subprocess.run(["pg_dump", *_libpq_arguments(self._postgres_url), "--schema", template,
                               "--no-owner", "--no-privileges"],
                              check=True, capture_output=True, text=True, env=_client_environment(self._postgres_url)
                              ).stdout
        return template, dump


def _pg_client_available() -> bool:
    return shutil.which("pg_dump") is not None and shutil.which("psql") is not None


def _search_path_schema(database_url: str) -> str | None:
    options = make_url(database_url).query.get("options", "")
    prefix = "-csearch_path="
    value = options if isinstance(options, str) else options[0]
    return value[len(prefix):] if value.startswith(prefix) else None


def _libpq_arguments(sqlalchemy_url: str) -> list[str]:
    url = make_url(sqlalchemy_url)
    arguments = ["--dbname", str(url.database or "postgres")]
    if url.host:
        arguments += ["--host", url.host]
    if url.port:
        arguments += ["--port", str(url.port)]
    if url.username:
        arguments += ["--username", url.username]
    return arguments


def _psql(postgres_url: str, script: str) -> None:
    subprocess.run(["psql", *_libpq_arguments(postgres_url), "--quiet", "--no-psqlrc", "--single-transaction",
                    "-v", "ON_ERROR_STOP=1"],
                   input=script, check=True, capture_output=True, text=True,
                   env=_client_environment(postgres_url))


def _client_environment(postgres_url: str) -> dict[str, str]:
    """The tests' environment without libpq's own PG* settings (the URL says where to connect), plus its password."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    password = make_url(postgres_url).password
    if password:
        environment["PGPASSWORD"] = password
    return environment
