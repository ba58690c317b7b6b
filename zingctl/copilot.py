"""`zingctl copilot`: the assistant's help with a ticket: a suggested reply, a rewritten draft, a
summary, proposed tags. Nothing here sends anything to the customer: the text is printed (on
stdout, so it pipes into an editor or `zingctl messages send ... -`), and what it drew on or why goes
to stderr."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from zingctl import inputs, tickets
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="copilot", help="The assistant's help with a ticket: suggest, rewrite, summarize, tags. "
                                 "Never sends anything.")

Style = Literal["shorter", "friendlier", "formal", "grammar", "translate"]


@app.command("suggest")
def suggest(session: Session, out: Output, ticket_id: tickets.TicketId) -> None:
    """A reply to the ticket, grounded in the company's knowledge, for you to edit and send."""
    s = session.call("copilot.suggest", {"ticket_id": ticket_id})
    out.done(s, s["text"])
    if s["sources"]:
        out.note("from: " + "; ".join(f"{src['title']} (#{src['id']})" for src in s["sources"]))


@app.command("rewrite")
def rewrite(
    session: Session, out: Output,
    text: Annotated[str, typer.Argument(
        metavar="TEXT|-", parser=inputs.text_or_stdin,
        help="The draft; `-` (or nothing) reads standard input.")] = "-",
    *,
    style: Annotated[Style, typer.Option("--style", help="translate: into the customer's language (needs --ticket).")],
    ticket_id: Annotated[int | None, typer.Option("--ticket", help="The ticket the draft answers.")] = None,
) -> None:
    """Rewrite a draft: shorter, friendlier, formal, with its grammar fixed, or in the customer's language."""
    r = session.call("copilot.rewrite", {"text": text, "style": style, "ticket_id": ticket_id})
    out.done(r, r["text"])


@app.command("summarize")
def summarize(
    session: Session, out: Output, ticket_id: tickets.TicketId,
    note: Annotated[bool, typer.Option("--note", help="Also keep it as a private note on the ticket.")] = False,
) -> None:
    """Summarize a ticket's conversation (what the customer wants, what was done, what is open)."""
    s = session.call("copilot.summarize", {"ticket_id": ticket_id, "note": note})
    out.done(s, s["text"])
    if s["note_id"] is not None:
        out.note(f"kept as note {s['note_id']} on ticket {ticket_id}")


@app.command("tags")
def tags(
    session: Session, out: Output, ticket_id: tickets.TicketId,
    apply: Annotated[bool, typer.Option("--apply", help="Add the proposed tags to the ticket.")] = False,
) -> None:
    """Tags that fit the ticket, from the existing ones only; --apply adds them (its other tags stay)."""
    proposal = session.call("copilot.tags", {"ticket_id": ticket_id})
    if not apply or not proposal["tags"]:
        out.done(proposal, ", ".join(proposal["tags"]) or "no tag fits")
        if proposal["reason"]:
            out.note(proposal["reason"])
        return
    t = session.call("ticket.set_tags", {"id": ticket_id, "tags": proposal["tags"], "mode": "add"})
    out.done({**proposal, "ticket": t}, f"ticket {ticket_id} tags: {', '.join(t['tags'])}")
    if proposal["reason"]:
        out.note(proposal["reason"])
