"""The SLA watch: flags a breach when a ticket's due time passes (``services.sla.breach_due``).

One timer, armed for the earliest running due time of every tenant (``sla.NEXT_DUE``, two index
reads) and slept through the daemon's clock, so a faster test clock brings due times sooner. The
tickets table is the whole state: nothing is kept across a restart, and after one the first pass
flags whatever fell due while zingd was down. Events re-arm it: a ticket whose view (every
ticket event carries one) is due before the timer wakes the loop at once; one that moved its due
time later, answered or closed leaves the timer as is, to wake once for nothing and re-arm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from zingd.bus import Bus, Event
from zingd.services import sla
from zingd.store.db import Database

if TYPE_CHECKING:
    from zingd.clock import Clock

log = logging.getLogger(__name__)
BATCH = 200
RETRY_S = 30.0  # virtual seconds before trying again after a failed pass


class SlaWatch:
    def __init__(self, db: Database, bus: Bus, clock: Clock) -> None:
        self.db, self.bus, self.clock = db, bus, clock
        self._wake = asyncio.Event()
        self._armed_for: float | None = None  # the due time the timer sleeps towards (None: none)
        self._task: asyncio.Task | None = None
        self.breaches = 0
        bus.tap(self._heard)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sla-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _heard(self, event: Event) -> None:
        ticket = event.data.get("ticket") if event.ticket_id is not None else None
        if not isinstance(ticket, dict):
            return
        due = sla.next_due(ticket)
        if due is not None and (self._armed_for is None or due < self._armed_for):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before reading: an event from now on wakes the sleep below
            try:
                flagged = await self.db.write(sla.breach_due, BATCH)
                self.breaches += flagged
                if flagged == BATCH:
                    continue
                rows = await self.db.all(sla.NEXT_DUE)
                self._armed_for = min((r["due"] for r in rows if r["due"] is not None), default=None)
            except Exception:
                log.exception("flagging SLA breaches failed; trying again shortly")
                self._armed_for = self.clock() + RETRY_S
            delay = None if self._armed_for is None else self.clock.real_delay(self._armed_for - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
