"""`zingctl campaigns`: one message (in variants) to many contacts, paced per number by the daemon.

draft -> start -> scheduled | running -> paused <-> running -> done | cancelled. Each recipient goes
pending -> queued -> sent -> delivered -> read, or failed / skipped / opted_out.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from zingctl import exports, inputs, output
from zingctl.commands import Typer
from zingctl.inputs import FileOrStdin, Source
from zingctl.uploads import uploaded
from zingctl.output import Output
from zingctl.session import Session
from zingd.errors import ZingError

app = Typer(name="campaigns", help="Bulk sends, paced per number: create (or dry-run), start, pause, "
                                   "watch, report.")

STATES = ("pending", "queued", "sent", "delivered", "read", "failed", "skipped", "opted_out")
FINISHED = ("done", "cancelled")
POLL_S = 1.0      # watch asks for the campaign this often
SETTLE_S = 30.0   # once done, watch waits at most this long for the queued messages to leave
PAGE = 1000       # recipients per campaign.recipients call
REPORT_FIELDS = ("id", "contact_id", "number", "name", "state", "variant", "connection_id", "message_id", "error",
                 "queued_at", "sent_at", "delivered_at", "read_at", "updated_at")


def finished(c: dict[str, Any]) -> int:
    """Recipients the campaign is through with: everyone neither pending nor queued."""
    n = c["counts"]
    return n["total"] - n["pending"] - n["queued"]


def sent(c: dict[str, Any]) -> int:
    """Messages that left (sent, and those since delivered or read)."""
    n = c["counts"]
    return n["sent"] + n["delivered"] + n["read"]


COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Status", "status"), ("Recipients", lambda c: c["counts"]["total"]),
    ("Pending", lambda c: c["counts"]["pending"]), ("Sent", sent), ("Read", lambda c: c["counts"]["read"]),
    ("Failed", lambda c: c["counts"]["failed"]), ("Opted out", lambda c: c["counts"]["opted_out"]),
    ("Created", "created_at"), ("Stop reason", "stop_reason"),
]
SAMPLE_COLUMNS: list[output.Column] = [("Contact", "contact_id"), ("Number", "number"), ("Message", "message")]
REPORT_COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Contact", "contact_id"), ("Number", "number"), ("Name", "name"), ("State", "state"),
    ("Variant", "variant"), ("Number id", "connection_id"), ("Queued", "queued_at"), ("Sent", "sent_at"),
    ("Delivered", "delivered_at"), ("Read", "read_at"), ("Error", "error"),
]

INVALID_COLUMNS: list[output.Column] = [("Row", "row"), ("Error", "error")]
MISSING_COLUMNS: list[output.Column] = [("Contact", "contact_id"), ("Number", "number"),
                                        ("Missing", lambda r: ", ".join(r.get("missing") or []))]

CampaignId = Annotated[int, typer.Argument(help="Campaign id.")]


def at(ts: float | None) -> str:
    """A send time with its distance from now: '2026-11-24 18:30 (in 2h 5m)'."""
    if not ts:
        return "-"
    delta = ts - time.time()
    rel = "now" if abs(delta) < 1 else f"in {output.duration(delta)}" if delta > 0 else f"{output.duration(-delta)} ago"
    return f"{datetime.fromtimestamp(ts):%Y-%m-%d %H:%M:%S} ({rel})"


def _said(out: Output, c: dict[str, Any], verb: str) -> None:
    reason = f": {c['stop_reason']}" if c.get("stop_reason") else ""
    out.done(c, f"campaign {c['id']} {c['name']!r} {verb}: {c['status']}{reason}")


# -- create ----------------------------------------------------------------------
def _variants(messages: list[str], files: list[str], template: str | None) -> list[str]:
    if not messages and not files and template is None:
        raise typer.BadParameter("give the message with --message TEXT (repeat it for variants), --message-file "
                                 "or, for cloud numbers, --template")
    return [*messages, *files]


def _template(template: str | None, params: list[str] | None) -> dict[str, Any] | None:
    """--template ID or NAME[:LANG] and its --template-param values, as campaign.create takes them."""
    if template is None:
        if params:
            raise typer.BadParameter("--template-param needs --template", param_hint="--template-param")
        return None
    if template.isdigit():
        return {"id": int(template), "params": params or []}
    name, _, language = template.partition(":")
    return {"name": name, "language": language or None, "params": params or []}


def _recipients(tag: str | None, contacts: str | None, csv_file: Source | None, filter_tag: str | None,
                fields: list[str] | None) -> dict[str, Any]:
    chosen = [name for name, value in (("--tag", tag), ("--contacts", contacts), ("--csv", csv_file),
                                       ("--filter-tag/--field", filter_tag or fields)) if value]
    if len(chosen) != 1:
        raise typer.BadParameter("choose the recipients with exactly one of --tag, --contacts, --csv, or "
                                 "--filter-tag / --field")
    if tag:
        return {"tag": tag}
    if contacts:
        try:
            return {"contact_ids": [int(x) for x in contacts.replace(" ", "").split(",") if x]}
        except ValueError:
            raise typer.BadParameter("contact ids separated by commas, e.g. 1,2,3", param_hint="--contacts") from None
    if csv_file:
        return {}  # the CSV goes up as an upload: create names it
    return {"filter": {"tag": filter_tag, "fields": inputs.pairs(fields, "--field") if fields else {}}}


def _preview(out: Output, p: dict[str, Any]) -> None:
    schedule = p.get("schedule") or {}
    out.item({"recipients": p["recipients"], "opted out": p["opted_out"], "to send": p["to_send"],
              "from numbers": ", ".join(map(str, p["connection_ids"])),
              "first send": at(schedule.get("first_send_at")), "last send": at(schedule.get("last_send_at"))},
             title="dry run: nothing was created")
    terminal = output.console()
    terminal.print()
    shown = len(p["sample"])
    title = f"sample messages ({shown} of {p['to_send']})" if shown < p["to_send"] else "sample messages"
    terminal.print(output.table(p["sample"], SAMPLE_COLUMNS, title=title))


@app.command("create")
def create(
    session: Session, out: Output,
    name: Annotated[str, typer.Argument(help="The campaign's name.")],
    message: Annotated[list[str] | None, typer.Option(
        "--message", "-m", metavar="TEXT|-", parser=inputs.text_or_stdin, help="The message; repeat for variants "
        "(one is picked per recipient). May use {{name}}, {{first_name}} and custom fields; `-` reads standard "
        "input.")] = None,
    message_file: Annotated[list[str] | None, typer.Option(
        "--message-file", metavar="FILE|-", parser=FileOrStdin(Source.text), help="A variant from a file "
        "(repeatable); `-` reads standard input.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Recipients: the contacts with this tag.")] = None,
    contacts: Annotated[str | None, typer.Option(
        "--contacts", metavar="ID,ID,...", help="Recipients: these contact ids.")] = None,
    csv_file: Annotated[Source | None, typer.Option(
        "--csv", metavar="FILE|-", parser=FileOrStdin(), help="Recipients: a CSV file (imported as contacts "
        "first; zingctl reads it and uploads it); `-` reads standard input.")] = None,
    filter_tag: Annotated[str | None, typer.Option(
        "--filter-tag", metavar="TAG", help="Recipients by filter: contacts with this tag (and the --field values).")]
    = None,
    field: Annotated[list[str] | None, typer.Option(
        "--field", metavar="KEY=VALUE", help="Recipients by filter: contacts whose custom field equals this "
        "(repeatable).")] = None,
    connection: Annotated[list[int] | None, typer.Option(
        "--connection", metavar="ID", help="Send from this number (repeatable: they take turns; default: the "
        "default number).")] = None,
    media: Annotated[Path | None, typer.Option(
        "--media", exists=True, dir_okay=False, resolve_path=True, help="Attach this file (the message is its "
        "caption; zingctl reads it and uploads it).")] = None,
    start: Annotated[str | None, typer.Option(
        "--start", metavar="WHEN", help="Don't send before this time (company time zone), e.g. "
        "'2026-12-01 09:00'.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Create nothing: count the recipients, render samples, project the send times.")] = False,
    template: Annotated[str | None, typer.Option(
        "--template", metavar="NAME[:LANG]|ID", help="On cloud numbers, send this approved template instead of the "
        "message (needed for recipients who haven't written in 24 hours; zingctl templates list).")] = None,
    template_param: Annotated[list[str] | None, typer.Option(
        "--template-param", metavar="VALUE", help="The template's variables in order (repeat for each); may use "
        "{{name}}, {{first_name}} and custom fields.")] = None,
) -> None:
    """Create a draft campaign (nothing is sent before `zingctl campaigns start`)."""
    params = {"name": name, "variants": _variants(message or [], message_file or [], template),
              **_recipients(tag, contacts, csv_file, filter_tag, field), "connection_ids": connection or None,
              "start_at": start, "dry_run": dry_run, "template": _template(template, template_param)}
    try:
        with uploaded(session, csv_file, "--csv") as csv_id, uploaded(session, media, "--media") as media_id:
            if csv_id is not None:
                params["csv"] = {"upload_id": csv_id}
            result = session.call("campaign.create", {**params, "upload_id": media_id})
    except ZingError as e:  # on a terminal, list what to fix before the error itself
        problems = e.details.get("invalid") or e.details.get("missing")
        if out.for_people and isinstance(problems, list) and problems:
            columns = INVALID_COLUMNS if "invalid" in e.details else MISSING_COLUMNS
            output.console().print(output.table(problems, columns, title="to fix"))
        raise
    if dry_run:
        _preview(out, result) if out.for_people else out.raw(result)
        return
    n = result["counts"]
    out.done(result, f"created campaign {result['id']} {result['name']!r} (draft): {n['total']} recipients, "
                     f"{n['opted_out']} opted out; send it with `zingctl campaigns start {result['id']}`")


# -- read ----------------------------------------------------------------------
@app.command("list")
def list_(session: Session, out: Output) -> None:
    """List the campaigns, newest first, with their counts."""
    out.rows(session.call("campaign.list"), COLUMNS, empty="no campaigns")


def _pacing(pacing: dict[str, dict[str, Any]]) -> Table:
    """Every limit (rows) of every number (columns)."""
    t = Table(title="pacing per number", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    t.add_column("Limit")
    for cid in pacing:
        t.add_column(f"number {cid}")
    keys = list(dict.fromkeys(k for limits in pacing.values() for k in limits))
    for key in keys:
        t.add_row(key, *(Text(_limit(key, limits.get(key))) for limits in pacing.values()))
    return t


def _limit(key: str, value: Any) -> str:
    if key.endswith("_at"):
        return at(value)
    if key == "warmup":
        return " → ".join(map(str, value)) if value else "none"
    if key == "failure_threshold" and isinstance(value, (int, float)):
        return f"{value:.0%}"
    return output.cell(key, value)


@app.command("show")
def show(session: Session, out: Output, campaign_id: CampaignId) -> None:
    """Show a campaign: status, stop reason, counts per state, each number's pacing limits, projected end."""
    c = session.call("campaign.get", {"id": campaign_id})
    if not out.for_people:
        out.raw(c)
        return
    media = c.get("media_path")
    out.item({
        "id": c["id"], "name": c["name"], "status": c["status"], "stop reason": c.get("stop_reason"),
        "recipients from": c.get("source"), "numbers": ", ".join(map(str, c.get("connection_ids") or [])),
        "variants": len(c.get("variants") or []), "media": media, "start at": at(c["start_at"]) if c.get("start_at")
        else None, "created": at(c.get("created_at")), "finished": at(c["finished_at"]) if c.get("finished_at")
        else None,
    }, title=f"campaign {c['id']}")
    terminal = output.console()
    terminal.print()
    counts = c["counts"]
    terminal.print(output.table([{"state": s, "count": counts.get(s, 0)} for s in (*STATES, "total")],
                                [("State", "state"), ("Count", "count")], title="recipients"))
    for i, variant in enumerate(c.get("variants") or []):
        terminal.print(Text.assemble((f"variant {i}: ", "bold"), variant))
    if c.get("template"):
        t = c["template"]
        terminal.print(Text.assemble(("template: ", "bold"), f"{t['name']} ({t['language']})",
                                     f" {' | '.join(t['params'])}" if t.get("params") else ""))
    if c.get("pacing"):
        terminal.print()
        terminal.print(_pacing(c["pacing"]))
    projection = c.get("projection") or {}
    terminal.print()
    if projection.get("last_send_at"):
        terminal.print(Text.assemble(("projection: ", "bold"), f"{counts['pending']} pending; first send ",
                                     at(projection.get("first_send_at")), ", last ", at(projection["last_send_at"])))
    else:
        terminal.print(Text.assemble(("projection: ", "bold"), "nothing pending"))


