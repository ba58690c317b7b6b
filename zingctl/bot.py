"""`zingctl bot`: what the tenant's bot would say in a ticket (a dry run), and where it is answering.

The bot's settings are `zingctl assistant set --bot ...`; this group only looks."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from zingctl import inputs, output, tickets
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="bot", help="The assistant's bot: try it on a ticket without sending anything, list its tickets.")

COLUMNS: list[output.Column] = [
    ("Ticket", "ticket_id"), ("Contact", "contact_name"), ("Bot", lambda r: r["state"].replace("_", " ")),
    ("Why", "reason"), ("Turns", "turns"), ("Queue", lambda r: r.get("queue_name") or ""),
    ("Ticket status", "ticket_status"), ("Changed", "updated_at"),
]
TOOL_COLUMNS: list[output.Column] = [
    ("Tool", "tool"), ("Method", lambda c: c.get("method") or ""),
    ("Arguments", lambda c: json.dumps(c.get("arguments"), ensure_ascii=False)),
    ("Result", lambda c: json.dumps(c["result"], ensure_ascii=False) if "result" in c else ""),
]


def _said(r: dict[str, Any]) -> str:
    if r["handoff"]:
        queue = r["handoff"]["queue_id"]
        return f"it would hand over{f' to queue {queue}' if queue else ''}: {r['handoff']['reason']}"
    return r["text"]


@app.command("test")
def test(
    session: Session, out: Output,
    ticket_id: tickets.TicketId,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only show what the bot would do: the only mode there is (nothing is ever sent or "
                          "changed; the model is asked for real and counts as the tenant's test usage).")] = True,
    instructions: Annotated[str | None, typer.Option(
        "--instructions", metavar="TEXT|-", parser=inputs.text_or_stdin,
        help="Try these instructions instead of the tenant's (nothing is saved); `-` reads standard input.")] = None,
) -> None:
    """Show what the bot would answer in a ticket now, which tools it would call and which knowledge it was given."""
    params: dict[str, Any] = {"ticket_id": ticket_id}
    if instructions is not None:
        params["instructions"] = instructions
    r = session.call("bot.test", params)
    if not out.for_people:
        out.raw(r)
        return
    out.note("dry run: nothing was sent or changed")
    if r["why"]:
        out.note(f"the bot would not answer this ticket now: {r['why']}")
    out.item({"ticket": ticket_id, "would say": _said(r),
              "knowledge": ", ".join(f"#{s['id']} {s['title']}" for s in r["sources"]) or "none"},
             title=f"bot test, ticket {ticket_id}")
    if r["tools"]:
        out.rows(r["tools"], TOOL_COLUMNS, title="tools it called (only reading ones ran)")


@app.command("list")
def list_(
    session: Session, out: Output,
    state: Annotated[str | None, typer.Option(
        "--state", help="Only tickets where the bot is active, stopped or handed_over.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many at most.")] = 100,
) -> None:
    """List the tickets the bot took part in, latest change first, with its state there and why."""
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        params["state"] = state
    out.rows(session.call("bot.list", params), COLUMNS, empty="the bot has not answered any ticket")
