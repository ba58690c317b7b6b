"""contact.*: the people who write in."""

from __future__ import annotations

import msgspec

from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import contacts as svc


class ContactList(msgspec.Struct, forbid_unknown_fields=True):
    query: str | None = None
    after_id: int | None = None
    limit: int = 100


class ContactUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str | None = None
    email: str | None = None
    custom_fields: dict[str, str | int | float | bool] | None = None
    opted_out: bool | None = None


@REGISTRY.method("contact.list", ContactList)
async def list_(call: Call, p: ContactList) -> list:
    """Contacts by id, or matching a name/number search."""
    return await svc.list_contacts(call.app, call.actor, p.query, p.after_id, p.limit)


@REGISTRY.method("contact.get", ById)
async def get(call: Call, p: ById) -> dict:
    """A contact with the WhatsApp ids that map to it and its tickets."""
    return await svc.get(call.app, call.actor, p.id)


@REGISTRY.method("contact.update", ContactUpdate)
async def update(call: Call, p: ContactUpdate) -> dict:
    """Edit name, email, custom fields (merged) or the opt-out flag."""
    changes = {k: v for k, v in msgspec.structs.asdict(p).items() if k != "id" and v is not None}
    return await call.app.db.write(svc.update, call.actor, p.id, changes)
