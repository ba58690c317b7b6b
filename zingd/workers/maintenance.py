"""Housekeeping on a timer: auto-close tickets whose customer went silent, prune old events.

Both are APScheduler interval jobs; what they do is a unit each
(``services.tickets.auto_close_unit``, ``services.events.prune``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zingd.services.events import prune
from zingd.services.tickets import auto_close_unit
from zingd.store.db import Database

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from zingd.clock import Clock
    from zingd.config import TicketSettings


class Maintenance:
    def __init__(self, db: Database, clock: Clock, scheduler: AsyncIOScheduler, settings: TicketSettings) -> None:
        self.db, self.clock, self.scheduler, self.settings = db, clock, scheduler, settings

    def start(self) -> None:
        self.scheduler.add_job(self.prune_events, "interval", hours=1, id="prune-events", coalesce=True)
        self.scheduler.add_job(self.db.write, "interval", args=[auto_close_unit], id="auto-close", coalesce=True,
                               seconds=self.settings.auto_close_interval_s, max_instances=1)

    async def prune_events(self) -> int:
        """Drop events older than the retention; a subscriber asking for them is told to reload."""
        cutoff = self.clock() - self.settings.event_retention_days * 86400
        return await self.db.write(prune, cutoff)
