"""`zingctl rpc METHOD [JSON]`: any daemon method, raw, for what has no command yet."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from zingctl import inputs, output, session

app = output.Typer()


@app.command("rpc")
def rpc(
    method: Annotated[str, typer.Argument(help="namespace.verb, e.g. ticket.list (`rpc rpc.discover` lists all).")],
    params: Annotated[str, typer.Argument(metavar="[JSON]", help="Params as a JSON object; `-` reads stdin.")]
    = "{}",
) -> None:
    """Call one daemon method and print its raw result as JSON."""
    text = inputs.text_or_stdin(params)
    try:
        args = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise typer.BadParameter(f"not JSON: {e}", param_hint="JSON") from None
    if not isinstance(args, dict):
        raise typer.BadParameter("params must be a JSON object", param_hint="JSON")
    output.raw(session.current.call(method, args))
