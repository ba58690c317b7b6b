"""`zingctl connections`: the tenant's WhatsApp numbers (and simulated ones), including pairing."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import segno
import typer
from rich.text import Text

from zingctl import output
from zingctl.commands import Typer
from zingctl.inputs import FileOrStdin, json_document
from zingctl.output import Output
from zingctl.session import CLEAR, Session
from zingd.channels.base import FINAL_STATES

app = Typer(name="connections", help="WhatsApp numbers: add, pair, restart, log out, menu, pacing, queues.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Kind", "kind"), ("Status", "status"), ("Reason", "status_reason"),
    ("Default", lambda c: "yes" if c.get("is_default") else ""), ("Phone", "phone"),
    ("Running", lambda c: "yes" if c.get("running") else "no"),
    ("Advice", "advice"),  # locked, banned, logged out…: what to do (zingd.channels.base.ADVICE)
]

ConnectionId = Annotated[int, typer.Argument(help="Connection id.")]
Greeting = Annotated[str | None, typer.Option("--greeting", help="Sent when a new ticket starts.")]
Farewell = Annotated[str | None, typer.Option("--farewell", help="Sent when a ticket is closed.")]


def _said(out: Output, c: dict[str, Any], verb: str) -> None:
    out.done(c, f"{verb} connection {c['id']} {c['name']!r} ({c['status']})")


@app.command("list")
def list_(session: Session, out: Output) -> None:
    """List the numbers with their live state."""
    out.rows(session.call("connection.list"), COLUMNS, empty="no connections")


@app.command("add")
def add(
    session: Session, out: Output,
    name: Annotated[str, typer.Argument(help="A name for the number, e.g. Sales.")],
    kind: Annotated[str, typer.Option("--kind", help="sim (simulated, starts at once) or whatsapp (then pair).")]
    = "sim",
    default: Annotated[bool, typer.Option("--default", help="Make it the tenant's default number.")] = False,
    greeting: Greeting = None, farewell: Farewell = None,
) -> None:
    """Add a number; a whatsapp one waits for `zingctl connections pair`."""
    c = session.call("connection.create", {"name": name, "kind": kind, "is_default": default,
                                           "greeting": greeting, "farewell": farewell})
    _said(out, c, "added")


@app.command("show")
def show(session: Session, out: Output, connection_id: ConnectionId) -> None:
    """Show one number with its live state and health."""
    out.item(session.call("connection.get", {"id": connection_id}), title="connection")


@app.command("update")
def update(
    session: Session, out: Output,
    connection_id: ConnectionId,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    default: Annotated[bool | None, typer.Option("--default/--no-default", show_default=False,
                                                 help="Make it (or stop it being) the default number.")] = None,
    greeting: Greeting = None, farewell: Farewell = None,
    menu: Annotated[list | None, typer.Option(
        "--menu", metavar="FILE|-", parser=FileOrStdin(json_document(list)), help='The chatbot menu: a JSON array '
        'like [{"label": "Sales", "queue_id": 1}] (options may nest their own "options"); `-` reads standard '
        "input.")] = None,
    groups: Annotated[str | None, typer.Option(
        "--groups", metavar="ignore|route|chatbot", help="WhatsApp group messages: ignore them, route them "
        "quietly (the default: no chatbot, greeting or out-of-hours reply), or let the chatbot answer.")] = None,
    default_queue: Annotated[int | None, typer.Option(
        "--default-queue", metavar="QUEUE_ID", help="Where tickets go when the menu gets no valid answer.")] = None,
    no_default_queue: Annotated[bool, typer.Option(
        "--no-default-queue", help="No default queue: tickets the menu can't place stay unassigned.")] = False,
    menu_retries: Annotated[int | None, typer.Option(
        "--menu-retries", metavar="N", help="Invalid menu answers before the default queue.")] = None,
    pacing: Annotated[dict | None, typer.Option(
        "--pacing", metavar="FILE|-", parser=FileOrStdin(json_document(dict)), help="Pacing limits for automated "
        "sends, a JSON object (min_interval_s, jitter_s, pause_every, pause_s, daily_cap, quiet_start, quiet_end, "
        "warmup); `-` reads standard input.")] = None,
    call_reply: Annotated[str | None, typer.Option(
        "--call-reply", metavar="TEXT", help="Sent when a customer calls (zing takes no calls); \"\" for none.")]
    = None,
) -> None:
    """Rename a number, make it the default, set its greeting, farewell, chatbot menu, group handling, pacing
    or call reply."""
    if groups is not None and groups not in ("ignore", "route", "chatbot"):
        raise typer.BadParameter("ignore, route or chatbot", param_hint="--groups")
    if no_default_queue and default_queue is not None:
        raise typer.BadParameter("give --default-queue or --no-default-queue, not both")
    settings = {"menu": menu, "groups": groups, "default_queue_id": CLEAR if no_default_queue else default_queue,
                "menu_max_retries": menu_retries, "pacing": pacing,
                "call_reply": CLEAR if call_reply == "" else call_reply}
    settings = {k: None if v is CLEAR else v for k, v in settings.items() if v is not None}
    c = session.call("connection.update", {"id": connection_id, "name": name, "is_default": default,
                                           "greeting": greeting, "farewell": farewell,
                                           "settings": settings or None})
    _said(out, c, "updated")


@app.command("queues")
def queues(
    session: Session, out: Output,
    connection_id: ConnectionId,
    queue_ids: Annotated[list[int] | None, typer.Argument(
        metavar="QUEUE_ID", help="The queues its chatbot menu offers.", show_default=False)] = None,
    every: Annotated[bool, typer.Option("--all", help="Offer all of the tenant's queues (clears the list).")]
    = False,
) -> None:
    """Choose which queues a number's chatbot menu offers (the list is replaced)."""
    if bool(queue_ids) == every:
        raise typer.BadParameter("give QUEUE_IDs, or --all for every queue of the tenant")
    chosen = session.call("connection.set_queues", {"id": connection_id, "queue_ids": queue_ids or []})
    offered = ", ".join(map(str, chosen["queue_ids"])) or "all of the tenant's queues"
    out.done(chosen, f"connection {connection_id} offers queues: {offered}")


