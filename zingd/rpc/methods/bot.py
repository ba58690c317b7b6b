"""bot.*: what the tenant's bot would do (a dry run), and where it is answering."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from zingd.assistant import bot as B
from zingd.errors import Invalid, NotFound, Unavailable
from zingd.rpc.registry import REGISTRY
from zingd.rpc.results import Struct, Time
from zingd.rpc.server import Call
from zingd.services import hours
from zingd.store.rows import loads

BotState = Literal["active", "stopped", "handed_over"]


class BotTestParams(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    instructions: str | None = None  # try other instructions than the tenant's (nothing is saved)


class BotListParams(msgspec.Struct, forbid_unknown_fields=True):
    state: BotState | None = None
    limit: int = 100


class BotSource(Struct):
    id: int
    title: str


class BotToolCall(Struct):
    tool: str
    arguments: Any
    method: str | None         # the RPC method the tool stands for
    result: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET  # what the model was told (none for handoff)


class BotHandoff(Struct):
    reason: str
    queue_id: int | None       # the queue the model asked for (the tenant's handoff queue otherwise)


class BotTest(Struct):
    ticket_id: int
    dry_run: bool               # always true: nothing was sent or changed
    would_answer: bool          # whether the bot answers this ticket now
    why: str                    # when it would not, why (a person acted, out of hours, not its queue...)
    text: str                   # what it would say ("" when it hands over)
    handoff: BotHandoff | None
    tools: list[BotToolCall]    # the tools it called; only reading ones ran
    sources: list[BotSource]    # the knowledge entries it was given


class BotTicket(Struct):
    ticket_id: int
    state: BotState
    reason: str
    turns: int
    last_answered_id: int | None
    updated_at: Time
    ticket_status: str
    queue_id: int | None
    queue_name: str | None
    contact_name: str


async def _why_not(call: Call, ticket: dict[str, Any], row: dict[str, Any] | None, unanswered: list,
                   since: float, scope: B.Scope | None, enabled: bool) -> str:
    """Why the bot would not answer this ticket now ("" if it would), read only."""
    if not enabled:
        return "the bot is off (zingctl assistant set --bot)"
    if scope is None:
        return "the assistant is not set up"
    if ticket["is_group"]:
        return "the bot never answers groups"
    if row is not None and row["state"] != "active":
        return f"the bot is {row['state'].replace('_', ' ')} in this ticket: {row['reason']}"
    if ticket["user_id"] is not None or await call.app.db.one(B.HUMAN_SQL, (ticket["id"], scope.bot_user_id, since)):
        return "a person is answering this ticket"
    if ticket["status"] != "pending":
        return f"the ticket is {ticket['status']}"
    if not scope.covers(ticket):
        return "the ticket is not in the bot's queues or numbers"
    if ticket["queue_id"] is not None:
        queue = await call.app.db.one("SELECT business_hours FROM queues WHERE id = ?", (ticket["queue_id"],))
        if queue is not None and not hours.is_open(loads(queue["business_hours"]), call.app.clock()):
            return "the queue is out of hours"
    if not unanswered:
        return "the customer has nothing unanswered"
    return ""


@REGISTRY.method("bot.test", BotTestParams, result=BotTest, errors=(NotFound, Invalid, Unavailable))
async def test(call: Call, p: BotTestParams) -> dict:
    """A dry run: what the bot would say in a ticket now and which tools it would call; nothing is sent or changed.

    The tools that only read (lookup_contact) run; the others say what they would have called. The model
    is asked for real (it counts as the tenant's "test" usage)."""
    if p.instructions is not None and len(p.instructions) > 20000:
        raise Invalid("instructions are at most 20,000 characters", field="instructions")
    tenant_id, app = call.actor.tenant_id, call.app
    if not await app.db.value("SELECT 1 FROM tickets WHERE id = ? AND tenant_id = ?", (p.ticket_id, tenant_id)):
        raise NotFound(f"no ticket {p.ticket_id}", id=p.ticket_id)
    actor = await app.assistant.bot_actor(tenant_id)
    if actor is None:
        raise Unavailable("the assistant is not set up: zingctl assistant set --base-url URL --chat-model M")
    config = await app.assistant.config(tenant_id)
    ticket, row, unanswered, history, since = await B.read_turn(app.db, p.ticket_id)
    why = await _why_not(call, ticket, row, unanswered, since, B.Scope.of(config, actor), config.bot.enabled)
    asked = unanswered or [m for m in history if m["direction"] == "in"][-1:]
    outcome = await B.think(app, actor, ticket, config, history, asked, instructions=p.instructions, dry=True,
                            feature="test")
    handoff = {"reason": outcome.handoff, "queue_id": outcome.queue_id} if outcome.handoff else None
    return {"ticket_id": p.ticket_id, "dry_run": True, "would_answer": not why, "why": why,
            "text": "" if handoff else outcome.text, "handoff": handoff, "tools": outcome.calls,
            "sources": outcome.sources}


@REGISTRY.method("bot.list", BotListParams, result=list[BotTicket])
async def list_(call: Call, p: BotListParams) -> list:
    """Tickets the bot took part in, latest change first: answering, stopped or handed over, and why."""
    where, args = ["b.tenant_id = ?"], [call.actor.tenant_id]
    if p.state is not None:
        where.append("b.state = ?")
        args.append(p.state)
    return await call.app.db.all(
        "SELECT b.ticket_id, b.state, b.reason, b.turns, b.last_answered_id, b.updated_at, t.status AS ticket_status, "
        "t.queue_id, q.name AS queue_name, coalesce(nullif(c.name, ''), nullif(c.push_name, ''), c.number) "
        "AS contact_name FROM bot_tickets b JOIN tickets t ON t.id = b.ticket_id "
        "JOIN contacts c ON c.id = t.contact_id "
        f"LEFT JOIN queues q ON q.id = t.queue_id WHERE {' AND '.join(where)} ORDER BY b.updated_at DESC, "
        "b.ticket_id DESC LIMIT ?", (*args, max(1, min(p.limit, 1000))))
