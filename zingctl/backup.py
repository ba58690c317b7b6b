"""`zingctl backup [NAME]`: a consistent copy of the live database, written by the daemon into its
own backups directory (it never writes to a path a caller names)."""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer()


@app.command("backup")
def backup(session: Session, out: Output, name: Annotated[str | None, typer.Argument(
        help="A plain file name for it (letters, digits, . _ -); default: zing-<UTC time>.db.")] = None) -> None:
    """Back up the database while zingd runs, into the daemon's backups directory (<data dir>/backups); restore
    with `zingd --restore FILE` while zingd is stopped."""
    made = session.call("daemon.backup", {"name": name})
    took = output.duration(made["seconds"]) if made["seconds"] >= 1 else f"{made['seconds']:.2f}s"
    out.done(made, f"backed up the database to {made['path']}: {output.size(made['bytes'])} in {took} "
                   f"(schema v{made['schema_version']})")
    out.note(f"to restore it, stop zingd, then run: zingd --restore {made['path']}")
