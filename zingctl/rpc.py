"""`zingctl rpc METHOD [JSON]`: any daemon method, raw, for what has no command yet."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from zingctl import inputs
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer()


@app.command("rpc")
def rpc(
    session: Session, out: Output,
    method: Annotated[str, typer.Argument(help="namespace.verb, e.g. ticket.list (`rpc rpc.discover` lists all).")],
    params: Annotated[str, typer.Argument(
        metavar="[JSON|-]", parser=inputs.text_or_stdin, help="Params as a JSON object; `-` reads standard input.")]
    = "{}",
) -> None:
    """Call one daemon method and print its raw result as JSON."""
    try:
        args = json.loads(params) if params.strip() else {}
    except ValueError as e:
        raise typer.BadParameter(f"not JSON: {e}", param_hint="JSON") from None
    if not isinstance(args, dict):
        raise typer.BadParameter("params must be a JSON object", param_hint="JSON")
    out.raw(session.client().call(method, args))  # as given: a null the user wrote is sent
