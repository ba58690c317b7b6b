"""The bot: answers customers with the tenant's instructions and knowledge, and hands over.

Where it answers: pending tickets nobody holds, of the queues in ``bot.queues`` (the bot user is a
member of those) or, with no queue, of the numbers in ``bot.connections`` (there it is the front door:
``routing.route`` skips the menu and the bot's handoff picks the queue). Never a group, never its own
messages or another outbound one.

How: the worker taps the bus. A customer's message (re)starts the ticket's debounce, so a burst is
one turn; a turn reads the ticket, asks the model (through the hub, feature "bot") with the
tenant's tools, runs the tools it calls as the bot user (``tools.py``), and queues the answer in one
unit of work that first checks, inside the unit, that the bot may still speak: a person who accepted
the ticket, or answered from the console or the phone while the model was thinking, wins.

Its state is per ticket (``bot_tickets``) and kept: ``active`` while it answers, ``stopped`` once a
person acted, ``handed_over`` after its handoff; neither comes back to ``active`` by itself, so a
resolved chat that reopens never loops back into the bot. "A person acted" is: the ticket has a
user, or an outbound message not the bot's, written by a user or on the phone, since the ticket
came into the bot's hands (entered its queue, was transferred or reopened; else since it opened).

Handover is the ``handoff`` tool call (never a phrase in the text), and also what every failure
becomes: the model failing, timing out or answering nothing usable, the tenant's usage limit, the
turn cap (``max_turns``), the rate limit per chat (``max_replies_per_minute``) and repetition (the
customer sending the bot's own words back, or the model repeating itself): a peer bot or a loop
ends with a person. The customer is told (``handoff_message``; the queue's out-of-hours message
when the queue is closed) and the ticket moves to ``handoff_queue_id`` (or the queue the model
asked for), auto-assigned as the queue says.

A queue out of its business hours gets nothing from the bot (the out-of-hours reply wins). After a
restart, tickets with customer messages younger than ``[tickets] backlog_age_s`` that the bot has
not answered are picked up again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zingd.actor import Actor
from zingd.assistant import knowledge, prompts, tools
from zingd.assistant.config import Config
from zingd.bus import Event
from zingd.errors import Unavailable, ZingError
from zingd.services import hours, routing
from zingd.services import tickets as ticket_rules
from zingd.services.outbound import queue_outbound
from zingd.store import messages as M
from zingd.store import tickets as T
from zingd.store.db import Tx
from zingd.store.rows import dumps, loads

if TYPE_CHECKING:
    from zingd.rpc.parts import Parts

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 3      # model calls of one turn that may call tools; then it must answer
KEEP_REPLIES = 5         # the bot's last replies kept per ticket, for the repetition check
RATE_WINDOW_S = 60.0
TRANSCRIPT_WAIT_S = 20.0  # a voice note waits this long for its transcript before the bot answers
MAX_REPLY = 4096
MAX_TOKENS = 600
ENTERED = ("queue", "transfer", "reopen")  # the ticket_log actions that put a ticket in new hands

HUMAN_SQL = ("SELECT id FROM messages WHERE ticket_id = ? AND direction = 'out' AND bot = 0 "
             "AND (user_id IS NOT NULL OR from_device = 1) AND ifnull(user_id, -1) != ? AND created_at > ? "
             "ORDER BY id DESC LIMIT 1")
ENTERED_SQL = (f"SELECT max(created_at) AS at FROM ticket_log WHERE ticket_id = ? AND action IN "
               f"({', '.join(repr(a) for a in ENTERED)})")
UNANSWERED_SQL = (f"SELECT {M.COLUMNS} FROM messages WHERE ticket_id = ? AND direction = 'in' AND id > ? "
                  "AND created_at >= ? AND deleted = 0 ORDER BY id")
HISTORY_SQL = f"SELECT {M.COLUMNS} FROM messages WHERE ticket_id = ? ORDER BY id DESC LIMIT ?"


# -- who may speak: the checks each unit repeats ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scope:
    """Where the tenant's bot answers, and as whom."""

    bot_user_id: int
    queues: frozenset[int]
    connections: frozenset[int]

    @classmethod
    def of(cls, config: Config, actor: Actor) -> Scope:
        return cls(actor.user_id, frozenset(config.bot.queues), frozenset(config.bot.connections))

    def covers(self, ticket: dict[str, Any]) -> bool:
        if ticket["queue_id"] is not None:
            return ticket["queue_id"] in self.queues
        return ticket["connection_id"] in self.connections


