"""queue.*: departments, their hours, members, auto-assignment and service-level targets."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from zingd.errors import Conflict, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById, changes
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
    sla_first_response_s: float | None = None  # null: no target
    sla_resolution_s: float | None = None
    sla_clock: str = "business"


class QueueUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str | UnsetType = UNSET
    color: str | UnsetType = UNSET
    greeting: str | UnsetType = UNSET
    out_of_hours_message: str | UnsetType = UNSET
    business_hours: dict[str, Any] | UnsetType = UNSET
    assign_mode: str | UnsetType = UNSET
    auto_close_hours: float | None | UnsetType = UNSET  # null: never auto-close
    auto_close_message: str | UnsetType = UNSET
    sla_first_response_s: float | None | UnsetType = UNSET  # null: no target
    sla_resolution_s: float | None | UnsetType = UNSET
    sla_clock: str | UnsetType = UNSET


class QueueSetMembers(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    user_ids: list[int]


@REGISTRY.method("queue.list", result=list[R.QueueSummary])
async def list_(call: Call, p) -> list:
    """The tenant's queues with members, pending counts and whether they are open now."""
    return await svc.list_queues(call.app.db, call.app.clock, call.actor)


@REGISTRY.method("queue.create", QueueCreate, result=R.Queue, errors=(Conflict, Invalid, Unavailable))
async def create(call: Call, p: QueueCreate) -> dict:
    """Add a queue; business_hours as {timezone, days: {mon: [[HH:MM, HH:MM]]}, holidays}; service-level
    targets in seconds (sla_first_response_s, sla_resolution_s), counted in business hours or calendar
    time (sla_clock) from the customer's first message, for tickets entering the queue."""
    return await call.app.db.write(svc.create, call.actor, msgspec.structs.asdict(p))


@REGISTRY.method("queue.update", QueueUpdate, result=R.Queue, errors=(NotFound, Invalid, Unavailable))
async def update(call: Call, p: QueueUpdate) -> dict:
    """Change a queue's settings (auto_close_hours null: never auto-close; an sla_*_s null: no target).
    New targets apply to tickets entering the queue from now on; due times already set stay."""
    return await call.app.db.write(svc.update, call.actor, p.id, changes(p))


@REGISTRY.method("queue.delete", ById, result=R.Queue, errors=(NotFound, Conflict, Unavailable))
async def delete(call: Call, p: ById) -> dict:
    """Remove a queue with no active tickets (its members' sessions follow the committed queue.deleted)."""
    return await call.app.db.write(svc.delete, call.actor, p.id)


@REGISTRY.method("queue.set_members", QueueSetMembers, result=R.Queue, errors=(NotFound, Unavailable))
async def set_members(call: Call, p: QueueSetMembers) -> dict:
    """Set who works a queue (replaces the list; sessions follow the committed queue.updated)."""
    return await call.app.db.write(svc.set_members, call.actor, p.id, p.user_ids)
