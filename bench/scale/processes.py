"""The app as production runs it, as real processes on loopback: `rf serve --processes N --no-worker` (gunicorn) and
M `rf worker` processes, all with the same environment; a supervisor restarts an `rf worker` that died (as systemd
would), gunicorn restarts its own processes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from app.config import PROJECT_ROOT

RF = Path(sys.executable).parent / "rf"


def children(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc); [] when it is gone."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Stack:
    """One run's processes. `env` is the app's environment (database, SMTP, external systems...)."""

    env: dict[str, str]
    web_processes: int
    workers: int
    logs: Path
    port: int
    web: subprocess.Popen[bytes] | None = None
    worker_procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    restarts: int = 0  # rf worker processes the supervisor started again
    lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        env = self.env
        if args[0] == "worker":  # its INFO lines say when it listens (and log every job it runs)
            env = {**env, "RF_LOG_LEVEL": "INFO"}
        with (self.logs / log_name).open("ab") as out:
            return subprocess.Popen([str(RF), *args], env=env, cwd=PROJECT_ROOT,  # noqa: S603 - our own script
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self.web = self._spawn(["serve", "--host", "127.0.0.1", "--port", str(self.port), "--processes",
                                str(self.web_processes), "--no-worker", "--timeout", "60"], "web.log")
        self.worker_procs = [self._spawn(["worker"], f"worker-{i}.log") for i in range(self.workers)]
        self.wait_ready()
        self._supervisor = threading.Thread(target=self._supervise, name="rf-worker-supervisor", daemon=True)
        self._supervisor.start()

    def wait_ready(self, timeout: float = 90) -> None:
        """Until /ready answers, gunicorn has all its processes and every `rf worker` listens for work."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.web is not None
            if self.web.poll() is not None:
                raise RuntimeError(f"rf serve exited ({self.web.returncode}); see {self.logs / 'web.log'}")
            listening = sum("LISTEN rf_work" in (self.logs / f"worker-{i}.log").read_text(errors="replace")
                            for i in range(self.workers))
            try:
                with urllib.request.urlopen(f"{self.base}/ready", timeout=2):  # noqa: S310 - a local URL
                    if len(children(self.web.pid)) >= self.web_processes and listening == self.workers:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"rf serve and its workers not ready after {timeout} s; see the logs in {self.logs}")

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            with self.lock:
                for i, proc in enumerate(self.worker_procs):
                    if proc.poll() is not None and not self._stop.is_set():
                        self.worker_procs[i] = self._spawn(["worker"], f"worker-{i}.log")
                        self.restarts += 1

    def web_pids(self) -> list[int]:
        """gunicorn's worker processes (the arbiter's children)."""
        return children(self.web.pid) if self.web is not None else []

    def kill_random(self, rng: random.Random) -> str:
        """kill -9 one gunicorn process or one `rf worker`, at random; says which."""
        with self.lock:
            victims = [("web", pid) for pid in self.web_pids()] + \
                      [("worker", p.pid) for p in self.worker_procs if p.poll() is None]
            if not victims:
                return "nothing to kill"
            kind, pid = rng.choice(victims)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return f"{kind} {pid} already gone"
        return f"kill -9 {kind} process {pid}"

    def stop(self) -> None:
        """SIGTERM everything (graceful: gunicorn finishes requests in flight, workers their job), then wait."""
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        procs = [p for p in [self.web, *self.worker_procs] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
