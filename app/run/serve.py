"""Running the app for `rf serve`: the web server, the in-process worker thread and the optional local mail sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from app.bootstrap import Services
from app.run import worker_loop


class MailSink:
    """A local SMTP server that files every message it receives as an .eml under the instance folder's mail/."""

    def __init__(self, folder: Path, echo: Callable[[str], None]) -> None:
        self.folder = folder
        self.echo = echo
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        msg = message_from_bytes(envelope.content)
        path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{abs(hash(envelope.content)) % 10**8}.eml"
        path.write_bytes(envelope.content)
        self.echo(f"mail to {', '.join(envelope.rcpt_tos)}: {msg['Subject']}  ({path.name})")
        return "250 Message accepted for delivery"


def serve(app: Flask, services: Services, *, host: str, port: int, worker: bool, mail_sink: bool,
          echo: Callable[[str], None]) -> None:
    stop = threading.Event()
    controller = None
    if mail_sink:
        from aiosmtpd.controller import Controller

        sink = MailSink(services.settings.instance_dir / "mail", echo)
        controller = Controller(sink, hostname=services.settings.smtp_host, port=services.settings.smtp_port)
        controller.start()
        echo(f"mail sink on {services.settings.smtp_host}:{services.settings.smtp_port} ({sink.folder}/)")
    inbound = None
    if services.settings.inbound_mail_port:
        from app.run import inbound_mail

        where = f"{services.settings.inbound_mail_host}:{services.settings.inbound_mail_port}"
        try:
            inbound = inbound_mail.start(services)
            echo(f"customer replies received on {where} (reply+…@{services.settings.inbound_mail_domain})")
        except Exception as err:  # e.g. the port is taken: the web and the worker still run
            echo(f"customer replies NOT received: the inbound mail endpoint could not listen on {where} ({err}); "
                 "set RF_INBOUND_MAIL_PORT (0: off)")
    if worker:
        threading.Thread(target=worker_loop.run, args=(services, stop), daemon=True, name="rf-worker").start()
        echo("worker running in this process")
    server = make_server(host, port, app, threaded=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        services.wakeup.set()
        server.shutdown()
        if controller is not None:
            controller.stop()
        if inbound is not None:
            inbound.stop()
