"""`zingctl backup FILE`: a consistent copy of the live database, written by the daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zingctl import output, session

app = output.Typer()


@app.command("backup")
def backup(file: Annotated[Path, typer.Argument(
        help="A new file to write (the daemon writes it, so its user must be able to).")]) -> None:
    """Back up the database while zingd runs; restore with `zingd --restore FILE` while zingd is stopped."""
    path = file.expanduser().resolve()
    out = session.call("daemon.backup", {"path": str(path)})
    took = output.duration(out["seconds"]) if out["seconds"] >= 1 else f"{out['seconds']:.2f}s"
    output.done(out, f"backed up the database to {out['path']}: {output.size(out['bytes'])} in {took} "
                     f"(schema v{out['schema_version']})")
    output.note(f"to restore it, stop zingd, then run: zingd --restore {out['path']}")
