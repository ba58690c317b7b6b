"""quickreply.*: canned answers, personal or tenant-wide, typed after / in the console."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from zingd.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById, changes
from zingd.rpc.server import Call
from zingd.services import quickreplies


class QuickReplyList(msgspec.Struct, forbid_unknown_fields=True):
    query: str | None = None


class QuickReplyCreate(msgspec.Struct, forbid_unknown_fields=True):
    shortcut: str
    body: str
    personal: bool = False


class QuickReplyUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    shortcut: str | UnsetType = UNSET
    body: str | UnsetType = UNSET


@REGISTRY.method("quickreply.list", QuickReplyList, result=list[R.QuickReply])
async def list_(call: Call, p: QuickReplyList) -> list:
    """The caller's quick replies (personal and tenant-wide), fuzzy-filtered by query."""
    return await quickreplies.list_replies(call.app.db, call.actor, p.query)


@REGISTRY.method("quickreply.create", QuickReplyCreate, result=R.QuickReply,
                 errors=(Forbidden, Conflict, Invalid, Unavailable))
async def create(call: Call, p: QuickReplyCreate) -> dict:
    """Add a quick reply: personal, or tenant-wide (supervisors and up)."""
    return await call.app.db.write(quickreplies.create, call.actor, p.shortcut, p.body, p.personal)


@REGISTRY.method("quickreply.update", QuickReplyUpdate, result=R.QuickReply,
                 errors=(NotFound, Forbidden, Invalid, Unavailable))
async def update(call: Call, p: QuickReplyUpdate) -> dict:
    """Change a quick reply's shortcut or body."""
    c = changes(p)
    return await call.app.db.write(quickreplies.update, call.actor, p.id, c.get("shortcut"), c.get("body"))


@REGISTRY.method("quickreply.delete", ById, result=R.QuickReply, errors=(NotFound, Forbidden, Unavailable))
async def delete(call: Call, p: ById) -> dict:
    """Delete a quick reply."""
    return await call.app.db.write(quickreplies.delete, call.actor, p.id)
