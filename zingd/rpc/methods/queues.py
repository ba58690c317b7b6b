"""queue.*: departments, their hours, members and auto-assignment."""

from __future__ import annotations

from typing import Any

import msgspec

from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import queues as svc


class QueueCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    color: str = "#5c7cfa"
    greeting: str = ""
    out_of_hours_message: str = ""
    business_hours: dict[str, Any] = {}
    assign_mode: str = "off"
    auto_close_hours: float | None = None
    auto_close_message: str = ""


class QueueUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str | None = None
    color: str | None = None
    greeting: str | None = None
    out_of_hours_message: str | None = None
    business_hours: dict[str, Any] | None = None
    assign_mode: str | None = None
    auto_close_hours: float | None = None
    auto_close_message: str | None = None


class Members(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    user_ids: list[int]


class ConnectionQueues(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    queue_ids: list[int]


@REGISTRY.method("queue.list")
async def list_(call: Call, p) -> list:
    """The tenant's queues with members, pending counts and whether they are open now."""
    return await svc.list_queues(call.app, call.actor)


@REGISTRY.method("queue.create", QueueCreate)
async def create(call: Call, p: QueueCreate) -> dict:
    """Add a queue; business_hours as {timezone, days: {mon: [[HH:MM, HH:MM]]}, holidays}."""
    return await call.app.db.write(svc.create, call.actor, msgspec.structs.asdict(p))


@REGISTRY.method("queue.update", QueueUpdate)
async def update(call: Call, p: QueueUpdate) -> dict:
    """Change a queue's settings."""
    changes = {k: v for k, v in msgspec.structs.asdict(p).items() if k != "id" and v is not None}
    return await call.app.db.write(svc.update, call.actor, p.id, changes)


@REGISTRY.method("queue.delete", ById)
async def delete(call: Call, p: ById) -> dict:
    """Remove a queue with no active tickets."""
    row = await call.app.db.write(svc.delete, call.actor, p.id)
    await call.app.rpc.refresh_actors(call.actor.tenant_id)
    return row


@REGISTRY.method("queue.set_members", Members)
async def set_members(call: Call, p: Members) -> dict:
    """Set who works a queue (replaces the list)."""
    row = await call.app.db.write(svc.set_members, call.actor, p.id, p.user_ids)
    await call.app.rpc.refresh_actors(call.actor.tenant_id)
    return row


@REGISTRY.method("connection.set_queues", ConnectionQueues)
async def set_queues(call: Call, p: ConnectionQueues) -> dict:
    """Set which queues a number's chatbot menu offers (empty: all of the tenant's)."""
    return {"id": p.id, "queue_ids": await call.app.db.write(svc.link_connection, call.actor, p.id, p.queue_ids)}
