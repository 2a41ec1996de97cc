"""`rf serve`: the web app with the worker (and a local mail sink) beside it; or, with --processes N, under gunicorn."""

from __future__ import annotations

import logging

import click

from app.bootstrap import Services
from app.cli.support import command, open_services


@click.command("serve", help="Start the web app. Without --processes: Werkzeug's development server with the worker "
                            "running beside it in this process (and a local mail sink). With --processes N: gunicorn "
                            "with N processes and no worker (run `rf worker` beside it, or pass --worker).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="Serve with gunicorn: this many processes (production).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True,
              help="With --processes: threads per process (keep RF_DB_POOL_SIZE at least this).")
@click.option("--timeout", type=click.IntRange(1, 3600), default=60, show_default=True,
              help="With --processes: a process silent this many seconds is restarted.")
@click.option("--graceful-timeout", type=click.IntRange(1, 3600), default=30, show_default=True,
              help="With --processes: how long SIGTERM waits for the requests in flight.")
@click.option("--worker/--no-worker", default=None,
              help="Run the worker too (default: in this process without --processes; not with --processes, where "
                   "--worker starts one `rf worker` process beside gunicorn).")
@click.option("--mail-sink/--no-mail-sink", default=None,
              help="Start a local SMTP server that stores mail under mail/ of the instance folder "
                   "(RF_INSTANCE_DIR; default: on unless RF_SMTP_HOST is set; never with --processes).")
@command
def serve_cmd(host: str, port: int, processes: int | None, threads: int, timeout: int, graceful_timeout: int,
              worker: bool | None, mail_sink: bool | None) -> None:
    import os

    if processes is not None:
        if mail_sink:
            raise click.UsageError("--mail-sink is for the development server; with --processes send mail to a real "
                                   "SMTP server (RF_SMTP_HOST)")
        _serve_production(host, port, processes, threads, timeout, graceful_timeout, bool(worker))
        return

    from app.observability import logs
    from app.run.serve import serve
    from app.web import create_app

    services = open_services()
    logs.configure(services.settings.log_format, services.settings.log_level)
    if mail_sink is None:
        mail_sink = "RF_SMTP_HOST" not in os.environ
    _banner(services, host, port)
    serve(create_app(services), services, host=host, port=port, worker=worker is not False, mail_sink=mail_sink,
          echo=click.echo)


def _banner(services: Services, host: str, port: int, how: str = "") -> None:
    """The human lines on stdout: the URL, the database, the demo accounts, the clock."""
    from app.services.admin import auth
    from app.services.requests import queries

    users = queries.list_users(services) if auth.is_demo(services) else []  # a demo installation only
    click.echo(f"Request Fulfillment on http://{host}:{port}/{how}  "
               f"(database: {services.engine.url.render_as_string()})")
    if users:
        click.echo("Accounts (demo password 'demo'):")
        for user in users:
            click.echo(f"  {user['username']:<8} {user['full_name']:<18} {', '.join(user['roles'])}")
    if services.settings.clock_start:
        click.echo(f"The clock started at {services.settings.clock_start.isoformat()} (RF_CLOCK_START), not now.")


def _serve_production(host: str, port: int, processes: int, threads: int, timeout: int, graceful_timeout: int,
                      worker: bool) -> None:
    import shutil

    from app.observability import metrics_dir

    # prometheus-client picks its multiprocess mode when first imported: the directory is set before that
    own_dir = metrics_dir.prepare()
    try:
        from app.observability import logs
        from app.run import production

        services = open_services()
        settings = services.settings
        logs.configure(settings.log_format, settings.log_level)
        _banner(services, host, port, f"  (gunicorn, {processes} processes x {threads} threads"
                                      f"{', a worker beside it' if worker else '; run `rf worker` for the worker'})")
        services.close()  # the parent's connections: closed before any fork (each process opens its own)

        def factory() -> object:
            from app.services.definitions import version_cache
            from app.web import create_app

            app = create_app()
            try:  # each process restores the current versions' specs before its first request, not during it
                version_cache.warm(app.extensions["rf_services"])
            except Exception:  # noqa: BLE001 - a database not ready yet: the first requests restore them instead
                logging.getLogger("rf.serve").warning("could not preload the process specs", exc_info=True)
            return app

        production.run(production.Options(host=host, port=port, processes=processes, threads=threads,
                                          timeout=timeout, graceful_timeout=graceful_timeout,
                                          log_format=settings.log_format, log_level=settings.log_level,
                                          worker=worker), factory)
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
