"""`zingctl notes`: a ticket's private notes (never sent to the customer); also `zingctl tickets history` and
`zingctl tickets read`, the other ticket extras of the console."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from zingctl import inputs, output, tickets
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="notes", help="Private notes on tickets, for the team only.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Time", "created_at"), ("By", "user_name"), ("Note", "body"),
]


def _details(e: dict[str, Any]) -> str:
    data = e.get("data") or {}
    return " ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                    for k, v in data.items())


HISTORY_COLUMNS: list[output.Column] = [
    ("Time", "created_at"), ("Action", "action"), ("By", lambda e: e.get("user_name") or ""), ("Details", _details),
]


@app.command("add")
def add(
    session: Session, out: Output,
    ticket_id: tickets.TicketId,
    text: Annotated[str, typer.Argument(
        metavar="TEXT|-", parser=inputs.text_or_stdin, help="The note; `-` reads standard input.")],
) -> None:
    """Add a private note to a ticket."""
    n = session.call("note.create", {"ticket_id": ticket_id, "body": text})
    out.done(n, f"note {n['id']} added to ticket {n['ticket_id']}")


@app.command("list")
def list_(session: Session, out: Output, ticket_id: tickets.TicketId) -> None:
    """List a ticket's notes, oldest first."""
    out.rows(session.call("note.list", {"ticket_id": ticket_id}), COLUMNS, title=f"ticket {ticket_id}",
             empty="no notes")


@tickets.app.command("history")
def history(session: Session, out: Output, ticket_id: tickets.TicketId) -> None:
    """A ticket's timeline: status changes, assignments, transfers, notes, tags, ratings."""
    out.rows(session.call("ticket.history", {"id": ticket_id}), HISTORY_COLUMNS, title=f"ticket {ticket_id}",
             empty="no history")


@tickets.app.command("read")
def read(session: Session, out: Output, ticket_id: tickets.TicketId) -> None:
    """Mark a ticket read: clear its unread count and send read receipts."""
    marked = session.call("message.read", {"ticket_id": ticket_id})
    out.done(marked, f"ticket {ticket_id}: {marked['marked']} message(s) marked read")
