"""The inbound SMTP endpoint: every message it accepts goes to `customer_replies.receive` (it completes the waiting
task or is kept as unfiled mail). `rf serve` runs it beside the web (RF_INBOUND_MAIL_PORT, 0: off) and
`rf inbound-mail` alone (production: point the MX of RF_INBOUND_MAIL_DOMAIN, or a relay, at it)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller

from app.bootstrap import Services
from app.services.requests import customer_replies

log = logging.getLogger("rf.inbound_mail")
SMTP_SIZE_LIMIT = 32 * 1024 * 1024  # beyond this the SMTP server itself answers 552; below it, too large is unfiled


class InboundMail:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        try:  # the database work runs beside the SMTP server's event loop, which goes on taking connections
            outcome = await asyncio.get_running_loop().run_in_executor(
                None, customer_replies.receive, self.services, raw, str(envelope.mail_from or ""),
                [str(r) for r in envelope.rcpt_tos])
        except Exception:  # the message is not lost: the sender's server retries after a 4xx
            log.exception("inbound mail could not be stored")
            return "451 Requested action aborted: try again later"
        log.info("inbound mail %s", outcome.status, extra={"request_number": outcome.request_number,
                                                           "reason": outcome.reason})
        return "250 Message accepted for delivery"


def start(services: Services, host: str | None = None, port: int | None = None) -> Controller:
    """Start the endpoint in a thread of its own (stop it with `.stop()`)."""
    controller = Controller(InboundMail(services), hostname=host or services.settings.inbound_mail_host,
                            port=services.settings.inbound_mail_port if port is None else port,
                            data_size_limit=SMTP_SIZE_LIMIT, decode_data=False)
    controller.start()
    return controller
