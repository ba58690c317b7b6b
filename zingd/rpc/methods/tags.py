"""tag.*: the tenant's labels for tickets and contacts (set on them with ticket.set_tags / contact.set_tags)."""

from __future__ import annotations

import msgspec

from zingd.errors import Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import tags


class TagCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    color: str = "#868e96"


@REGISTRY.method("tag.list", result=list[R.TagUsage])
async def list_(call: Call, p) -> list:
    """The tenant's tags with how many tickets and contacts carry them."""
    return await tags.list_tags(call.app.db, call.actor)


@REGISTRY.method("tag.create", TagCreate, result=R.Tag, errors=(Invalid, Unavailable))
async def create(call: Call, p: TagCreate) -> dict:
    """Create (or recolor) a tag; color as #rrggbb or #rgb."""
    return await call.app.db.write(tags.create, call.actor, p.name, p.color)


@REGISTRY.method("tag.delete", ById, result=R.Tag, errors=(NotFound, Unavailable))
async def delete(call: Call, p: ById) -> dict:
    """Delete a tag everywhere."""
    return await call.app.db.write(tags.delete, call.actor, p.id)
