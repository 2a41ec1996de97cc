"""What the app talks to during a scale run, all on loopback in this process: an SMTP server that counts messages by
Message-ID and can be stopped and started again (the mail server down for a while), the fake CRM, billing and ASD
of the test suite (`tests/external_systems.py`: they dedupe on Idempotency-Key and record every effect once), and
the suite's webhook receiver (`tests/webhook_receiver.py`: it checks every signature and records every receipt)."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

from bench.lifecycle import _free_port
from tests.external_systems import ExternalSystems
from tests.webhook_receiver import Receiver, serving


@dataclass
class Mail:
    message_id: str
    request_number: str
    subject: str
    to: list[str]


@dataclass
class MailSink:
    """aiosmtpd handler: every message received, in order (a repeat of one Message-ID is a second receipt)."""

    received: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        headers = BytesHeaderParser().parsebytes(envelope.content)
        with self.lock:
            self.received.append(Mail(str(headers.get("Message-ID", "")), str(headers.get("X-Request-Number", "")),
                                      str(headers.get("Subject", "")), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def by_message_id(self) -> Counter[str]:
        with self.lock:
            return Counter(m.message_id for m in self.received)


class SmtpServer:
    """The sink on a fixed local port; `stop()` closes the port (connections are refused) until `start()`."""

    def __init__(self) -> None:
        self.sink = MailSink()
        self.port = _free_port()
        self.controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self.controller is not None

    def start(self) -> None:
        if self.controller is None:
            self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class Sinks:
    smtp: SmtpServer
    external: ExternalSystems
    webhooks: Receiver

    def webhook_receipts(self) -> Counter[str]:
        with self.webhooks.lock:
            return Counter(r.event_id for r in self.webhooks.received)


@contextmanager
def running() -> Iterator[Sinks]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    smtp = SmtpServer()
    smtp.start()
    external = ExternalSystems()
    server = make_server("127.0.0.1", 0, external, threaded=True)
    external.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, name="external-systems", daemon=True)
    thread.start()
    try:
        with serving() as receiver:
            receiver.now = lambda: datetime.now(UTC)
            yield Sinks(smtp, external, receiver)
    finally:
        smtp.stop()
        server.shutdown()
        thread.join(5)
