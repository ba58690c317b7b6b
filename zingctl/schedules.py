"""`zingctl schedules`: messages sent later, once or on a cron rule, paced like campaigns."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from zingctl import company_time, inputs, output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import CLEAR, Session

app = Typer(name="schedules", help="Messages sent later, once or repeating (cron): add, list, change, cancel.")



def _columns(tz: company_time.CompanyTime) -> list[output.Column]:
    """The list's columns, its times in the company's zone (named in the header)."""
    return [
        ("ID", "id"), ("Status", "status"), (f"Next run ({tz.name})", lambda s: tz.at(s.get("run_at"))),
        ("Cron", "cron"),
        ("Contact", lambda s: s.get("contact_name") or s.get("number") or s.get("contact_id")),
        ("Ticket", "ticket_id"), ("Number", "connection_id"), ("Runs", "runs"),
        ("Text", lambda s: " ".join((s.get("body") or "").split())[:60]), ("Error", "error"),
    ]


ScheduleId = Annotated[int, typer.Argument(help="Schedule id.")]
At = Annotated[str | None, typer.Option(
    "--at", metavar="WHEN", help="When, in the company's time zone: '2026-12-01 09:00' (or ISO with an offset).")]
Cron = Annotated[str | None, typer.Option(
    "--cron", metavar="RULE", help="Repeat on a cron rule, e.g. '0 9 * * 1-5' (minute hour day month weekday); "
    "--at is then the first run.")]


def _said(session: Session, out: Output, s: dict[str, Any], verb: str) -> None:
    if not out.for_people:
        out.raw(s)
        return
    repeat = f", then on '{s['cron']}'" if s.get("cron") else ""  # cron rules run in the company's zone too
    when = company_time.of(session).labelled(s["run_at"])
    out.done(s, f"{verb} schedule {s['id']} ({s['status']}): next run {when}{repeat}")


@app.command("add")
def add(
    session: Session, out: Output,
    text: Annotated[str, typer.Argument(
        metavar="TEXT|-", parser=inputs.text_or_stdin, help="The message; may use {{name}}, {{first_name}}...; "
        "`-` reads standard input.")],
    contact: Annotated[int | None, typer.Option("--contact", help="Send to this contact id.")] = None,
    ticket: Annotated[int | None, typer.Option("--ticket", help="Send inside this ticket (to its contact).")]
    = None,
    at: At = None, cron: Cron = None,
    connection: Annotated[int | None, typer.Option(
        "--connection", help="Send from this connection id (default: the tenant's default number).")] = None,
) -> None:
    """Schedule a message to a contact or inside a ticket, at a time and/or on a cron rule."""
    if (contact is None) == (ticket is None):
        raise typer.BadParameter("give one of --contact and --ticket")
    if at is None and cron is None:
        raise typer.BadParameter("give --at, --cron, or both")
    s = session.call("schedule.create", {"body": text, "contact_id": contact, "ticket_id": ticket,
                                         "connection_id": connection, "run_at": at, "cron": cron})
    _said(session, out, s, "added")


@app.command("list")
def list_(
    session: Session, out: Output,
    status: Annotated[str | None, typer.Option(
        "--status", help="pending, sent, missed, skipped or cancelled.")] = None,
    contact: Annotated[int | None, typer.Option("--contact", help="Only to this contact id.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many at most.")] = 500,
) -> None:
    """List scheduled messages, soonest first."""
    found = session.call("schedule.list", {"status": status, "contact_id": contact, "limit": limit})
    columns = _columns(company_time.of(session)) if out.for_people and found else []
    out.rows(found, columns, empty="no scheduled messages")


@app.command("update")
def update(
    session: Session, out: Output,
    schedule_id: ScheduleId,
    text: Annotated[str | None, typer.Option(
        "--text", metavar="TEXT|-", parser=inputs.text_or_stdin, help="New text; `-` reads standard input.")]
    = None,
    at: At = None, cron: Cron = None,
    no_cron: Annotated[bool, typer.Option("--no-cron", help="Stop repeating: run once, --at.")] = False,
) -> None:
    """Change a pending schedule's text, time or cron rule."""
    if no_cron and cron is not None:
        raise typer.BadParameter("give --cron or --no-cron, not both")
    s = session.call("schedule.update", {"id": schedule_id, "run_at": at, "cron": CLEAR if no_cron else cron,
                                         "body": text})
    _said(session, out, s, "updated")


@app.command("cancel")
def cancel(session: Session, out: Output, schedule_id: ScheduleId) -> None:
    """Cancel a pending schedule."""
    s = session.call("schedule.cancel", {"id": schedule_id})
    out.done(s, f"cancelled schedule {s['id']}")
