"""`zingctl reports`: tickets by status, per agent and per queue; response and resolution times, ratings."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from zingctl import company_time, output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer()

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def moment(value: str, tz: ZoneInfo | None, option: str) -> float:
    """Epoch seconds from an ISO date or date-time (in ``tz`` unless it says its own), or `7d` / `12h` ago."""
    text = value.strip()
    if m := _AGO.match(text):
        return time.time() - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use a date like 2026-11-01, a date-time like '2026-11-01 09:00', "
                                 "or an age like 7d, 12h", param_hint=option) from None
    if dt.tzinfo is None and tz is not None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()


def _rating(r: dict[str, Any]) -> str:
    return f"{r['avg_rating']:.1f} ({r['ratings']})" if r.get("avg_rating") is not None else ""


def _stats(first: output.Column) -> list[output.Column]:
    return [first, ("Tickets", "tickets"), ("Pending", "pending"), ("Open", "open"), ("Closed", "closed"),
            ("First response", "avg_first_response_s"), ("Resolution", "avg_resolution_s"), ("Rating", _rating)]


AGENT_COLUMNS = _stats(("Agent", lambda r: r.get("user_name") or f"user {r.get('user_id')}"))
QUEUE_COLUMNS = _stats(("Queue", lambda r: r.get("queue_name") or "(no queue)"))


@app.command("reports")
def reports(
    session: Session, out: Output,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="DATE", help="From this date or date-time (the company's time zone), or an age like "
        "7d (default: 30 days ago).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="DATE", help="Up to (not including) this date or date-time (default: now).")] = None,
) -> None:
    """Report on the tickets created in a period: totals, per agent, per queue (response times, ratings).

    Averages of first response and resolution times, ratings, and the messages in and out.
    """
    tz = company_time.of(session) if since or until or out.for_people else None
    zone = tz.zone if tz else None
    r = session.call("report.summary", {"since": moment(since, zone, "--since") if since else None,
                                        "until": moment(until, zone, "--until") if until else None})
    if not out.for_people:
        out.raw(r)
        return
    total, msgs = r["total"] or {}, r["messages"] or {}
    terminal = output.console()
    period = f"{tz.at(r['since'])} to {tz.at(r['until'])} {tz.name}"
    out.item({
        "period": period, "tickets": total.get("tickets") or 0,
        "pending / open / closed": f"{total.get('pending') or 0} / {total.get('open') or 0} / "
                                   f"{total.get('closed') or 0}",
        "avg first response": output.duration(total["avg_first_response_s"])
        if total.get("avg_first_response_s") is not None else "-",
        "avg resolution": output.duration(total["avg_resolution_s"])
        if total.get("avg_resolution_s") is not None else "-",
        "rating": _rating(total) or "-",
        "messages in / out": f"{msgs.get('inbound') or 0} / {msgs.get('outbound') or 0}",
        "failed sends": msgs.get("failed") or 0,
    }, title="report")
    terminal.print()
    out.rows(r["agents"], AGENT_COLUMNS, title="per agent", empty="no tickets assigned to agents")
    terminal.print()
    out.rows(r["queues"], QUEUE_COLUMNS, title="per queue", empty="no tickets")
