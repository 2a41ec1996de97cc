"""`rf inbound-mail`: the inbound SMTP endpoint alone, for production (customer replies to questions)."""

from __future__ import annotations

import click

from app.cli.support import command, open_services


@click.command("inbound-mail", help="Receive the customers' emailed replies over SMTP: a reply whose reply token "
                                    "names a request waiting for it completes 'Await the customer's reply'; any "
                                    "other mail is kept as unfiled mail for a person to file. Runs until stopped.")
@click.option("--host", default=None, help="Address to listen on (default RF_INBOUND_MAIL_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to listen on (default RF_INBOUND_MAIL_PORT, 8026).")
@command
def inbound_mail_cmd(host: str | None, port: int | None) -> None:
    import signal
    import threading

    from app.observability import logs
    from app.run import inbound_mail

    services = open_services()
    logs.configure(services.settings.log_format, services.settings.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    controller = inbound_mail.start(services, host, port or services.settings.inbound_mail_port or 8026)
    click.echo(f"customer replies received on {controller.hostname}:{controller.port} "
               f"(reply+…@{services.settings.inbound_mail_domain})")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
