"""`zingctl messages`: a ticket's conversation, sending, retrying and searching."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from zingctl import inputs, output, session

app = output.Typer(name="messages", help="A ticket's conversation: read, send (text or file), send to a number, retry, search.")


def _body(m: dict[str, Any]) -> str:
    media = m.get("media_path") or m.get("media_error")
    text = m.get("body") or ""
    return f"{text} [{m['type']}: {media}]".strip() if media else text


COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Time", "created_at"), ("Dir", lambda m: "→" if m.get("direction") == "out" else "←"),
    ("Type", "type"), ("Body", _body), ("Ack", "ack"), ("Quotes", "quoted_id"),
]
SEARCH_COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Ticket", "ticket_id"), ("Status", "ticket_status"), ("Time", "created_at"),
    ("Contact", lambda m: m.get("contact_name") or m.get("contact_push_name") or m.get("contact_number")),
    ("Dir", lambda m: "→" if m.get("direction") == "out" else "←"), ("Body", "body"),
]


@app.command("list")
def list_(
    ticket_id: Annotated[int, typer.Argument(help="Ticket id.")],
    before: Annotated[int | None, typer.Option("--before", help="Page back: messages older than this id.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many at most.")] = 50,
) -> None:
    """List a page of a ticket's conversation, oldest first."""
    page = session.call("message.list", {"ticket_id": ticket_id, "before_id": before, "limit": limit})
    output.rows(page["messages"], COLUMNS, title=f"ticket {ticket_id}", empty="no messages")
    if page.get("more"):
        output.note(f"older messages: --before {page['messages'][0]['id']}")


@app.command("send")
def send(
    ticket_id: Annotated[int, typer.Argument(help="Ticket id.")],
    text: Annotated[str, typer.Argument(help="The message; `-` reads it from stdin.")] = "",
    file: Annotated[Path | None, typer.Option(
        "--file", exists=True, dir_okay=False, resolve_path=True, help="Send this file (TEXT is its caption).")]
    = None,
    quote: Annotated[int | None, typer.Option("--quote", help="Reply to this message id.")] = None,
) -> None:
    """Queue a message on a ticket; it is stored before it is sent."""
    body = inputs.text_or_stdin(text)
    if not body.strip() and file is None:
        raise typer.BadParameter("give TEXT, `-` for stdin, or --file")
    m = session.call("message.send", {"ticket_id": ticket_id, "body": body, "quoted_id": quote,
                                      "media_path": str(file) if file else None})
    output.done(m, f"message {m['id']} {m['ack']} on ticket {m['ticket_id']}")


@app.command("retry")
def retry(message_id: Annotated[int, typer.Argument(help="The failed message's id.")]) -> None:
    """Send a failed message again (under the same WhatsApp id, so it can't arrive twice)."""
    m = session.call("message.retry", {"id": message_id})
    output.done(m, f"message {message_id} queued again")


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Words to find (full-text).")],
    status: Annotated[str | None, typer.Option("--status", help="Only in tickets with this status.")] = None,
    ticket: Annotated[int | None, typer.Option("--ticket", help="Only in this ticket.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many at most.")] = 50,
) -> None:
    """Search message bodies, newest first."""
    found = session.call("message.search", {"query": query, "status": status, "ticket_id": ticket, "limit": limit})
    output.rows(found, SEARCH_COLUMNS, empty="no matches")


@app.command("send-to")
def send_to(
    number: Annotated[str, typer.Argument(help="Phone number: international, or local to the tenant's region.")],
    text: Annotated[str, typer.Argument(metavar="TEXT|-", help="The message; `-` reads it from stdin.")] = "",
    file: Annotated[Path | None, typer.Option(
        "--file", exists=True, dir_okay=False, resolve_path=True, help="Send this file (TEXT is its caption).")]
    = None,
    connection: Annotated[int | None, typer.Option(
        "--connection", help="Send from this connection id (default: the tenant's default number).")] = None,
) -> None:
    """Write to a phone number, starting a ticket (yours) if it has none open."""
    body = inputs.text_or_stdin(text)
    if not body.strip() and file is None:
        raise typer.BadParameter("give TEXT, `-` for stdin, or --file")
    m = session.call("message.send_to", {"number": number, "body": body, "connection_id": connection,
                                         "media_path": str(file) if file else None})
    output.done(m, f"message {m['id']} {m['ack']} on ticket {m['ticket_id']}")
