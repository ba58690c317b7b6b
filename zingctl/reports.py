"""`zingctl reports`: the supervisors' figures of a period (waiting, handling, response and resolution
times, reopens, transfers, ratings, SLA breaches, messages) in all and per agent, queue, number and
tag; `reports series` the same per day or hour of day, charted (plotext); `reports live` the desk now.

For scripts every view gives rows: ``--csv`` and ``--jsonl`` print the same rows (the summary's are
one per scope: total, each agent, queue, number, tag), ``--json`` the daemon's whole answer for the
summary and live views and the rows for a series.
"""

from __future__ import annotations

import csv
import re
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import plotext
import typer

from zingctl import company_time, output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer()

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
VIEWS = ("summary", "series", "live")
BY = ("day", "hour")
GROUPS = ("agent", "queue", "connection", "tag")
SCOPES = (("agent", "agents", "user_id", "user_name"), ("queue", "queues", "queue_id", "queue_name"),
          ("connection", "connections", "connection_id", "connection_name"), ("tag", "tags", "tag_id", "tag_name"))
CHART_GROUPS = 6  # lines in a chart per group: the groups with most tickets


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


# -- cells -----------------------------------------------------------------------------------
def _rating(r: dict[str, Any]) -> str:
    return f"{r['avg_rating']:.1f} ({r['ratings']})" if r.get("avg_rating") is not None else ""


def _csat(r: dict[str, Any]) -> str:
    return "/".join(str(r.get(f"csat_{n}") or 0) for n in range(1, 6)) if r.get("ratings") else ""


def _rate(r: dict[str, Any]) -> str:
    return f"{r['reopen_rate']:.0%}" if r.get("reopen_rate") is not None else ""


def _breaches(r: dict[str, Any]) -> str:
    return f"{r.get('breached_first_response') or 0}/{r.get('breached_resolution') or 0}"


def _messages(r: dict[str, Any]) -> str:
    return f"{r.get('messages_in') or 0}/{r.get('messages_out') or 0}"


# The figures of a table row, narrow headers first; the rest only on a wide terminal (--csv and
# --json have them all).
FIGURES: list[output.Column] = [
    ("Tickets", "tickets"), ("Wait", "avg_wait_s"), ("1st reply", "avg_first_response_s"),
    ("Handling", "avg_handling_s"), ("Resolution", "avg_resolution_s"), ("Reopen", _rate), ("Rating", _rating),
    ("SLA missed", _breaches), ("In/out", _messages)]
WIDE_FIGURES: list[output.Column] = [
    ("Pend/open/closed", lambda r: f"{r['pending']}/{r['open']}/{r['closed']}"), ("Transf", "transfers"),
    ("CSAT 1-5", _csat)]
WIDE = 150


def figures(*first: output.Column) -> list[output.Column]:
    return [*first, *FIGURES, *(WIDE_FIGURES if output.console().width >= WIDE else [])]


AGENT = ("Agent", lambda r: r.get("user_name") or f"user {r.get('user_id')}")
QUEUE = ("Queue", lambda r: r.get("queue_name") or "(no queue)")
NUMBER = ("Number", lambda r: r.get("connection_name") or f"number {r.get('connection_id')}")
TAG = ("Tag", lambda r: r.get("tag_name") or f"tag {r.get('tag_id')}")
LIVE_AGENTS: list[output.Column] = [
    ("Agent", "name"), ("Role", "role"), ("Status", "status"),
    ("Open / capacity", lambda r: f"{r['open_tickets']} / {r['max_tickets']}"),
    ("Last reply", lambda r: f"{output.duration(r['since_last_reply_s'])} ago"
     if r.get("since_last_reply_s") is not None else "never")]
LIVE_QUEUES: list[output.Column] = [
    ("Queue", lambda r: r.get("name") or "(no queue yet)"), ("Waiting", "waiting"),
    ("Oldest wait", "oldest_wait_s"), ("SLA breaches", "breaches")]
LIVE_NUMBERS: list[output.Column] = [("Number", "name"), ("Kind", "kind"), ("State", "state"),
                                     ("Reason", "status_reason"), ("Outbox", "outbox")]


