"""`zingctl backup FILE`: a consistent copy of the live database, written by the daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zingctl import output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer()


@app.command("backup")
def backup(session: Session, out: Output, file: Annotated[Path, typer.Argument(
        help="A new file to write (the daemon writes it, so its user must be able to).")]) -> None:
    """Back up the database while zingd runs; restore with `zingd --restore FILE` while zingd is stopped."""
    path = file.expanduser().resolve()
    made = session.call("daemon.backup", {"path": str(path)})
    took = output.duration(made["seconds"]) if made["seconds"] >= 1 else f"{made['seconds']:.2f}s"
    out.done(made, f"backed up the database to {made['path']}: {output.size(made['bytes'])} in {took} "
                   f"(schema v{made['schema_version']})")
    out.note(f"to restore it, stop zingd, then run: zingd --restore {made['path']}")