# -- control -------------------------------------------------------------------
@app.command("start")
def start(session: Session, out: Output, campaign_id: CampaignId) -> None:
    """Start a draft (or resume a paused) campaign; refused while one of its numbers is not connected."""
    _said(out, session.call("campaign.start", {"id": campaign_id}), "started")


@app.command("resume")
def resume(session: Session, out: Output, campaign_id: CampaignId) -> None:
    """Resume a paused campaign (the same as start)."""
    _said(out, session.call("campaign.start", {"id": campaign_id}), "resumed")


@app.command("pause")
def pause(session: Session, out: Output, campaign_id: CampaignId) -> None:
    """Pause a running campaign; resume it with `zingctl campaigns resume`."""
    _said(out, session.call("campaign.pause", {"id": campaign_id}), "paused")


@app.command("cancel")
def cancel(session: Session, out: Output, campaign_id: CampaignId) -> None:
    """Stop a campaign for good; recipients not yet queued are skipped."""
    _said(out, session.call("campaign.cancel", {"id": campaign_id}), "cancelled")


# -- report --------------------------------------------------------------------
def _all_recipients(session: Session, campaign_id: int, state: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = session.call("campaign.recipients", {"id": campaign_id, "state": state, "after_id": after,
                                                    "limit": PAGE})
        rows += page
        if len(page) < PAGE:
            return rows
        after = page[-1]["id"]


def _iso(value: Any) -> Any:
    return datetime.fromtimestamp(value).astimezone().isoformat(timespec="seconds") \
        if isinstance(value, (int, float)) and value else value


@app.command("report")
def report(
    session: Session, out: Output,
    campaign_id: CampaignId,
    state: Annotated[str | None, typer.Option("--state", help=f"Only recipients in this state: {', '.join(STATES)}.")]
    = None,
    to: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", dir_okay=False, help="Write to this file (CSV unless --json/--jsonl).")]
    = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV (times in ISO 8601) instead of a table.")] = False,
) -> None:
    """Every recipient with their state and times: a table, CSV (--csv), JSON lines (--jsonl) or JSON (--json)."""
    rows = _all_recipients(session, campaign_id, state)
    fmt = "csv" if as_csv or (to is not None and out.for_people) else out.format
    if fmt == "table":
        out.rows(rows, REPORT_COLUMNS, title=f"campaign {campaign_id}", empty="no recipients")
        return
    if fmt == "csv":
        rows = [{k: _iso(v) if k.endswith("_at") else v for k, v in r.items()} for r in rows]
    path = exports.export(rows, fmt, REPORT_FIELDS, to)
    if path is not None:
        out.note(f"wrote {len(rows)} recipients to {path} ({fmt})")


# -- watch ---------------------------------------------------------------------
class Meter:
    """Progress of one campaign between polls: what changed, how fast, how long to go."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self.key: Any = None

    def changed(self, c: dict[str, Any]) -> bool:
        key = (c["status"], c.get("stop_reason"), tuple(sorted(c["counts"].items())))
        fresh, self.key = key != self.key, key
        return fresh

    def add(self, now: float, done: int) -> None:
        self.samples.append((now, done))
        self.samples = [s for s in self.samples if now - s[0] <= 120] or self.samples[-1:]

    def per_minute(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) * 60 if t1 > t0 else None

    def eta(self, c: dict[str, Any], now: float) -> float | None:
        """Seconds to go: the daemon's projection (it knows the pacing), else the observed rate."""
        left = c["counts"]["pending"] + c["counts"]["queued"]
        if not left or c["status"] in FINISHED:
            return 0.0
        projected = (c.get("projection") or {}).get("last_send_at")
        if projected:
            return max(0.0, projected - now)
        rate = self.per_minute()
        return left / rate * 60 if rate else None

    def state(self, c: dict[str, Any], now: float) -> dict[str, Any]:
        rate, eta = self.per_minute(), self.eta(c, now)
        return {"id": c["id"], "name": c["name"], "status": c["status"], "stop_reason": c.get("stop_reason") or "",
                "done": finished(c), "total": c["counts"]["total"], "counts": c["counts"],
                "rate_per_min": round(rate, 1) if rate is not None else None,
                "eta_s": round(eta, 1) if eta is not None else None, "ts": now}


def _eta(state: dict[str, Any]) -> str:
    return f"ETA {output.duration(state['eta_s'])}" if state["eta_s"] is not None else "ETA ?"


def _progress_line(state: dict[str, Any]) -> str:
    """One change of a watched campaign as a plain line, for a pipe or a log (no bar to redraw)."""
    percent = state["done"] * 100 // state["total"] if state["total"] else 100
    reason = f" ({state['stop_reason']})" if state["stop_reason"] else ""
    return (f"campaign {state['id']} [{state['status']}]{reason} {state['done']}/{state['total']} {percent}%"
            f"{_stats(state).plain.replace('  sent', ' · sent', 1)} · {_eta(state)}")


def _stats(state: dict[str, Any]) -> Text:
    n = state["counts"]
    rate = f"{state['rate_per_min']:.1f}/min" if state["rate_per_min"] is not None else "-/min"
    return Text.assemble("  sent ", (str(n["sent"]), "bold"), " · delivered ", (str(n["delivered"]), "bold"),
                         " · read ", (str(n["read"]), "bold"), " · failed ",
                         (str(n["failed"]), "bold red" if n["failed"] else "bold"), f" · {rate}")


class Bar(Progress):
    """One campaign's bar, with its counts on a line of their own (they don't fit beside it)."""

    stats: Text = Text("")

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        yield self.stats


def _outcome(c: dict[str, Any], since_done: float | None, now: float) -> int | None:
    """The exit code once the watch is over, else None."""
    if c["status"] == "paused":
        return 1
    if c["status"] == "cancelled":
        return 0
    if c["status"] == "done" and (not c["counts"]["queued"] or (since_done and now - since_done > SETTLE_S)):
        return 0
    return None


@app.command("watch")
def watch(session: Session, out: Output, campaign_id: CampaignId) -> None:
    """Follow a campaign live: a progress bar of recipients done, with sent/delivered/read/failed, rate and ETA.

    Exits 0 when the campaign is done (and its queued messages have left) or cancelled, 1 when it is paused
    (the stop reason is printed); Ctrl-C exits 0. Off a terminal (a pipe, a log) it prints a plain line per
    change instead of the bar; --jsonl (or --json) one JSON line per change.
    """
    c = session.call("campaign.get", {"id": campaign_id})  # an unknown id fails here, before any bar
    if c["status"] in ("draft", "scheduled"):
        out.note(f"campaign {campaign_id} is {c['status']}: waiting for it to run (Ctrl-C to stop)")
    meter, since_done, code, task = Meter(), None, None, None
    progress = Bar(TextColumn("[bold]{task.description}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                   TaskProgressColumn(), TextColumn("{task.fields[eta]}"), console=output.console(),
                   auto_refresh=False) if out.for_people and sys.stdout.isatty() else None
    try:
        if progress is not None:
            progress.start()
        while True:
            now = time.time()
            meter.add(now, finished(c))
            state = meter.state(c, now)
            if c["status"] == "done" and since_done is None:
                since_done = now
            if progress is None:
                if meter.changed(c):
                    out.line(state, Text(_progress_line(state)))
            else:
                description = escape(f"campaign {c['id']} [{c['status']}]")
                if task is None:
                    task = progress.add_task(description, total=state["total"] or 1, eta="")
                progress.stats = _stats(state)
                progress.update(task, description=description, completed=state["done"],
                                total=state["total"] or 1, eta=_eta(state))
                progress.refresh()
            code = _outcome(c, since_done, now)
            if code is not None:
                break
            time.sleep(POLL_S)
            c = session.call("campaign.get", {"id": campaign_id})
    except KeyboardInterrupt:
        code = 0
    finally:
        if progress is not None:
            progress.stop()
    if code == 1:
        out.error(f"campaign {campaign_id} paused: {c.get('stop_reason') or 'by a user'}", "paused",
                  hint=f"fix the cause, then `zingctl campaigns resume {campaign_id}`")
    raise typer.Exit(code)
