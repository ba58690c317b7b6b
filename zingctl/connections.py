"""`zingctl connections`: the tenant's WhatsApp numbers (and simulated ones), including pairing."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import segno
import typer
from rich.text import Text

from zingctl import output, session
from zingd.channels.base import FINAL_STATES

app = output.Typer(name="connections", help="WhatsApp numbers: add, pair, restart, log out.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Kind", "kind"), ("Status", "status"), ("Reason", "status_reason"),
    ("Default", lambda c: "yes" if c.get("is_default") else ""), ("Phone", "phone"),
    ("Running", lambda c: "yes" if c.get("running") else "no"),
]

ConnectionId = Annotated[int, typer.Argument(help="Connection id.")]
Greeting = Annotated[str | None, typer.Option("--greeting", help="Sent when a new ticket starts.")]
Farewell = Annotated[str | None, typer.Option("--farewell", help="Sent when a ticket is closed.")]


def _said(c: dict[str, Any], verb: str) -> None:
    output.done(c, f"{verb} connection {c['id']} {c['name']!r} ({c['status']})")


@app.command("list")
def list_() -> None:
    """List the numbers with their live state."""
    output.rows(session.call("connection.list"), COLUMNS, empty="no connections")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A name for the number, e.g. Sales.")],
    kind: Annotated[str, typer.Option("--kind", help="sim (simulated, starts at once) or whatsapp (then pair).")]
    = "sim",
    default: Annotated[bool, typer.Option("--default", help="Make it the tenant's default number.")] = False,
    greeting: Greeting = None, farewell: Farewell = None,
) -> None:
    """Add a number; a whatsapp one waits for `zingctl connections pair`."""
    c = session.call("connection.create", {"name": name, "kind": kind, "is_default": default,
                                           "greeting": greeting, "farewell": farewell})
    _said(c, "added")


@app.command("show")
def show(connection_id: ConnectionId) -> None:
    """Show one number with its live state and health."""
    output.item(session.call("connection.get", {"id": connection_id}), title="connection")


@app.command("update")
def update(
    connection_id: ConnectionId,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    default: Annotated[bool | None, typer.Option("--default/--no-default", show_default=False,
                                                 help="Make it (or stop it being) the default number.")] = None,
    greeting: Greeting = None, farewell: Farewell = None,
) -> None:
    """Rename a number, make it the default, set its greeting or farewell."""
    c = session.call("connection.update", {"id": connection_id, "name": name, "is_default": default,
                                           "greeting": greeting, "farewell": farewell})
    _said(c, "updated")


@app.command("delete")
def delete(connection_id: ConnectionId) -> None:
    """Remove a number that never had tickets."""
    out = session.call("connection.delete", {"id": connection_id})
    output.done(out, f"deleted connection {connection_id}")


@app.command("restart")
def restart(connection_id: ConnectionId) -> None:
    """Stop and start one number without restarting the daemon."""
    _said(session.call("connection.restart", {"id": connection_id}), "restarted")


@app.command("logout")
def logout(connection_id: ConnectionId) -> None:
    """Unlink the number from WhatsApp; it must be paired again."""
    _said(session.call("connection.logout", {"id": connection_id}), "logged out")


@app.command("pair")
def pair(
    connection_id: ConnectionId,
    phone: Annotated[str | None, typer.Option(
        "--phone", help="Pair by code instead of QR: the number in international format, digits only.")] = None,
) -> None:
    """Pair a WhatsApp number: shows each new QR code (or the pairing code) until it connects.

    Exits 0 once connected, 1 if WhatsApp refuses it (logged out, banned, outdated) or on Ctrl-C.
    --json / --jsonl print each update as a JSON line.
    """
    client = session.current.client()
    client.call("events.subscribe", {"topics": ["type:connection.updated"]})  # before pairing: miss no QR
    first = client.call("connection.pair", {"id": connection_id, "phone": phone})
    events = itertools.chain([{"type": "connection.updated", "data": first}], client.iter_events())
    try:
        code = follow(events, connection_id)
    except KeyboardInterrupt:
        output.error("pairing stopped before the number connected")
        code = 1
    raise typer.Exit(code)


def follow(events: Iterable[dict[str, Any]], connection_id: int) -> int:
    """Show the pairing codes of one connection's updates; the exit code once it settles."""
    shown: set[str] = set()
    for event in events:
        data = event.get("data") or {}
        if event.get("type") != "connection.updated" or data.get("id") != connection_id:
            continue
        fresh = [key for key in ("qr", "pair_code") if data.get(key) and data[key] not in shown]
        shown.update(data[key] for key in fresh)
        status = data.get("status")
        output.line(data, Text(f"connection {connection_id}: {status} {data.get('reason') or ''}".rstrip()))
        if output.fmt() == "table" and "qr" in fresh:
            output.console().print("Scan with WhatsApp → Settings → Linked devices → Link a device:")
            segno.make(data["qr"], error="l").terminal(out=sys.stdout, compact=True)
        if output.fmt() == "table" and "pair_code" in fresh:
            output.console().print(Text.assemble("Enter this code on the phone: ", (data["pair_code"], "bold")))
        if status == "connected":
            return 0
        if status in FINAL_STATES:
            output.error(f"connection {connection_id} is {status}: {data.get('reason') or 'no reason given'}",
                         status)
            return 1
    return 1
