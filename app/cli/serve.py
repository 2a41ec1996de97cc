"""`rf serve`: the web app with the worker (and a local mail sink) beside it."""

from __future__ import annotations

import click

from app.cli.support import command, open_services


@click.command("serve", help="Start the web app with the worker running beside it.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--worker/--no-worker", default=True, show_default=True, help="Run the worker in this process.")
@click.option("--mail-sink/--no-mail-sink", default=None,
              help="Start a local SMTP server that stores mail under mail/ of the instance folder "
                   "(RF_INSTANCE_DIR; default: on unless RF_SMTP_HOST is set).")
@command
def serve_cmd(host: str, port: int, worker: bool, mail_sink: bool | None) -> None:
    import os

    from app.run.serve import serve
    from app.services.admin import auth
    from app.services.requests import queries
    from app.web import create_app

    services = open_services()
    if mail_sink is None:
        mail_sink = "RF_SMTP_HOST" not in os.environ
    users = queries.list_users(services) if auth.is_demo(services) else []  # a demo installation only
    click.echo(f"Request Fulfillment on http://{host}:{port}/  (database: {services.engine.url.render_as_string()})")
    if users:
        click.echo("Accounts (demo password 'demo'):")
        for user in users:
            click.echo(f"  {user['username']:<8} {user['full_name']:<18} {', '.join(user['roles'])}")
    if services.settings.clock_start:
        click.echo(f"The clock started at {services.settings.clock_start.isoformat()} (RF_CLOCK_START), not now.")
    serve(create_app(services), services, host=host, port=port, worker=worker, mail_sink=mail_sink, echo=click.echo)