def normalize(text: str) -> str:
    """Text compared for repetition: case, accents, spacing and punctuation aside."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in folded if ch.isalnum() or ch.isspace()).split())


def entered_at(tx: Tx, ticket: dict[str, Any]) -> float:
    """When the ticket came into its current hands: its latest queue, transfer or reopen, else its start."""
    at = tx.value(ENTERED_SQL, (ticket["id"],))
    return ticket["created_at"] if at is None else at


def human_acted(tx: Tx, ticket: dict[str, Any], scope: Scope) -> str:
    """Why a person is in this conversation now ("" if none is): they hold it, or wrote to the customer."""
    if ticket["user_id"] is not None and ticket["user_id"] != scope.bot_user_id:
        return "a person took the ticket"
    row = tx.one(HUMAN_SQL, (ticket["id"], scope.bot_user_id, entered_at(tx, ticket)))
    if row is not None:
        return "a person answered"
    return ""


def _state_row(tx: Tx, ticket_id: int) -> dict[str, Any] | None:
    return tx.one("SELECT * FROM bot_tickets WHERE ticket_id = ?", (ticket_id,))


def _set_state(tx: Tx, ticket: dict[str, Any], actor: Actor | None, state: str, reason: str) -> None:
    """Record the bot's state in the ticket (insert or change), emit ``bot.updated``, log it."""
    tx.execute(
        "INSERT INTO bot_tickets (ticket_id, tenant_id, state, reason, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (ticket_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, "
        "updated_at = excluded.updated_at", (ticket["id"], ticket["tenant_id"], state, reason, tx.now))
    emit_state(tx, ticket, state, reason)
    if state != "active":
        T.log(tx, ticket, actor, f"bot.{'stopped' if state == 'stopped' else 'handoff'}", reason=reason)


def emit_state(tx: Tx, ticket: dict[str, Any], state: str, reason: str) -> None:
    tx.emit(ticket["tenant_id"], "bot.updated",
            {"ticket_id": ticket["id"], "state": state, "reason": reason, "owner": M.owner(tx, ticket["id"])},
            ticket_id=ticket["id"])


def may_speak(tx: Tx, ticket_id: int, scope: Scope) -> dict[str, Any] | None:
    """The ticket, if the bot may still write in it now; else None, having recorded (``stopped``)
    a person who acted meanwhile. Run first in every unit that writes for the bot."""
    ticket = tx.one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    if ticket is None or ticket["is_group"]:
        return None
    row = _state_row(tx, ticket_id)
    if row is not None and row["state"] != "active":
        return None
    why = human_acted(tx, ticket, scope)
    if why:
        _set_state(tx, ticket, None, "stopped", why)
        return None
    if ticket["status"] != "pending" or not scope.covers(ticket):
        return None
    return ticket


def stop_unit(tx: Tx, ticket_id: int, reason: str) -> bool:
    """A person acted in a ticket the bot was answering: it stops there, for good."""
    row = _state_row(tx, ticket_id)
    if row is None or row["state"] != "active":
        return False
    ticket = tx.one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    _set_state(tx, ticket, None, "stopped", reason)
    return True


@dataclass(slots=True)
class Answer:
    """What the bot is about to say in a turn (``reply_unit`` writes it)."""

    text: str
    answered_id: int                     # the newest customer message it answers
    sources: list[dict[str, Any]] = field(default_factory=list)


