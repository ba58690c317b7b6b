"""`zingctl quickreplies`: canned answers agents type as /shortcut."""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import inputs, output
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="quickreplies", help="Canned answers (/shortcut): tenant-wide or personal.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Shortcut", lambda q: f"/{q['shortcut']}"), ("Scope", "scope"),
    ("Body", lambda q: " ".join((q.get("body") or "").split())[:80]),
]

ReplyId = Annotated[int, typer.Argument(help="Quick reply id.")]


@app.command("list")
def list_(session: Session, out: Output, query: Annotated[str | None, typer.Option(
        "--query", "-q", help="Fuzzy match on the shortcut, or words in the body.")] = None) -> None:
    """List your quick replies (personal first, then the tenant's)."""
    out.rows(session.call("quickreply.list", {"query": query}), COLUMNS, empty="no quick replies")


@app.command("create")
def create(
    session: Session, out: Output,
    shortcut: Annotated[str, typer.Argument(help="What agents type after /, e.g. thanks.")],
    text: Annotated[str, typer.Argument(
        metavar="TEXT|-", parser=inputs.text_or_stdin, help="The reply; may use {{name}}, {{first_name}}, "
        "{{agent}}, {{protocol}}...; `-` reads standard input.")],
    personal: Annotated[bool, typer.Option(
        "--personal", help="Only for you (tenant-wide ones need a supervisor or admin).")] = False,
) -> None:
    """Add a quick reply."""
    q = session.call("quickreply.create", {"shortcut": shortcut, "body": text, "personal": personal})
    out.done(q, f"created quick reply {q['id']} /{q['shortcut']} ({q['scope']})")


@app.command("update")
def update(
    session: Session, out: Output,
    reply_id: ReplyId,
    shortcut: Annotated[str | None, typer.Option("--shortcut", help="New shortcut.")] = None,
    text: Annotated[str | None, typer.Option(
        "--text", "--body", metavar="TEXT|-", parser=inputs.text_or_stdin,
        help="New reply text; `-` reads standard input.")] = None,
) -> None:
    """Change a quick reply's shortcut or text."""
    q = session.call("quickreply.update", {"id": reply_id, "shortcut": shortcut, "body": text})
    out.done(q, f"updated quick reply {q['id']} /{q['shortcut']}")


@app.command("delete")
def delete(session: Session, out: Output, reply_id: ReplyId) -> None:
    """Delete a quick reply."""
    q = session.call("quickreply.delete", {"id": reply_id})
    out.done(q, f"deleted quick reply {reply_id} /{q['shortcut']}")