@app.command("delete")
def delete(session: Session, out: Output, connection_id: ConnectionId) -> None:
    """Remove a number that never had tickets."""
    out.done(session.call("connection.delete", {"id": connection_id}), f"deleted connection {connection_id}")


@app.command("restart")
def restart(session: Session, out: Output, connection_id: ConnectionId) -> None:
    """Stop and start one number without restarting the daemon."""
    _said(out, session.call("connection.restart", {"id": connection_id}), "restarted")


@app.command("logout")
def logout(session: Session, out: Output, connection_id: ConnectionId) -> None:
    """Unlink the number from WhatsApp; it must be paired again."""
    _said(out, session.call("connection.logout", {"id": connection_id}), "logged out")


@app.command("pair")
def pair(
    session: Session, out: Output,
    connection_id: ConnectionId,
    phone: Annotated[str | None, typer.Option(
        "--phone", help="Pair by code instead of QR: the number in international format, digits only.")] = None,
) -> None:
    """Pair a WhatsApp number: shows each new QR code (or the pairing code) until it connects.

    Exits 0 once connected, 1 if WhatsApp refuses it (logged out, banned, outdated) or on Ctrl-C.
    --json / --jsonl print each update as a JSON line.
    """
    client = session.client()
    client.call("events.subscribe", {"topics": ["type:connection.updated"]})  # before pairing: miss no QR
    first = client.call("connection.pair", {"id": connection_id, "phone": phone})
    events = itertools.chain([{"type": "connection.updated", "data": first}], client.iter_events())
    try:
        code = follow(events, connection_id, out)
    except KeyboardInterrupt:
        out.error("pairing stopped before the number connected")
        code = 1
    raise typer.Exit(code)


def follow(events: Iterable[dict[str, Any]], connection_id: int, out: Output) -> int:
    """Show the pairing codes of one connection's updates; the exit code once it settles."""
    shown: set[str] = set()
    for event in events:
        data = event.get("data") or {}
        if event.get("type") != "connection.updated" or data.get("id") != connection_id:
            continue
        fresh = [key for key in ("qr", "pair_code") if data.get(key) and data[key] not in shown]
        shown.update(data[key] for key in fresh)
        status = data.get("status")
        out.line(data, Text(f"connection {connection_id}: {status} {data.get('reason') or ''}".rstrip()))
        if out.for_people and "qr" in fresh:
            output.console().print("Scan with WhatsApp → Settings → Linked devices → Link a device:")
            segno.make(data["qr"], error="l").terminal(out=sys.stdout, compact=True)
        if out.for_people and "pair_code" in fresh:
            output.console().print(Text.assemble("Enter this code on the phone: ", (data["pair_code"], "bold")))
        if status == "connected":
            return 0
        if status in FINAL_STATES:
            out.error(f"connection {connection_id} is {status}: {data.get('reason') or 'no reason given'}",
                      status)
            return 1
    return 1
