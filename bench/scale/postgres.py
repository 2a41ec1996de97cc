"""The PostgreSQL of a fault run, and how to restart it.

A fault run restarts PostgreSQL midway. Restarting a server other programs use would break their work, so by default
the run gets a private cluster of its own: `initdb` into a temporary directory, `pg_ctl start` on a free local port,
trust authentication on loopback only, removed afterwards; the restart is `pg_ctl restart -m fast` (every
connection is dropped, the server is down for a moment, then accepts again). PostgreSQL refuses to run as root, so
as root the cluster runs as the `postgres` system user (`runuser`). When no `initdb` is found the run uses
`--database-url` and falls back to terminating every connection of the app's database (`pg_terminate_backend`),
which looks the same to the app (every pooled connection and the workers' LISTEN connections die) but is not a
restart; the report says which one was done.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.lifecycle import _free_port


def _bindir() -> Path | None:
    """Where initdb and pg_ctl are: `pg_config --bindir`, else PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    config = shutil.which("pg_config")
    if config:
        found = subprocess.run([config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if found and (Path(found) / "initdb").exists():
            return Path(found)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return debian[-1].parent if debian else None


@dataclass
class Restarter:
    """How this run restarts PostgreSQL (`what` says it in words for the report)."""

    what: str
    bindir: Path | None = None
    datadir: Path | None = None
    user: str | None = None
    url: str = ""

    def _pg(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.bindir is not None
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603

    def restart(self) -> str:
        """Restart (or, without a private cluster, cut every connection); returns what was done and how long."""
        started = time.monotonic()
        if self.datadir is not None:
            done = self._pg("pg_ctl", "restart", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60",
                            "-l", str(self.datadir / "server.log"))
            if done.returncode != 0:
                raise RuntimeError(f"pg_ctl restart failed: {done.stderr or done.stdout}")
            return f"PostgreSQL restarted (pg_ctl restart -m fast) in {time.monotonic() - started:.1f} s"
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                killed = conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        finally:
            engine.dispose()
        return f"every connection of the database terminated (pg_terminate_backend: {killed}); not a restart"


@contextmanager
def private_cluster() -> Iterator[tuple[str, Restarter]]:
    """A throw-away cluster; yields its URL (database `postgres`, user `postgres`) and its restarter."""
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("no initdb found (pg_config --bindir, PATH)")
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        pwd.getpwnam(user)  # KeyError: no such user
    with tempfile.TemporaryDirectory(prefix="rf-scale-pg-") as tmp:
        datadir = Path(tmp) / "data"
        if user:
            os.chmod(tmp, 0o755)
            datadir.mkdir()
            shutil.chown(datadir, user, user)
        restarter = Restarter("", bindir, datadir, user)
        done = restarter._pg("initdb", "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                             "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        port = _free_port()
        with (datadir / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{datadir}'\n"
                       "max_connections = 200\n")
        done = restarter._pg("pg_ctl", "start", "-D", str(datadir), "-w", "-t", "60", "-l",
                             str(datadir / "server.log"))
        if done.returncode != 0:
            log = (datadir / "server.log").read_text() if (datadir / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}\n{log[-2000:]}")
        restarter.what = f"private cluster on 127.0.0.1:{port}"
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", restarter
        finally:
            restarter._pg("pg_ctl", "stop", "-D", str(datadir), "-m", "immediate", "-w", "-t", "30")
