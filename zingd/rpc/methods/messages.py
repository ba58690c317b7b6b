"""message.*: history, sending, retrying, searching."""

from __future__ import annotations

import msgspec

from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import messages as svc


class MessageList(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    before_id: int | None = None
    limit: int = 50


class Send(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    body: str = ""
    quoted_id: int | None = None
    media_path: str | None = None
    signature: bool | None = None


class Retry(msgspec.Struct, forbid_unknown_fields=True):
    id: int


class Search(msgspec.Struct, forbid_unknown_fields=True):
    query: str
    status: str | None = None
    ticket_id: int | None = None
    queue_id: int | None = None
    user_id: int | None = None
    connection_id: int | None = None
    tag: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 50


@REGISTRY.method("message.list", MessageList)
async def list_(call: Call, p: MessageList) -> dict:
    """A page of a ticket's conversation, oldest first; page back with before_id."""
    return await svc.list_messages(call.app, call.actor, p.ticket_id, p.before_id, p.limit)


@REGISTRY.method("message.send", Send)
async def send(call: Call, p: Send) -> dict:
    """Queue a message (text, or a file by path); it is stored before anything is sent."""
    return await svc.send(call.app, call.actor, p.ticket_id, p.body, p.quoted_id, p.media_path, p.signature)


@REGISTRY.method("message.retry", Retry)
async def retry(call: Call, p: Retry) -> dict:
    """Send a failed message again, under the same WhatsApp id."""
    return await call.app.db.write(svc.retry_unit, call.actor, p.id)


@REGISTRY.method("message.search", Search)
async def search(call: Call, p: Search) -> list:
    """Full-text search over message bodies, newest first."""
    filters = msgspec.structs.asdict(p)
    del filters["query"], filters["limit"]
    return await svc.search(call.app, call.actor, p.query, p.limit, **filters)
