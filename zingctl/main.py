"""zingctl: the admins' and scripts' CLI for zingd, over its Unix socket only.

Each command group is one module exposing a ``Typer`` named ``app`` (a
``zingctl.commands.Typer``); adding a group is writing that module and naming it in
``GROUPS``. The root command puts the invocation's session on the context.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from zingctl import (
    account, assistant, audit, backup, bot, campaigns, company_time, connections, contacts, copilot, credentials,
    events, knowledge, messages, notes, output, queues, quickreplies, reactions, reports, rpc, schedules, session, sim,
    status, tags, templates, tenants, tickets, tokens, users, webhooks,
)
from zingctl.commands import Invocation
from zingd.paths import default_socket_path

# Top-level commands first (status, login, ...), then the groups, in help order.
GROUPS = (status, account, tenants, users, connections, queues, contacts, tickets, messages, notes, tags,
          quickreplies, templates, campaigns, schedules, tokens, webhooks, reports, audit, assistant, copilot, bot, knowledge,
          backup, sim, events, rpc)

app = typer.Typer(
    name="zingctl",
    help="Run a zing helpdesk daemon (zingd) from the terminal: tenants, users, numbers, tickets, messages.\n\n"
         "Wherever a value may be `-` (TEXT|-, FILE|-), `-` reads standard input; one per command.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    socket: Annotated[Path | None, typer.Option(
        "--socket", envvar="ZING_SOCKET", show_default=False,
        help="zingd's socket (default: $XDG_RUNTIME_DIR/zing/zingd.sock).")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="ZING_TOKEN", show_default=False,
        help="A session or API token to use instead of the stored login.")] = None,
) -> None:
    """Pick the daemon and the token for this invocation."""
    path = socket or default_socket_path()
    if token:
        source = ctx.get_parameter_source("token")
        where = session.FROM_ENV if source is not None and source.name == "ENVIRONMENT" else session.FROM_FLAG
        current = session.Session(path, token, where)
    else:
        stored = credentials.load(path)
        current = session.Session(path, *stored) if stored else session.Session(path)
    ctx.obj = Invocation(current)
    ctx.call_on_close(current.close)
    output.show_times_in(partial(company_time.named_zone, current))


for _module in GROUPS:
    app.add_typer(_module.app)


def main() -> None:
    app()
