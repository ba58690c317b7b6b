"""`zingctl queues`: departments, their business hours, members, auto-assignment and service-level targets."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from zingctl import output
from zingctl.commands import Typer
from zingctl.inputs import FileOrStdin, json_document
from zingctl.output import Output
from zingctl.session import CLEAR, Session

app = Typer(name="queues", help="Departments: hours, greeting, members, auto-assignment, auto-close, SLA targets.")

ASSIGN_MODES = ("off", "round_robin", "balanced")
SLA_CLOCKS = ("business", "calendar")
UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_SPAN = re.compile(r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_span(text: str) -> Any:
    """A target as people write it: 15m, 8h, 1h30m, 2d, 90s or 90 (seconds); off (or none) clears it."""
    if text.strip().lower() in ("off", "none"):
        return CLEAR
    match = _SPAN.fullmatch(text.strip().lower())
    if not text.strip() or match is None:
        raise typer.BadParameter(f"{text!r} is not a duration; write e.g. 15m, 8h, 1h30m, 2d, or off")
    return sum(float(n) * unit for n, unit in zip(match.groups(), UNITS.values()) if n)


def span(seconds: float) -> str:
    """Seconds as ``parse_span`` reads them back: 900 -> 15m, 5400 -> 1h30m."""
    left, out = round(seconds), ""
    for name, unit in UNITS.items():
        if left >= unit or (name == "s" and not out):
            out += f"{left // unit}{name}"
            left %= unit
    return out


def _sla(q: dict[str, Any]) -> str:
    targets = [q.get("sla_first_response_s"), q.get("sla_resolution_s")]
    if not any(targets):
        return ""
    first, resolution = (span(t) if t else "-" for t in targets)
    return f"{first} / {resolution} {q.get('sla_clock', 'business')}"


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
    ("SLA first / resolution", _sla),
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
SlaFirst = Annotated[float | None, typer.Option(
    "--sla-first-response", metavar="DURATION", parser=parse_span,
    help="Target for the first answer, from when the customer wrote: 15m, 1h30m, 2d; off for none.")]
SlaResolution = Annotated[float | None, typer.Option(
    "--sla-resolution", metavar="DURATION", parser=parse_span,
    help="Target for closing the ticket, from when the customer wrote: 8h, 3d; off for none.")]
SlaClock = Annotated[str | None, typer.Option(
    "--sla-clock", metavar="CLOCK", help="What counts toward the targets: business (the queue's hours, the "
    "default) or calendar (all the time).")]


def _settings(color: str | None, greeting: str | None, out_of_hours: str | None, hours: dict | None,
              assign: str | None, auto_close_hours: float | None, auto_close_message: str | None,
              sla_first: Any, sla_resolution: Any, sla_clock: str | None) -> dict[str, Any]:
    if assign is not None and assign not in ASSIGN_MODES:
        raise typer.BadParameter(f"one of {', '.join(ASSIGN_MODES)}", param_hint="--assign")
    if sla_clock is not None and sla_clock not in SLA_CLOCKS:
        raise typer.BadParameter(f"one of {', '.join(SLA_CLOCKS)}", param_hint="--sla-clock")
    return {"color": color, "greeting": greeting, "out_of_hours_message": out_of_hours,
            "business_hours": hours,
            "assign_mode": assign, "auto_close_hours": auto_close_hours, "auto_close_message": auto_close_message,
            "sla_first_response_s": sla_first, "sla_resolution_s": sla_resolution, "sla_clock": sla_clock}


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
    sla_first: SlaFirst = None, sla_resolution: SlaResolution = None, sla_clock: SlaClock = None,
) -> None:
    """Add a queue (department)."""
    q = session.call("queue.create", {"name": name, **_settings(
        color, greeting, out_of_hours, hours, assign, auto_close_hours, auto_close_message,
        None if sla_first is CLEAR else sla_first, None if sla_resolution is CLEAR else sla_resolution, sla_clock)})
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
    sla_first: SlaFirst = None, sla_resolution: SlaResolution = None, sla_clock: SlaClock = None,
) -> None:
    """Change a queue's name, hours, messages, assignment, auto-close or SLA targets (new targets apply
    to tickets entering the queue from now on)."""
    if no_auto_close and auto_close_hours is not None:
        raise typer.BadParameter("give --auto-close-hours or --no-auto-close, not both")
    q = session.call("queue.update", {"id": queue_id, "name": name, **_settings(
        color, greeting, out_of_hours, hours, assign, CLEAR if no_auto_close else auto_close_hours,
        auto_close_message, sla_first, sla_resolution, sla_clock)})
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