def reply_unit(tx: Tx, actor: Actor, scope: Scope, ticket_id: int, answer: Answer) -> dict[str, Any] | None:
    """Queue the bot's answer, marked as the bot's, unless a person acted meanwhile (None then)."""
    ticket = may_speak(tx, ticket_id, scope)
    if ticket is None:
        return None
    row = _state_row(tx, ticket_id)
    replies = (loads(row["replies"]) if row else [])[-(KEEP_REPLIES - 1):] + [answer.text]
    msg = queue_outbound(tx, ticket, actor, answer.text, bot=True)
    tx.execute(
        "INSERT INTO bot_tickets (ticket_id, tenant_id, state, turns, last_answered_id, replies, updated_at) "
        "VALUES (?, ?, 'active', 1, ?, ?, ?) ON CONFLICT (ticket_id) DO UPDATE SET turns = turns + 1, "
        "last_answered_id = excluded.last_answered_id, replies = excluded.replies, updated_at = excluded.updated_at",
        (ticket_id, ticket["tenant_id"], answer.answered_id, dumps(replies), tx.now))
    if row is None:
        emit_state(tx, ticket, "active", "answering")
    T.log(tx, ticket, actor, "bot.reply", message_id=msg["id"], sources=answer.sources)
    tx.audit(actor, "bot.reply", "message", msg["id"], ticket_id=ticket_id, sources=[s["id"] for s in answer.sources])
    return msg


def handoff_unit(tx: Tx, actor: Actor, scope: Scope, ticket_id: int, reason: str, queue_id: int | None,
                 default_queue_id: int | None, message: str) -> dict[str, Any] | None:
    """Hand the ticket to people: into the queue asked (one of the tenant's), else the tenant's
    handoff queue, else where it is; the customer told; the bot done with it. None when a person
    acted meanwhile (then there is nothing to hand over)."""
    ticket = may_speak(tx, ticket_id, scope)
    if ticket is None:
        return None
    target = next((q for q in (queue_id, default_queue_id) if q is not None and tx.value(
        "SELECT 1 FROM queues WHERE id = ? AND tenant_id = ?", (q, ticket["tenant_id"]))), None)
    if target is not None and target != ticket["queue_id"] and tools.allowed(actor, "ticket.transfer"):
        ticket_rules.transfer(tx, actor, ticket_id, None, target)
    queue = tx.one("SELECT * FROM queues WHERE id = ?", (target if target is not None else ticket["queue_id"],))
    closed = queue is not None and not hours.is_open(loads(queue["business_hours"]), tx.now)
    if closed and queue["out_of_hours_message"].strip():
        routing.send_bot(tx, ticket, queue["out_of_hours_message"])  # the out-of-hours reply wins
    elif message.strip():
        queue_outbound(tx, ticket, actor, message.strip(), bot=True)
    _set_state(tx, ticket, actor, "handed_over", reason)
    tx.audit(actor, "bot.handoff", "ticket", ticket_id, reason=reason, queue_id=target)
    if queue is not None and not closed:
        fresh = tx.one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        if routing.auto_assign(tx, fresh, queue) is not None:
            T.emit_updated(tx, ticket_id, ticket["tenant_id"])
    return {"ticket_id": ticket_id, "queue_id": target, "reason": reason}


# -- thinking: one model conversation, shared with the dry run -------------------------------------
@dataclass(slots=True)
class Outcome:
    """What the model made of a turn: a text to say, or a handoff (with why), and what it did."""

    text: str = ""
    handoff: str = ""                    # the reason, when it hands over
    queue_id: int | None = None          # the queue its handoff asked for
    calls: list[dict[str, Any]] = field(default_factory=list)   # the tools it called, with their answers
    sources: list[dict[str, Any]] = field(default_factory=list)
    model_s: float = 0.0                 # time spent waiting for the model server (chat, embeddings)


