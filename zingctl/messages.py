"""`zingctl messages`: a ticket's conversation, sending, retrying and searching."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from zingctl import inputs, output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session
from zingctl.uploads import uploaded

app = Typer(name="messages", help="A ticket's conversation: read, send (text, a file or a template), send to a "
                                  "number, retry, search.")


def _body(m: dict[str, Any]) -> str:
    media = m.get("media_path") or m.get("media_error")
    text = m.get("body") or ""
    if m["type"] == "audio" and m.get("media_seconds"):  # a voice note has a waveform, an audio file none
        minutes, seconds = divmod(int(m["media_seconds"]), 60)
        text = f"{'voice note' if m.get('media_waveform') else 'audio'} {minutes}:{seconds:02d} {text}".strip()
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

MessageText = Annotated[str, typer.Argument(
    metavar="TEXT|-", parser=inputs.text_or_stdin, help="The message; `-` reads standard input.")]
Attachment = Annotated[Path | None, typer.Option(
    "--file", exists=True, dir_okay=False, resolve_path=True, help="Send this file (TEXT is its caption); zingctl "
    "reads it and uploads it.")]
Before = Annotated[int | None, typer.Option("--before", help="Page back: messages older than this id.")]
PageSize = Annotated[int, typer.Option("--limit", "-n", help="How many at most.")]
Params = Annotated[list[str] | None, typer.Option(
    "--param", "-p", metavar="VALUE", help="A template variable's value, in the template's order (repeat for each).")]


def page(session: Session, out: Output, of: dict[str, int], before: int | None, limit: int,
         columns: list[output.Column], title: str) -> None:
    """One page of the messages ``of`` a ticket or contact, oldest first, and how to get the one before it."""
    found = session.call("message.list", {**of, "before_id": before, "limit": limit})
    out.rows(found["messages"], columns, title=title, empty="no messages")
    if found.get("more"):
        out.note(f"older messages: --before {found['messages'][0]['id']}")


def _send(session: Session, method: str, params: dict[str, Any], text: str, file: Path | None) -> dict[str, Any]:
    """Send what a message says: its text and/or a file (uploaded first); a usage error when it would say nothing."""
    if not text.strip() and file is None:
        raise typer.BadParameter("give TEXT, `-` for standard input, or --file")
    with uploaded(session, file, "--file") as upload_id:
        return session.call(method, {**params, "body": text, "upload_id": upload_id})


def _queued(out: Output, m: dict[str, Any]) -> None:
    out.done(m, f"message {m['id']} {m['ack']} on ticket {m['ticket_id']}")


@app.command("list")
def list_(
    session: Session, out: Output,
    ticket_id: Annotated[int, typer.Argument(help="Ticket id.")],
    before: Before = None, limit: PageSize = 50,
) -> None:
    """List a page of a ticket's conversation, oldest first."""
    page(session, out, {"ticket_id": ticket_id}, before, limit, COLUMNS, f"ticket {ticket_id}")


@app.command("send")
def send(
    session: Session, out: Output,
    ticket_id: Annotated[int, typer.Argument(help="Ticket id.")],
    text: MessageText = "",
    file: Attachment = None,
    quote: Annotated[int | None, typer.Option("--quote", help="Reply to this message id.")] = None,
) -> None:
    """Queue a message on a ticket; it is stored before it is sent."""
    _queued(out, _send(session, "message.send", {"ticket_id": ticket_id, "quoted_id": quote}, text, file))


@app.command("retry")
def retry(session: Session, out: Output,
          message_id: Annotated[int, typer.Argument(help="The failed (or unconfirmed) message's id.")],
          resend: Annotated[bool, typer.Option(
              "--resend", help="Send an unconfirmed message again: WhatsApp never answered, so it may already "
              "have arrived and the customer could see it twice.")] = False) -> None:
    """Send a failed message again (under the same WhatsApp id, so it can't arrive twice); an unconfirmed
    one only with --resend."""
    params = {"id": message_id, **({"resend": True} if resend else {})}
    out.done(session.call("message.retry", params), f"message {message_id} queued again")


