"""schedule.*: a message to a contact (or inside a ticket) at a time, once or on a cron rule."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from zingd.errors import Conflict, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById, changes
from zingd.rpc.server import Call
from zingd.services import schedules as svc


class ScheduleCreate(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    contact_id: int | None = None
    ticket_id: int | None = None
    connection_id: int | None = None
    run_at: float | str | None = None
    cron: str | None = None


class ScheduleUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    body: str | UnsetType = UNSET
    run_at: float | str | UnsetType = UNSET
    cron: str | None | UnsetType = UNSET  # null: stop repeating (a one-off at run_at)


class ScheduleList(msgspec.Struct, forbid_unknown_fields=True):
    status: str | None = None
    contact_id: int | None = None
    limit: int = 500


@REGISTRY.method("schedule.create", ScheduleCreate, result=R.Schedule, errors=(NotFound, Invalid, Unavailable))
async def create(call: Call, p: ScheduleCreate) -> dict:
    """Schedule a message to a contact or inside a ticket, at run_at (tenant time zone) and/or on a cron rule."""
    row = await call.app.db.write(svc.create, call.actor, p.contact_id, p.ticket_id, p.connection_id, p.body,
                                  p.run_at, p.cron)
    call.app.dispatcher.arm_soon()
    return row


@REGISTRY.method("schedule.list", ScheduleList, result=list[R.ScheduleListed])
async def list_(call: Call, p: ScheduleList) -> list:
    """Scheduled messages, soonest first (an agent's: their own)."""
    return await svc.list_schedules(call.app.db, call.actor, p.status, p.contact_id, p.limit)


@REGISTRY.method("schedule.update", ScheduleUpdate, result=R.Schedule,
                 errors=(NotFound, Conflict, Invalid, Unavailable))
async def update(call: Call, p: ScheduleUpdate) -> dict:
    """Change a pending schedule's text, time or cron rule (cron null: run once, at run_at)."""
    row = await call.app.db.write(svc.update, call.actor, p.id, changes(p))
    call.app.dispatcher.arm_soon()
    return row


@REGISTRY.method("schedule.cancel", ById, result=R.Schedule, errors=(NotFound, Conflict, Unavailable))
async def cancel(call: Call, p: ById) -> dict:
    """Cancel a pending schedule."""
    row = await call.app.db.write(svc.cancel, call.actor, p.id)
    call.app.dispatcher.arm_soon()
    return row