async def think(parts: Parts, actor: Actor, ticket: dict[str, Any], config: Config, history: list[dict[str, Any]],
                unanswered: list[dict[str, Any]], *, instructions: str | None = None, dry: bool = False,
                feature: str = "bot") -> Outcome:
    """Ask the model about a ticket, run the tools it calls (``dry``: only those that read), and say
    what it would answer. A model failure is a handoff (``dry``: raised, for the person testing)."""
    out = Outcome()
    db, assistant = parts.db, parts.assistant
    started = time.perf_counter()
    try:
        hits = await knowledge.search(db, assistant, ticket["tenant_id"], prompts.search_query(unanswered))
    except Exception:  # the bot answers without knowledge rather than not at all
        log.exception("bot: the knowledge search for ticket %s failed", ticket["id"])
        hits = []
    if config.embeddings.model:  # it asked the embeddings model; by words (FTS5) it is zing's own work
        out.model_s += time.perf_counter() - started
    out.sources = [{"id": h["id"], "title": h["title"]} for h in hits]
    company = (await _one(db, "SELECT name FROM tenants WHERE id = ?", (ticket["tenant_id"],)))["name"]
    bot = config.bot
    messages = prompts.bot_messages(company, bot.instructions if instructions is None else instructions,
                                    bot.fallback_message, knowledge.grounding(hits), history)
    ctx = await _context(parts, ticket)
    offered = tools.specs(bot.tools, ctx)
    for _ in range(MAX_TOOL_ROUNDS):
        started = time.perf_counter()
        try:
            reply = await assistant.chat(ticket["tenant_id"], feature, messages, tools=offered,
                                         max_tokens=MAX_TOKENS)
        except Exception as e:  # the server failing or slow, the limit reached, the assistant off
            if dry:
                raise
            if not isinstance(e, Unavailable):
                log.exception("bot: the model request for ticket %s failed", ticket["id"])
            out.handoff = f"the model failed: {e.message if isinstance(e, ZingError) else type(e).__name__}"
            return out
        finally:
            out.model_s += time.perf_counter() - started
        if not reply.tool_calls:
            out.text = reply.text.strip()[:MAX_REPLY]
            if not out.text:
                out.handoff = "the model gave no answer"
            return out
        handoff = next((c for c in reply.tool_calls if c.name == tools.HANDOFF), None)
        if handoff is not None:
            spec = next(s for s in offered if s["function"]["name"] == tools.HANDOFF)
            args = handoff.arguments if isinstance(handoff.arguments, dict) else {}
            try:
                tools.check(spec, args)
            except tools.ToolRefused:  # a queue that isn't one of the tenant's: the tenant's handoff queue
                args = {"reason": args["reason"]} if isinstance(args.get("reason"), str) else {}
            out.calls.append({"tool": tools.HANDOFF, "arguments": handoff.arguments, "method": "ticket.transfer"})
            out.handoff = f"the model handed over: {str(args.get('reason') or 'no reason given')[:200]}"
            out.queue_id = args.get("queue_id")
            return out
        records = [await tools.run(parts, actor, c.name, c.arguments, offered, ctx, dry=dry) for c in reply.tool_calls]
        out.calls.extend(records)
        messages.extend(tools.as_messages(reply.text, reply.tool_calls, records))
    out.handoff = "the model kept calling tools without answering"
    return out


async def _context(parts: Parts, ticket: dict[str, Any]) -> tools.Context:
    tenant_id = ticket["tenant_id"]
    tags = await parts.db.page("SELECT name FROM tags WHERE tenant_id = ? ORDER BY name", (tenant_id,))
    queues = await parts.db.page("SELECT id, name FROM queues WHERE tenant_id = ? ORDER BY id", (tenant_id,))
    return tools.Context(ticket["id"], ticket["contact_id"], [t["name"] for t in tags], queues)


