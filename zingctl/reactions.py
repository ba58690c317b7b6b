"""`zingctl messages react`: put an emoji on a message of a ticket, or take it off (``message.react``).

It joins the ``messages`` group (as notes.py adds ``tickets history``); importing this module registers it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from zingctl import messages
from zingctl.output import Output
from zingctl.session import Session


@messages.app.command("react")
def react(session: Session, out: Output,
          message_id: Annotated[int, typer.Argument(help="The message to react to (a customer's or zing's own).")],
          emoji: Annotated[str, typer.Argument(help="One emoji, e.g. 👍.", show_default=False)] = "",
          remove: Annotated[bool, typer.Option("--remove", help="Take the number's reaction off instead.")] = False,
          ) -> None:
    """React to a message with one emoji; a new one replaces the number's reaction, --remove takes it off."""
    if remove == bool(emoji):
        raise typer.BadParameter("give one EMOJI, or --remove (not both)")
    m = session.call("message.react", {"message_id": message_id, "emoji": "" if remove else emoji})
    what = f"reaction {m['body']}" if m["body"] else "reaction taken off"
    out.done(m, f"{what} on message {message_id} queued (message {m['id']})")
