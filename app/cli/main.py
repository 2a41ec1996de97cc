"""`rf`: the command line. Every command takes --json for scripting; bad input exits non-zero with a clear message.

Each command group lives in its own module of this package; this one puts them together under `rf`.
"""

from __future__ import annotations

import click

from app.cli import (
    audit,
    definitions,
    inbound_mail,
    instance_moves,
    outbox,
    replay,
    requests,
    serve,
    tasks,
    tokens,
    webhooks,
    worker,
)


@click.group(help="Request Fulfillment: BPMN-driven assistance and enhancement requests.")
def cli() -> None:
    pass


for command in [definitions.init_cmd, definitions.deploy_cmd, definitions.check_cmd, requests.request_group,
                requests.show_cmd, requests.users_cmd, tasks.tasks_cmd, tasks.claim_cmd, tasks.complete_cmd,
                tasks.form_cmd, worker.worker_cmd, worker.incidents_cmd, worker.retry_cmd, serve.serve_cmd,
                audit.audit_group, audit.export_cmd, replay.replay_cmd, instance_moves.migrate_cmd,
                outbox.outbox_group, definitions.make_current_cmd, tokens.token_group,
                webhooks.webhooks_group, inbound_mail.inbound_mail_cmd]:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="rf")
