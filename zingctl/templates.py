"""`zingctl templates`: a cloud number's message templates, synced from Meta.

Outside WhatsApp's 24-hour window a cloud number sends only approved templates
(`zingctl messages send-template`, `zingctl campaigns create --template`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from zingctl import output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="templates", help="A cloud number's message templates: sync them from Meta, list them.")


def variables(t: dict[str, Any]) -> str:
    """The variables to fill, in order, with Meta's examples: 'body {{1}}=Maria, body {{2}}=123'."""
    return ", ".join(f"{p['component']} {{{{{p['name']}}}}}" + (f"={p['example']}" if p.get("example") else "")
                     for p in t.get("params") or [])


COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Number", "connection_id"), ("Name", "name"), ("Language", "language"),
    ("Category", "category"), ("Status", "status"), ("Variables", variables),
    ("Body", lambda t: " ".join((t.get("body") or "").split())[:60]), ("Reason", "reason"),
]


@app.command("sync")
def sync(session: Session, out: Output,
         connection: Annotated[int, typer.Argument(help="The cloud connection's id.")]) -> None:
    """Fetch the number's templates from its WhatsApp Business Account (templates gone from it are kept as
    DELETED)."""
    r = session.call("template.sync", {"connection_id": connection})
    out.done(r, f"connection {connection}: {r['fetched']} templates from Meta ({r['added']} new, {r['updated']} "
                f"changed, {r['deleted']} gone); {r['approved']} of {r['total']} approved")


@app.command("list")
def list_(
    session: Session, out: Output,
    connection: Annotated[int | None, typer.Option("--connection", help="Only this number's.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only in this status, e.g. APPROVED.")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Words in the name or the body.")] = None,
) -> None:
    """List the synced templates with their status and the variables each takes."""
    found = session.call("template.list", {"connection_id": connection, "status": status, "q": query})
    out.rows(found, COLUMNS, title="templates", empty="no templates (sync them: zingctl templates sync CONN)")
