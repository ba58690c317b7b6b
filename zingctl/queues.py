"""`zingctl queues`: departments, their business hours, members and auto-assignment."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from zingctl import output
from zingctl.commands import Typer
from zingctl.inputs import FileOrStdin, json_document
from zingctl.output import Output
from zingctl.session import CLEAR, Session

app = Typer(name="queues", help="Departments: hours, greeting, members, auto-assignment, auto-close.")

ASSIGN_MODES = ("off", "round_robin", "balanced")


def _hours(q: dict[str, Any]) -> str:
    spec = q.get("business_hours") or {}
    if not spec:
        return "always"
    days = spec.get("days") or {}
    shown = " ".join(f"{day} {','.join(f'{a}-{b}' for a, b in spans)}" for day, spans in days.items())
    return f"{shown or 'closed'} ({spec.get('timezone', 'UTC')})"


COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Color", "color"), ("Assign", "assign_mode"),
    ("Members", lambda q: " ".join(map(str, q.get("members") or []))), ("Pending", "pending"),
    ("Open now", lambda q: "" if "open_now" not in q else "yes" if q["open_now"] else "no"),
    ("Hours", _hours), ("Auto-close", lambda q: f"{q['auto_close_hours']:g}h" if q.get("auto_close_hours") else ""),
]

QueueId = Annotated[int, typer.Argument(help="Queue id.")]
Color = Annotated[str | None, typer.Option("--color", help="Color as #rrggbb.")]
Greeting = Annotated[str | None, typer.Option("--greeting", help="Sent when a ticket enters the queue.")]
OutOfHours = Annotated[str | None, typer.Option(
    "--out-of-hours", help="Sent instead when a ticket arrives outside business hours.")]
Hours = Annotated[dict | None, typer.Option(
    "--hours", metavar="FILE|-", parser=FileOrStdin(json_document(dict)), help='Business hours, a JSON file like '
    '{"timezone": "America/Sao_Paulo", "days": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]]}, "holidays": '
    '["2026-12-25"]}; {} means always open; `-` reads standard input.')]
Assign = Annotated[str | None, typer.Option(
    "--assign", "--assign-mode", metavar="MODE", help="Auto-assignment: off, round_robin or balanced.")]
AutoCloseHours = Annotated[float | None, typer.Option(
    "--auto-close-hours", metavar="HOURS", help="Close tickets whose customer is silent this long.")]
AutoCloseMessage = Annotated[str | None, typer.Option(
    "--auto-close-message", help="Sent to the customer when a ticket is auto-closed.")]


def _settings(color: str | None, greeting: str | None, out_of_hours: str | None, hours: dict | None,
              assign: str | None, auto_close_hours: float | None, auto_close_message: str | None) -> dict[str, Any]:
    if assign is not None and assign not in ASSIGN_MODES:
        raise typer.BadParameter(f"one of {', '.join(ASSIGN_MODES)}", param_hint="--assign")
    return {"color": color, "greeting": greeting, "out_of_hours_message": out_of_hours,
            "business_hours": hours,
            "assign_mode": assign, "auto_close_hours": auto_close_hours, "auto_close_message": auto_close_message}


@app.command("list")
def list_(session: Session, out: Output) -> None:
    """List the queues with members, pending tickets and whether they are open now."""
    out.rows(session.call("queue.list"), COLUMNS, empty="no queues")


@app.command("create")
def create(
    session: Session, out: Output,
    name: Annotated[str, typer.Argument(help="The queue's name, e.g. Sales.")],
    color: Color = None, greeting: Greeting = None, out_of_hours: OutOfHours = None, hours: Hours = None,
    assign: Assign = None, auto_close_hours: AutoCloseHours = None, auto_close_message: AutoCloseMessage = None,
) -> None:
    """Add a queue (department)."""
    q = session.call("queue.create", {"name": name, **_settings(color, greeting, out_of_hours, hours, assign,
                                                                auto_close_hours, auto_close_message)})
    out.done(q, f"created queue {q['id']} {q['name']!r}")


@app.command("update")
def update(
    session: Session, out: Output,
    queue_id: QueueId,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    color: Color = None, greeting: Greeting = None, out_of_hours: OutOfHours = None, hours: Hours = None,
    assign: Assign = None, auto_close_hours: AutoCloseHours = None, auto_close_message: AutoCloseMessage = None,
    no_auto_close: Annotated[bool, typer.Option("--no-auto-close", help="Stop auto-closing this queue's tickets.")]
    = False,
) -> None:
    """Change a queue's name, hours, messages, assignment or auto-close."""
    if no_auto_close and auto_close_hours is not None:
        raise typer.BadParameter("give --auto-close-hours or --no-auto-close, not both")
    q = session.call("queue.update", {"id": queue_id, "name": name, **_settings(
        color, greeting, out_of_hours, hours, assign, CLEAR if no_auto_close else auto_close_hours,
        auto_close_message)})
    out.done(q, f"updated queue {q['id']} {q['name']!r}")


@app.command("delete")
def delete(session: Session, out: Output, queue_id: QueueId) -> None:
    """Remove a queue with no pending or open tickets."""
    q = session.call("queue.delete", {"id": queue_id})
    out.done(q, f"deleted queue {queue_id} {q['name']!r}")


@app.command("members")
def members(
    session: Session, out: Output,
    queue_id: QueueId,
    user_ids: Annotated[list[int] | None, typer.Argument(
        metavar="USER_ID", help="Who works the queue.", show_default=False)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Leave the queue without members.")] = False,
) -> None:
    """Set who works a queue (the list is replaced)."""
    if bool(user_ids) == clear:
        raise typer.BadParameter("give USER_IDs, or --clear to remove every member")
    q = session.call("queue.set_members", {"id": queue_id, "user_ids": user_ids or []})
    out.done(q, f"queue {q['id']} {q['name']!r} members: {' '.join(map(str, q['members'])) or 'none'}")
