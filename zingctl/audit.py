"""`zingctl audit`: the append-only trail of who did what to which ids, when."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from zingctl import output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer()

POLL_S = 1.0  # --follow asks for new entries this often

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Time", "created_at"), ("User", lambda a: a.get("user_name") or a.get("user_id") or "daemon"),
    ("Action", "action"), ("Target", lambda a: _target(a)), ("Data", "data"),
]


def _target(a: dict[str, Any]) -> str:
    kind, tid = a.get("target_type") or "", a.get("target_id")
    return f"{kind} {tid}" if tid is not None else kind


def render(a: dict[str, Any]) -> Text:
    ts = datetime.fromtimestamp(a["created_at"]).strftime("%Y-%m-%d %H:%M:%S") if a.get("created_at") else ""
    data = json.dumps(a["data"], ensure_ascii=False) if a.get("data") else ""
    who = a.get("user_name") or (f"user {a['user_id']}" if a.get("user_id") else "daemon")
    return Text.assemble((f"{a['id']:>6} ", "dim"), (ts, "dim"), " ", (f"{a['action']:<20}", "cyan"), " ",
                         f"{_target(a):<16} ", (who, "bold"), f" {data}".rstrip())


@app.command("audit")
def audit(
    session: Session, out: Output,
    user: Annotated[int | None, typer.Option("--user", help="Only what this user id did.")] = None,
    action: Annotated[str | None, typer.Option(
        "--action", help="Only this action; * matches anything, e.g. 'ticket.*'.")] = None,
    target_type: Annotated[str | None, typer.Option(
        "--target-type", help="Only on this kind of target, e.g. ticket, contact, campaign.")] = None,
    target_id: Annotated[int | None, typer.Option("--target-id", help="Only on this target id.")] = None,
    after: Annotated[int | None, typer.Option(
        "--after", metavar="ID", help="Only entries after this entry id (to page on).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="How many at most (per page).")] = 100,
    tenant: Annotated[int | None, typer.Option("--tenant", help="Another tenant's trail (superadmin).")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Print every matching entry, then keep printing new ones (polled every second) "
        "until Ctrl-C.")] = False,
) -> None:
    """List the audit trail, oldest first; --follow keeps it open like `tail -f` (exit 0 on Ctrl-C).

    --json / --jsonl with --follow print JSON lines: a stream has no single document.
    """
    params = {"tenant_id": tenant, "user_id": user, "action": action, "target_type": target_type,
              "target_id": target_id, "after_id": after, "limit": limit}
    if not follow:
        entries = session.call("audit.list", params)
        out.rows(entries, COLUMNS, title="audit", empty="no audit entries")
        if len(entries) == limit:
            out.note(f"more: --after {entries[-1]['id']}")
        return
    out.note("following the audit trail (Ctrl-C to stop)")
    try:
        while True:
            entries = session.call("audit.list", params)
            for entry in entries:
                out.line(entry, render(entry))
            if entries:
                params["after_id"] = entries[-1]["id"]
            if len(entries) < limit:
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        pass
