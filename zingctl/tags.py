"""`zingctl tags`: labels for tickets and contacts; also `zingctl tickets tag`."""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import output, tickets
from zingctl.commands import Typer
from zingctl.output import Output
from zingctl.session import Session

app = Typer(name="tags", help="Labels on tickets and contacts: list, create (or recolor), delete.")

COLUMNS: list[output.Column] = [
    ("ID", "id"), ("Name", "name"), ("Color", "color"), ("Tickets", "tickets"), ("Contacts", "contacts"),
]

TagId = Annotated[int, typer.Argument(help="Tag id.")]
Names = Annotated[list[str] | None, typer.Argument(
    metavar="TAG", show_default=False,
    help="Tag names; they replace the current tags (a supervisor's new names are created; agents pick existing ones).")]
Clear = Annotated[bool, typer.Option("--clear", help="Remove every tag.")]


def names(tags: list[str] | None, clear: bool) -> list[str]:
    """The tags to set: some names, or none with --clear (never none by accident)."""
    if bool(tags) == clear:
        raise typer.BadParameter("give TAG names, or --clear to remove them all")
    return tags or []


@app.command("list")
def list_(session: Session, out: Output) -> None:
    """List the tags with how many tickets and contacts carry each."""
    out.rows(session.call("tag.list"), COLUMNS, empty="no tags")


@app.command("create")
def create(
    session: Session, out: Output,
    name: Annotated[str, typer.Argument(help="The tag's name (1 to 40 characters).")],
    color: Annotated[str, typer.Option("--color", help="Color as #rrggbb.")] = "#868e96",
) -> None:
    """Create a tag, or recolor an existing one."""
    t = session.call("tag.create", {"name": name, "color": color})
    out.done(t, f"tag {t['id']} {t['name']!r} ({t['color']})")


@app.command("delete")
def delete(session: Session, out: Output, tag_id: TagId) -> None:
    """Delete a tag from every ticket and contact."""
    t = session.call("tag.delete", {"id": tag_id})
    out.done(t, f"deleted tag {tag_id} {t['name']!r}")


TicketNames = Annotated[list[str] | None, typer.Argument(
    metavar="TAG", show_default=False, help="Existing tag names (zingctl tags list; a supervisor creates them).")]


@tickets.app.command("tag")
def tag_ticket(session: Session, out: Output, ticket_id: tickets.TicketId, tags: TicketNames = None,
               replace: Annotated[bool, typer.Option("--replace", help="Make these the ticket's only tags.")] = False,
               remove: Annotated[bool, typer.Option("--remove", help="Take these tags off the ticket.")] = False,
               clear: Clear = False) -> None:
    """Add tags to a ticket, e.g. `zingctl tickets tag 12 vip billing` (its other tags stay; --replace, --remove)."""
    if replace and remove:
        raise typer.BadParameter("--replace or --remove, not both")
    mode = "replace" if replace or clear else "remove" if remove else "add"
    t = session.call("ticket.set_tags", {"id": ticket_id, "tags": names(tags, clear), "mode": mode})
    out.done(t, f"ticket {t['id']} tags: {', '.join(t.get('tags') or []) or 'none'}")