async def _one(db, sql: str, params: tuple) -> dict[str, Any] | None:
    """One row of a bounded, index-driven read, run on the loop (``Database.page``): a turn makes a
    dozen of them, and a hop to the reader thread and back costs more than each query."""
    rows = await db.page(sql, params)
    return rows[0] if rows else None


async def read_turn(db, ticket_id: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None,
                                                 list[dict[str, Any]], list[dict[str, Any]], float]:
    """The ticket, its bot state, the customer messages the bot has not answered, the recent history
    (oldest first), and when the ticket came into its current hands."""
    ticket = await _one(db, "SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    if ticket is None:
        return None, None, [], [], 0.0
    row = await _one(db, "SELECT * FROM bot_tickets WHERE ticket_id = ?", (ticket_id,))
    at = (await _one(db, ENTERED_SQL, (ticket_id,)))["at"]
    since = ticket["created_at"] if at is None else at
    unanswered = await db.page(UNANSWERED_SQL, (ticket_id, (row or {}).get("last_answered_id") or 0, since))
    history = (await db.page(HISTORY_SQL, (ticket_id, prompts.HISTORY)))[::-1]
    return ticket, row, unanswered, history, since


# -- the worker --------------------------------------------------------------------------------------
class Bot:
    """One task per ticket with something to answer; none for the others."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.db, self.bus, self.clock, self.assistant = parts.db, parts.bus, parts.clock, parts.assistant
        self._last: dict[int, float] = {}       # ticket -> (monotonic) time of its latest customer message
        self._tenant: dict[int, int] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._active: set[int] = set()          # tickets the bot is answering (state active)
        self._enabled: dict[int, bool] = {}     # tenant -> bot on (dropped on assistant.updated)
        self._queues: dict[int, frozenset[int]] = {}  # tenant -> the bot's queues (dropped likewise)
        self._actors: dict[int, Actor | None] = {}  # tenant -> its bot user (dropped likewise, and on user.updated)
        self._chores: set[asyncio.Task] = set()  # stops being recorded
        self._running = False
        self.turns = self.replies = self.handoffs = 0
        self.overhead: deque[float] = deque(maxlen=100_000)  # seconds of each answered turn not spent on the model

    async def start(self) -> None:
        self._running = True
        self.bus.tap(self._on_event)
        self._active = {r["ticket_id"] for r in await self.db.all(
            "SELECT ticket_id FROM bot_tickets WHERE state = 'active'")}
        await self._pick_up()

    async def stop(self) -> None:
        self._running = False
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._chores, return_exceptions=True)
        self._tasks.clear()

    async def _pick_up(self) -> None:
        """After a restart: every recent ticket of a tenant whose bot is on gets a turn (which finds
        out whether anything is left to answer)."""
        since = self.clock() - self.parts.settings.tickets.backlog_age_s
        for row in await self.db.all("SELECT tenant_id FROM assistant_settings"):
            tenant_id = row["tenant_id"]
            if not (await self.assistant.config(tenant_id)).bot.enabled:
                continue
            for t in await self.db.all(
                    "SELECT t.id FROM tickets t LEFT JOIN bot_tickets b ON b.ticket_id = t.id WHERE t.tenant_id = ? "
                    "AND t.status = 'pending' AND t.user_id IS NULL AND t.is_group = 0 AND t.last_inbound_at >= ? "
                    "AND ifnull(b.state, 'active') = 'active'", (tenant_id, since)):
                self.wake(tenant_id, t["id"])

    # -- hearing the bus -----------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if not self._running:
            return
        kind, data = event.type, event.data
        if kind == "message.created":
            msg, ticket = data["message"], data.get("ticket") or {}
            if msg["direction"] == "in":
                if self._may_answer(event.tenant_id, ticket):
                    self.wake(event.tenant_id, msg["ticket_id"])
            elif msg["ticket_id"] in self._active and not msg.get("bot") and (
                    msg["user_id"] is not None or msg["from_device"]):
                self._spawn_stop(msg["ticket_id"], "a person answered")
        elif kind == "message.updated":
            msg, ticket = data["message"], data.get("ticket") or {}
            if msg["direction"] == "in" and msg.get("transcript") and _waiting(ticket):
                self.wake(event.tenant_id, msg["ticket_id"])
        elif kind == "ticket.updated":
            ticket = data["ticket"]
            if ticket["id"] in self._active and ticket["user_id"] is not None and ticket["status"] != "closed":
                self._spawn_stop(ticket["id"], "a person took the ticket")
        elif kind == "assistant.updated":
            self._enabled.pop(event.tenant_id, None)
            self._queues.pop(event.tenant_id, None)
            self._actors.pop(event.tenant_id, None)
        elif kind == "user.updated":
            self._actors.pop(event.tenant_id, None)

    def _may_answer(self, tenant_id: int, ticket: dict[str, Any]) -> bool:
        """Whether a customer's message in ``ticket`` (as its event shows it) may be the bot's to
        answer: what is known without a read. A ticket in no queue yet may be routed into one of the
        bot's by the very unit that stored the message, so only a queue that is not the bot's says no."""
        if self._enabled.get(tenant_id) is False or not _waiting(ticket):
            return False
        queues = self._queues.get(tenant_id)
        return queues is None or ticket.get("queue_id") is None or ticket["queue_id"] in queues

    def _spawn_stop(self, ticket_id: int, reason: str) -> None:
        self._active.discard(ticket_id)

        async def stop() -> None:
            try:
                if await self.db.write(stop_unit, ticket_id, reason):
                    log.info("bot: stopped in ticket %s: %s", ticket_id, reason)
            except Exception:
                log.exception("bot: could not record the stop in ticket %s", ticket_id)
        task = asyncio.ensure_future(stop())
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def wake(self, tenant_id: int, ticket_id: int) -> None:
        """A customer wrote: the ticket's turn comes once they pause for ``debounce_s``."""
        self._last[ticket_id] = time.monotonic()
        self._tenant[ticket_id] = tenant_id
        if ticket_id not in self._tasks:
            self._tasks[ticket_id] = asyncio.create_task(self._run(ticket_id))

    async def _run(self, ticket_id: int) -> None:
        try:
            while self._running:
                tenant_id, seen = self._tenant[ticket_id], self._last[ticket_id]
                config = await self.assistant.config(tenant_id)
                self._enabled[tenant_id] = config.bot.enabled
                self._queues[tenant_id] = frozenset(config.bot.queues)
                if not config.bot.enabled:
                    return
                await asyncio.sleep(max(0.0, seen + self.clock.real_delay(config.bot.debounce_s) - time.monotonic()))
                if self._last[ticket_id] != seen:
                    continue  # they wrote again: wait for the pause after that
                retry = await self._turn(tenant_id, ticket_id, config)
                if retry:
                    self._last[ticket_id] = max(self._last[ticket_id], time.monotonic() + retry)
                    continue
                if self._last[ticket_id] == seen:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("bot: the turn in ticket %s failed", ticket_id)
        finally:
            self._tasks.pop(ticket_id, None)
            self._last.pop(ticket_id, None)
            self._tenant.pop(ticket_id, None)

    # -- one turn --------------------------------------------------------------
    async def _turn(self, tenant_id: int, ticket_id: int, config: Config) -> float:
        """Answer what the customer wrote, or hand over; seconds to wait and try again (a voice note
        whose transcript is on its way), else 0."""
        started = time.perf_counter()
        if tenant_id not in self._actors:
            self._actors[tenant_id] = await self.assistant.bot_actor(tenant_id)
        actor = self._actors[tenant_id]
        if actor is None:
            return 0.0
        scope = Scope.of(config, actor)
        ticket, row, unanswered, history, since = await read_turn(self.db, ticket_id)
        if ticket is None or ticket["is_group"] or (row is not None and row["state"] != "active"):
            return 0.0
        held = ticket["user_id"] is not None
        if held or await _one(self.db, HUMAN_SQL, (ticket_id, actor.user_id, since)):
            if row is not None or not held:
                await self.db.write(may_speak, ticket_id, scope)  # records the stop
            self._active.discard(ticket_id)
            return 0.0
        if not unanswered or ticket["status"] != "pending" or not scope.covers(ticket):
            return 0.0
        if ticket["queue_id"] is not None:
            queue = await _one(self.db, "SELECT business_hours FROM queues WHERE id = ?", (ticket["queue_id"],))
            if queue is not None and not hours.is_open(loads(queue["business_hours"]), self.clock()):
                return 0.0  # out of hours: the queue's out-of-hours reply speaks, the bot doesn't
        wait = await self._transcript_wait(tenant_id, unanswered)
        if wait:
            return wait
        self.turns += 1
        bot = config.bot
        replies = [normalize(r) for r in loads(row["replies"])] if row else []
        if row is not None and row["turns"] >= bot.max_turns:
            return await self._handoff(actor, scope, ticket_id, config, f"the turn cap ({bot.max_turns}) was reached")
        recent = (await _one(self.db, "SELECT count(*) AS n FROM messages WHERE ticket_id = ? AND bot = 1 "
                                      "AND created_at > ?", (ticket_id, self.clock() - RATE_WINDOW_S)))["n"]
        if recent >= bot.max_replies_per_minute:
            return await self._handoff(actor, scope, ticket_id, config,
                                       f"more than {bot.max_replies_per_minute} replies a minute")
        if any(normalize(prompts.message_text(m)) in replies for m in unanswered):
            return await self._handoff(actor, scope, ticket_id, config, "the customer repeated the bot's words")
        outcome = await think(self.parts, actor, ticket, config, history, unanswered)
        if not outcome.handoff and normalize(outcome.text) in replies:
            outcome.handoff = "the model repeated itself"
        if outcome.handoff:
            return await self._handoff(actor, scope, ticket_id, config, outcome.handoff, outcome.queue_id)
        answer = Answer(outcome.text, unanswered[-1]["id"], outcome.sources)
        msg = await self.db.write(reply_unit, actor, scope, ticket_id, answer)
        if msg is not None:
            self.replies += 1
            self._active.add(ticket_id)
            self.overhead.append(time.perf_counter() - started - outcome.model_s)
        else:
            self._active.discard(ticket_id)
        return 0.0

    async def _transcript_wait(self, tenant_id: int, unanswered: list[dict[str, Any]]) -> float:
        """Seconds to wait for a voice note's transcript still on its way (0: answer now)."""
        pending = [m for m in unanswered if m["type"] == "audio" and m["transcript"] is None]
        if not pending or await self.assistant.available(tenant_id, "transcription"):
            return 0.0
        left = pending[-1]["created_at"] + TRANSCRIPT_WAIT_S - self.clock()
        return self.clock.real_delay(left) if left > 0 else 0.0

    async def _handoff(self, actor: Actor, scope: Scope, ticket_id: int, config: Config, reason: str,
                       queue_id: int | None = None) -> float:
        bot = config.bot
        done = await self.db.write(handoff_unit, actor, scope, ticket_id, reason, queue_id, bot.handoff_queue_id,
                                   bot.handoff_message)
        self._active.discard(ticket_id)
        if done is not None:
            self.handoffs += 1
            log.info("bot: handed ticket %s over (queue %s): %s", ticket_id, done["queue_id"], reason)
        return 0.0


def _waiting(ticket: dict[str, Any]) -> bool:
    """A ticket the bot might answer, as an event shows it: pending, nobody's, one-to-one."""
    return ticket.get("status") == "pending" and ticket.get("user_id") is None and not ticket.get("is_group")
