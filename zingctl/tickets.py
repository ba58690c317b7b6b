"""`zingctl tickets`: the queue of conversations and its transitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from zingctl import messages, output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="tickets", help="Conversations: list, show, accept, transfer, close, reopen.")


def contact(t: dict[str, Any]) -> str:
    return t.get("contact_name") or t.get("contact_push_name") or t.get("contact_number") or ""


COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Status", "status"), ("Contact", contact), ("Queue", "queue_name"), ("Agent", "user_name"),
    ("Number", "connection_name"), ("Unread", "unread"),
    ("Last message", lambda t: " ".join((t.get("last_message") or "").split())[:60]), ("Last activity", "last_message_at"),
]

TicketId = Annotated[int, typer.Argument(help="Ticket id.")]


def _pages(session: Session, params: dict[str, Any], every: bool) -> Iterator[dict[str, Any]]:
    while True:
        page = session.call("ticket.list", params)
        yield from page["tickets"]
        if not every or "next" not in page:
            return
        params = {**params, "before": page["next"]}


def _said(out: Output, t: dict[str, Any], verb: str) -> None:
    who = f" ({t['user_name']})" if t.get("user_name") else ""
    out.done(t, f"ticket {t['id']} {verb}: {t['status']}{who}")


@app.command("list")
def list_(
    session: Session, out: Output,
    status: Annotated[str | None, typer.Option("--status", help="pending, open or closed.")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only tickets assigned to you.")] = False,
    queue: Annotated[int | None, typer.Option("--queue", help="Only this queue id.")] = None,
    user: Annotated[int | None, typer.Option("--user", help="Only tickets of this user id.")] = None,
    connection: Annotated[int | None, typer.Option("--connection", help="Only this connection id.")] = None,
    contact_id: Annotated[int | None, typer.Option("--contact", help="Only this contact id.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only tickets with this tag.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500,
                                       help="How many (per page with --all).")] = 50,
    every: Annotated[bool, typer.Option("--all", help="Follow the pages to the end.")] = False,
) -> None:
    """List tickets, newest activity first."""
    params = {"status": status, "mine": mine, "queue_id": queue, "user_id": user, "connection_id": connection,
              "contact_id": contact_id, "tag": tag, "limit": limit}
    out.rows(list(_pages(session, params, every)), COLUMNS, empty="no tickets")


@app.command("show")
def show(
    session: Session, out: Output,
    ticket_id: TicketId,
    last: Annotated[int, typer.Option("--messages", "-m", help="How many recent messages to show.")] = 20,
) -> None:
    """Show a ticket and its recent messages."""
    ticket = session.call("ticket.get", {"id": ticket_id})
    recent = session.call("message.list", {"ticket_id": ticket_id, "limit": last})["messages"]
    out.item({**ticket, "messages": recent}, title=f"ticket {ticket_id}", tables={"messages": messages.COLUMNS})


@app.command("accept")
def accept(session: Session, out: Output, ticket_id: TicketId) -> None:
    """Take a pending ticket."""
    _said(out, session.call("ticket.accept", {"id": ticket_id}), "accepted")


@app.command("transfer")
def transfer(
    session: Session, out: Output,
    ticket_id: TicketId,
    to_user: Annotated[int | None, typer.Option("--to-user", help="The agent's user id.")] = None,
    to_queue: Annotated[int | None, typer.Option("--to-queue", help="The queue id.")] = None,
    message: Annotated[str | None, typer.Option("--message", help="Also tell the customer this.")] = None,
) -> None:
    """Hand a ticket to another agent and/or queue."""
    if to_user is None and to_queue is None:
        raise typer.BadParameter("give --to-user and/or --to-queue")
    _said(out, session.call("ticket.transfer", {"id": ticket_id, "user_id": to_user, "queue_id": to_queue,
                                                "message": message}), "transferred")


@app.command("close")
def close(
    session: Session, out: Output,
    ticket_id: TicketId,
    farewell: Annotated[bool, typer.Option(
        "--farewell/--no-farewell", help="Send the number's farewell (and the rating survey, if on).")] = True,
    message: Annotated[str | None, typer.Option("--message", help="A last message to the customer.")] = None,
) -> None:
    """Close a ticket."""
    _said(out, session.call("ticket.close", {"id": ticket_id, "farewell": farewell, "message": message}), "closed")


@app.command("reopen")
def reopen(session: Session, out: Output, ticket_id: TicketId) -> None:
    """Reopen a closed ticket."""
    _said(out, session.call("ticket.reopen", {"id": ticket_id}), "reopened")
