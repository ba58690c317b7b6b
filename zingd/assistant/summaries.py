"""Summary notes: when a ticket is closed or transferred and its tenant asks for it (``summarize_on``
in the assistant's settings), the assistant's summary of the conversation is added as a private
note, written by the tenant's bot user, for whoever picks the ticket up (or reopens it) next.

It follows the ticket log, not the handlers: a close or transfer is a ``close`` / ``transfer`` row of
``ticket_log`` (whoever did it: an agent, the bot's handoff, auto-close), and the events that
carry a ticket's previous state (``ticket.updated`` with ``was``) wake the worker to read the log
after its cursor. So the hot path pays one set() per such event and nothing waits for a model:
a summary that fails is logged and counted (``failed``), and the close or transfer already
happened. At most ``CONCURRENT`` summaries ask the model at once and ``MAX_WAITING`` wait behind
them; a burst beyond that (a bulk close) is given up on, logged and counted too. The cursor starts at the log's end when zingd starts: what happened while it was down
is not summarized afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from zingd.assistant import copilot
from zingd.bus import Bus, Event
from zingd.errors import Unavailable, ZingError
from zingd.store.db import Database

if TYPE_CHECKING:
    from zingd.assistant.hub import Assistant

log = logging.getLogger(__name__)
BATCH = 500        # log rows read per look
CONCURRENT = 4     # summaries being written at once (each waits for the model)
MAX_WAITING = 200  # summaries queued behind those; more are given up on (logged, counted)


class Summaries:
    def __init__(self, db: Database, bus: Bus, assistant: Assistant) -> None:
        self.db, self.bus, self.assistant = db, bus, assistant
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._slots = asyncio.Semaphore(CONCURRENT)
        self._cursor = 0
        self.written = 0
        self.failed = 0

    async def start(self) -> None:
        self._cursor = await self.db.value("SELECT ifnull(max(id), 0) FROM ticket_log")
        self.bus.tap(self._on_event)
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._running.clear()

    def _on_event(self, event: Event) -> None:
        if event.type == "ticket.updated" and "was" in event.data:
            self._wake.set()

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._read_log()
            except Exception:  # the store failing for a moment must not end the summaries for good
                log.exception("reading the ticket log for summary notes failed; trying again at the next change")

    async def _read_log(self) -> None:
        while rows := await self.db.all(
                "SELECT id, tenant_id, ticket_id, action FROM ticket_log WHERE id > ? ORDER BY id LIMIT ?",
                (self._cursor, BATCH)):
            self._cursor = rows[-1]["id"]
            for row in rows:
                if row["action"] in ("close", "transfer") and await self._wanted(row["tenant_id"], row["action"]):
                    self._start(row["tenant_id"], row["ticket_id"], row["action"])

    def _start(self, tenant_id: int, ticket_id: int, action: str) -> None:
        if len(self._running) >= MAX_WAITING:  # a burst (a bulk close): the model can't keep up anyway
            self.failed += 1
            log.warning("no summary note on %s of ticket %s: %d summaries are already waiting for the model",
                        action, ticket_id, len(self._running))
            return
        task = asyncio.create_task(self._summarize(tenant_id, ticket_id, action))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _wanted(self, tenant_id: int, action: str) -> bool:
        try:
            return action in (await self.assistant.config(tenant_id)).summarize_on
        except Exception:
            log.exception("reading the assistant settings of tenant %s failed", tenant_id)
            return False

    async def _summarize(self, tenant_id: int, ticket_id: int, action: str) -> None:
        async with self._slots:
            try:
                ticket = await copilot.ticket_of(self.db, tenant_id, ticket_id)
                if ticket is None:
                    return  # deleted with its contact meanwhile
                bot = await self.assistant.bot_actor(tenant_id)
                if bot is None:
                    raise Unavailable("the assistant's user is disabled (an admin: zingctl users enable ID)")
                text = await copilot.summary(self.db, self.assistant, ticket)
                await self.db.write(copilot.summary_note, bot, ticket_id, text)
                self.written += 1
            except ZingError as e:
                self.failed += 1
                log.warning("no summary note on %s of ticket %s (tenant %s): %s", action, ticket_id, tenant_id,
                            e.message)
            except Exception:
                self.failed += 1
                log.exception("the summary note on %s of ticket %s failed", action, ticket_id)
