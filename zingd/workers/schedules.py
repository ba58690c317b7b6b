"""The schedule dispatcher: keeps one APScheduler job armed for the earliest due schedule.

The database is the schedule: nothing is loaded at start. When the job fires,
occurrences later than the grace period (e.g. after downtime) are marked
``missed``, the due ones are sent one by one through the governor, and the job
is re-armed. What sending or missing an occurrence means is in
``zingd/services/schedules.py``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from zingd.services.schedules import due, mark_missed, send
from zingd.store.db import Database

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from zingd.clock import Clock
    from zingd.config import ScheduleSettings
    from zingd.services.governor import Governor

log = logging.getLogger(__name__)
BATCH = 200


class Dispatcher:
    JOB = "schedules"

    def __init__(self, db: Database, clock: Clock, governor: Governor, scheduler: AsyncIOScheduler,
                 settings: ScheduleSettings) -> None:
        self.db, self.clock, self.governor, self.scheduler = db, clock, governor, scheduler
        self.settings = settings
        self._running: asyncio.Task | None = None
        self.sent = 0

    def start(self) -> None:
        self.arm_soon()

    def arm_soon(self) -> None:
        asyncio.get_running_loop().create_task(self.arm())

    async def arm(self) -> None:
        nxt = await self.db.value("SELECT min(run_at) FROM schedules WHERE status = 'pending'")
        if nxt is None:
            if self.scheduler.get_job(self.JOB):
                self.scheduler.remove_job(self.JOB)
            return
        delay = self.clock.real_delay(nxt - self.clock())
        run_date = datetime.now(ZoneInfo("UTC")) + timedelta(seconds=delay)
        self.scheduler.add_job(self.fire, "date", run_date=run_date, id=self.JOB, replace_existing=True,
                               misfire_grace_time=None, coalesce=True)

    async def fire(self) -> None:
        if self._running is not None and not self._running.done():
            return
        self._running = asyncio.current_task()
        try:
            grace = self.settings.grace_minutes * 60
            while await self.db.write(mark_missed, grace, BATCH) == BATCH:
                pass
            while rows := await self.db.write(due, BATCH):
                for row in rows:
                    await self.governor.acquire(row["connection_id"])
                    outcome, stored_at = await self.db.write(send, row["id"], row["run_at"])
                    if outcome == "sent":
                        self.sent += 1
                        self.governor.settle(row["connection_id"], stored_at)
                    else:
                        self.governor.refund(row["connection_id"])
        except Exception:
            log.exception("sending scheduled messages failed; retrying shortly")
        finally:
            await self.arm()