# -- rows for scripts ------------------------------------------------------------------------
def summary_rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary flat: one row per scope (total, each agent, queue, number, tag), the same keys."""
    rows = [{"scope": "total", "id": None, "name": None, **r["total"]}]
    for scope, key, id_key, name_key in SCOPES:
        rows += [{"scope": scope, "id": g[id_key], "name": g[name_key],
                  **{k: v for k, v in g.items() if k not in (id_key, name_key)}} for g in r[key]]
    return rows


def live_rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The live panel flat: a row per agent, queue and number, each saying which section it is of."""
    sections = (("agent", "agents"), ("queue", "queues"), ("number", "numbers"))
    return [{"section": section, **row} for section, key in sections for row in r[key]]


def write_csv(rows: Sequence[dict[str, Any]]) -> None:
    """Rows as CSV with a header: every key any row has, in first-seen order; None is empty."""
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(sys.stdout, fields, lineterminator="\n")  # csv writes None as ""
    writer.writeheader()
    writer.writerows(rows)


# -- charts ----------------------------------------------------------------------------------
def chart(rows: Sequence[dict[str, Any]], metric: str, title: str, grouped: bool) -> str:
    """The series as a terminal chart: bars per bucket, or a line per group (the busiest few)."""
    buckets = list(dict.fromkeys(r["bucket"] for r in rows))
    labels = [b[5:] if len(b) == 10 else b for b in buckets]  # 2026-03-10 -> 03-10
    width, _ = shutil.get_terminal_size((100, 24))
    plotext.clear_figure()
    plotext.theme("clear")
    plotext.plotsize(min(width, 160), 18)
    plotext.title(title)
    if not grouped:
        plotext.bar(labels, [r[metric] or 0 for r in rows])
    else:
        totals: dict[Any, float] = {}
        for r in rows:
            totals[r["group_id"]] = totals.get(r["group_id"], 0) + (r["tickets"] or 0)
        busiest = sorted(totals, key=lambda g: -totals[g])[:CHART_GROUPS]
        names = {r["group_id"]: r["group_name"] or "(none)" for r in rows}
        xs = list(range(len(buckets)))
        for g in busiest:
            values = {r["bucket"]: r[metric] or 0 for r in rows if r["group_id"] == g}
            plotext.plot(xs, [values.get(b, 0) for b in buckets], label=names[g])
        step = max(1, len(xs) // 12)
        plotext.xticks(xs[::step], labels[::step])
    return plotext.uncolorize(plotext.build()) if not sys.stdout.isatty() else plotext.build()


# -- the command -----------------------------------------------------------------------------
@app.command("reports")
def reports(
    session: Session, out: Output,
    view: Annotated[str, typer.Argument(
        metavar="[VIEW]", help="summary: the period in all and per agent, queue, number and tag; series: per "
        "day or hour of day, charted; live: agents, queues and numbers now.")] = "summary",
    since: Annotated[str | None, typer.Option(
        "--since", metavar="DATE", help="From this date or date-time (the company's time zone), or an age like "
        "7d (default: 30 days ago).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="DATE", help="Up to (not including) this date or date-time (default: now).")] = None,
    by: Annotated[str, typer.Option("--by", metavar="day|hour",
                                    help="series: per day, or per hour of day (00-23).")] = "day",
    group: Annotated[str | None, typer.Option(
        "--group", metavar="agent|queue|connection|tag", help="series: a row (and a chart line) per group.")] = None,
    metric: Annotated[str, typer.Option(
        "--metric", metavar="FIELD", help="series: the figure charted, e.g. tickets, avg_wait_s, "
        "avg_first_response_s, avg_handling_s, messages_in.")] = "tickets",
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV with a header (for spreadsheets).")]
    = False,
) -> None:
    """Report on a period: waiting (TME), first response, handling (TMA) and resolution times, reopens,
    transfers, ratings, SLA breaches and messages, in the company's time zone.

    The tickets counted are those created in the period (on the day and hour they came in), each with
    all its messages; the summary's "messages in / out" is the period's traffic, whichever ticket.
    """
    if view not in VIEWS:
        raise typer.BadParameter(f"{view!r}: choose summary, series or live", param_hint="VIEW")
    if as_csv and not out.for_people:
        raise typer.BadParameter("choose one of --csv, --json and --jsonl")
    series_only = {"--by": by != "day", "--group": group is not None, "--metric": metric != "tickets"}
    if view != "series" and any(series_only.values()):
        given = ", ".join(k for k, v in series_only.items() if v)
        raise typer.BadParameter(f"{given}: only for `zingctl reports series`")
    if by not in BY:
        raise typer.BadParameter(f"{by!r}: choose day or hour", param_hint="--by")
    if group is not None and group not in GROUPS:
        raise typer.BadParameter(f"{group!r}: choose one of {', '.join(GROUPS)}", param_hint="--group")
    if view == "live":
        if since or until:
            raise typer.BadParameter("--since and --until are for summary and series; live is now")
        _live(session, out, as_csv)
        return
    tz = company_time.of(session) if since or until or out.for_people else None
    zone = tz.zone if tz else None
    period = {"since": moment(since, zone, "--since") if since else None,
              "until": moment(until, zone, "--until") if until else None}
    if view == "series":
        _series(session, out, tz, period, by, group, metric, as_csv)
    else:
        _summary(session, out, tz, period, as_csv)


def _summary(session: Session, out: Output, tz: company_time.CompanyTime | None, period: dict[str, Any],
             as_csv: bool) -> None:
    r = session.call("report.summary", period)
    if as_csv:
        write_csv(summary_rows(r))
        return
    if out.format == "json":
        out.raw(r)
        return
    if not out.for_people:
        out.rows(summary_rows(r), [])
        return
    total, msgs = r["total"], r["messages"]

    def avg(key: str) -> str:
        return output.duration(total[key]) if total.get(key) is not None else "-"

    terminal = output.console()
    out.item({
        "period": f"{tz.at(r['since'])} to {tz.at(r['until'])} {tz.name}",
        "tickets": total["tickets"],
        "pending / open / closed": f"{total['pending']} / {total['open']} / {total['closed']}",
        "avg wait (TME)": avg("avg_wait_s"),
        "avg first response": avg("avg_first_response_s"),
        "avg handling (TMA)": avg("avg_handling_s"),
        "avg resolution": avg("avg_resolution_s"),
        "reopened": f"{total['reopened']} ({_rate(total) or '-'} of those closed)",
        "transfers": total["transfers"],
        "rating": _rating(total) or "-",
        "CSAT (1/2/3/4/5)": _csat(total) or "-",
        "SLA missed (first response/resolution)": _breaches(total),
        "messages in / out": f"{msgs['inbound']} / {msgs['outbound']}",
        "failed sends": msgs["failed"],
    }, title="report")
    for key, first, title, empty in (("agents", AGENT, "per agent", "no tickets assigned to agents"),
                                     ("queues", QUEUE, "per queue", "no tickets"),
                                     ("connections", NUMBER, "per number", "no tickets"),
                                     ("tags", TAG, "per tag", "no tagged tickets")):
        terminal.print()
        out.rows(r[key], figures(first), title=title, empty=f"{title}: {empty}")


def _series(session: Session, out: Output, tz: company_time.CompanyTime | None, period: dict[str, Any], by: str,
            group: str | None, metric: str, as_csv: bool) -> None:
    r = session.call("report.series", {**period, "by": by, **({"group": group} if group else {})})
    rows = r["rows"]  # never empty: every bucket of the period has its row
    fields = [k for k in rows[0] if k not in ("bucket", "group_id", "group_name")]
    if metric not in fields:
        raise typer.BadParameter(f"{metric!r}: chart one of {', '.join(fields)}", param_hint="--metric")
    if as_csv:
        write_csv(rows)
        return
    if not out.for_people:
        out.rows(rows, [])
        return
    per = "day" if by == "day" else "hour of day"
    title = f"{metric} per {per}" + (f" and {group}" if group else "")
    typer.echo(f"{tz.at(r['since'])} to {tz.at(r['until'])} {tz.name}")
    typer.echo(chart(rows, metric, title, group is not None))
    bucket = ("Day" if by == "day" else "Hour", "bucket")
    columns = figures(bucket) if group is None else figures(
        bucket, (group.title(), lambda x: x.get("group_name") or "(none)"))
    shown = [x for x in rows if x["tickets"] or x["messages_in"] or x["messages_out"]] if group else rows
    out.rows(shown, columns, title=f"per {per}" + (f" and {group}" if group else ""), empty="nothing in the period")


def _live(session: Session, out: Output, as_csv: bool) -> None:
    r = session.call("report.live")
    if as_csv:
        write_csv(live_rows(r))
        return
    if out.format == "json":
        out.raw(r)
        return
    if not out.for_people:
        out.rows(live_rows(r), [])
        return
    terminal = output.console()
    out.rows(r["agents"], LIVE_AGENTS, title="agents", empty="no agents")
    terminal.print()
    out.rows(r["queues"], LIVE_QUEUES, title="queues", empty="no queues")
    terminal.print()
    out.rows(r["numbers"], LIVE_NUMBERS, title="numbers", empty="no numbers")
