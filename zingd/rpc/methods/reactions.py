"""message.react: an agent's emoji on a message of a ticket (the rules in ``zingd/services/reactions.py``)."""

from __future__ import annotations

import msgspec

from zingd.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import reactions


class React(msgspec.Struct, forbid_unknown_fields=True):
    message_id: int
    emoji: str  # one emoji; "" takes the number's reaction off


@REGISTRY.method("message.react", React, result=R.Message,
                 errors=(NotFound, Forbidden, Conflict, Invalid, Unavailable))
async def react(call: Call, p: React) -> dict:
    """React to a message with one emoji ("" takes the reaction off), queued like any message: the answer is
    the reaction's own message (type reaction, reaction_to the message). A number has one reaction per
    message: a new emoji replaces it, the same one again returns the standing reaction and sends nothing."""
    return await call.app.db.write(reactions.react_unit, call.actor, p.message_id, p.emoji)