@app.command("fetch-media")
def fetch_media(session: Session, out: Output,
                message_id: Annotated[int, typer.Argument(help="The received message whose file failed to "
                                                                     "download.")]) -> None:
    """Download a customer's file again after its download failed (its number must be connected)."""
    m = session.call("media.fetch", {"message_id": message_id})
    if m.get("media_error"):
        out.error(f"message {message_id}: the download failed again: {m['media_error']}", kind="media",
                  details={"message": m})
        raise typer.Exit(1)
    out.done(m, f"message {message_id}: file saved ({m.get('media_size') or 0} bytes)")


@app.command("search")
def search(
    session: Session, out: Output,
    query: Annotated[str, typer.Argument(help="Words to find (full-text).")],
    status: Annotated[str | None, typer.Option("--status", help="Only in tickets with this status.")] = None,
    ticket: Annotated[int | None, typer.Option("--ticket", help="Only in this ticket.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many at most.")] = 50,
) -> None:
    """Search message bodies, newest first."""
    found = session.call("message.search", {"query": query, "status": status, "ticket_id": ticket, "limit": limit})
    out.rows(found, SEARCH_COLUMNS, empty="no matches")


@app.command("send-to")
def send_to(
    session: Session, out: Output,
    number: Annotated[str, typer.Argument(help="Phone number: international, or local to the tenant's region.")],
    text: MessageText = "",
    file: Attachment = None,
    connection: Annotated[int | None, typer.Option(
        "--connection", help="Send from this connection id (default: the tenant's default number).")] = None,
    template: Annotated[str | None, typer.Option(
        "--template", metavar="NAME[:LANG]|ID", help="Send this approved template instead of TEXT: how a cloud "
        "number writes first, or after 24 hours of silence.")] = None,
    param: Params = None,
) -> None:
    """Write to a phone number, starting a ticket (yours) if it has none open."""
    where = {"number": number, "connection_id": connection}
    if template is None:
        _queued(out, _send(session, "message.send_to", where, text, file))
        return
    if text.strip() or file is not None:
        raise typer.BadParameter("a template brings its own text: give --template and --param, not TEXT or --file")
    chosen = _template(session, connection, template)
    where["connection_id"] = chosen["connection_id"]  # the template's number, whichever is the default
    _queued(out, session.call("message.send_to", {**where, "template_id": chosen["id"], "params": param or []}))


def _template_id(session: Session, connection: int | None, template: str) -> int:
    return int(template) if template.isdigit() else _template(session, connection, template)["id"]


def _template(session: Session, connection: int | None, template: str) -> dict[str, Any]:
    """A template named by id, or by NAME[:LANG] among the approved templates of ``connection`` (of any
    number when None, as long as only one has it)."""
    if template.isdigit():
        found = [t for t in session.call("template.list", {"connection_id": connection}) if t["id"] == int(template)]
        if not found:
            raise typer.BadParameter(f"no template {template} (zingctl templates list)", param_hint="TEMPLATE")
        return found[0]
    name, _, language = template.partition(":")
    found = [t for t in session.call("template.list", {"connection_id": connection, "status": "APPROVED"})
             if t["name"] == name and (not language or t["language"] == language)]
    where = f"connection {connection}" if connection is not None else "any number"
    if not found:
        raise typer.BadParameter(f"no approved template {template!r} on {where} (zingctl templates list)",
                                 param_hint="TEMPLATE")
    if len(found) > 1:
        which = ", ".join(f"{t['language']} on connection {t['connection_id']}" for t in found)
        raise typer.BadParameter(f"template {name!r} is there more than once ({which}): give NAME:LANG"
                                 + ("" if connection is not None else " and --connection"), param_hint="TEMPLATE")
    return found[0]


@app.command("send-template")
def send_template(
    session: Session, out: Output,
    ticket_id: Annotated[int, typer.Argument(help="Ticket id (of a cloud number).")],
    template: Annotated[str, typer.Argument(metavar="TEMPLATE", help="The template: its id, or NAME[:LANG] "
                                                                      "(zingctl templates list).")],
    param: Params = None,
) -> None:
    """Send an approved template: the one thing a cloud number may send outside WhatsApp's 24-hour window."""
    connection = session.call("ticket.get", {"id": ticket_id})["connection_id"]
    params = {"ticket_id": ticket_id, "template_id": _template_id(session, connection, template),
              "params": param or []}
    _queued(out, session.call("message.send_template", params))
