"""ticket.*: the queue, its transitions, tags and timeline."""

from __future__ import annotations

from typing import Literal

import msgspec

from zingd.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import tags
from zingd.services import tickets as svc


class TicketList(msgspec.Struct, forbid_unknown_fields=True):
    status: str | None = None
    mine: bool = False
    queue_id: int | None = None
    user_id: int | None = None
    connection_id: int | None = None
    contact_id: int | None = None
    before: tuple[float, int] | None = None
    limit: int = 50
    counts: bool = False
    tag: str | None = None


class TicketTransfer(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    user_id: int | None = None
    queue_id: int | None = None
    message: str | None = None


class TicketClose(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    farewell: bool = True
    message: str | None = None


class TicketSetTags(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    tags: list[str]
    mode: Literal["replace", "add", "remove"] = "replace"


@REGISTRY.method("ticket.list", TicketList, result=R.TicketPage, errors=(Invalid,))
async def list_(call: Call, p: TicketList) -> dict:
    """Tickets the caller may see, newest activity first; page with ``before``."""
    rows, more = await svc.list_tickets(call.app.db, call.actor, p.status, p.mine, p.queue_id, p.user_id,
                                        p.connection_id, p.contact_id, p.before, p.limit, p.tag)
    out: dict = {"tickets": rows}
    if more:
        out["next"] = [rows[-1]["last_message_at"], rows[-1]["id"]]
    if p.counts:
        out["counts"] = await svc.counts(call.app.db, call.actor)
    return out


@REGISTRY.method("ticket.get", ById, result=R.Ticket, errors=(NotFound,))
async def get(call: Call, p: ById) -> dict:
    """One ticket with its contact, queue and agent names."""
    return await svc.get_ticket(call.app.db, call.actor, p.id)


@REGISTRY.method("ticket.accept", ById, result=R.Ticket, errors=(NotFound, Conflict, Unavailable))
async def accept(call: Call, p: ById) -> dict:
    """Take a pending ticket; one taken a moment ago is a conflict saying by whom (to an agent: not_found)."""
    return await call.app.db.write(svc.accept, call.actor, p.id)


@REGISTRY.method("ticket.transfer", TicketTransfer, result=R.Ticket,
                 errors=(NotFound, Forbidden, Conflict, Invalid, Unavailable))
async def transfer(call: Call, p: TicketTransfer) -> dict:
    """Hand a ticket to another agent and/or queue, optionally telling the customer."""
    return await call.app.db.write(svc.transfer, call.actor, p.id, p.user_id, p.queue_id, p.message)


@REGISTRY.method("ticket.close", TicketClose, result=R.Ticket, errors=(NotFound, Forbidden, Conflict, Unavailable))
async def close(call: Call, p: TicketClose) -> dict:
    """Close a ticket; with farewell, the number's farewell and the rating survey (if on) are sent."""
    return await call.app.db.write(svc.close, call.actor, p.id, p.farewell, p.message)


@REGISTRY.method("ticket.reopen", ById, result=R.Ticket, errors=(NotFound, Conflict, Unavailable))
async def reopen(call: Call, p: ById) -> dict:
    """Reopen a closed ticket (unless the contact already has an active one)."""
    return await call.app.db.write(svc.reopen, call.actor, p.id)


@REGISTRY.method("ticket.set_tags", TicketSetTags, result=R.Ticket, errors=(NotFound, Invalid, Unavailable))
async def set_tags(call: Call, p: TicketSetTags) -> dict:
    """Set a ticket's tags by name: replace them (mode add / remove: only those); each must exist (tag.create)."""
    return await call.app.db.write(tags.set_ticket_tags, call.actor, p.id, p.tags, p.mode)


@REGISTRY.method("ticket.history", ById, result=list[R.TicketEvent], errors=(NotFound,))
async def history(call: Call, p: ById) -> list:
    """The ticket's timeline: status changes, assignments, transfers, notes."""
    return await svc.history(call.app.db, call.actor, p.id)
