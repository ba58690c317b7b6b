"""The schedule dispatcher: keeps one APScheduler job armed for the earliest due schedule.

The database is the schedule: nothing is loaded at start. When the job fires,
occurrences later than the grace period (e.g. after downtime) are marked
``missed``, the due ones are sent one by one through the governor, and the job
is re-armed. What sending or missing an occurrence means is in
``zingd/services/schedules.py``.

A suspended tenant's schedules wait, pending: the job is armed for active
tenants' only, and ``tenant.update`` re-arms it. Reactivated, its occurrences
are handled as after downtime: within the grace period sent, later missed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from zingd.services.schedules import mark_missed, send
from zingd.store.db import Database, Tx

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from zingd.clock import Clock
    from zingd.config import ScheduleSettings
    from zingd.services.governor import Governor

log = logging.getLogger(__name__)
BATCH = 200
PENDING = ("FROM schedules s JOIN tenants t ON t.id = s.tenant_id "
           "WHERE s.status = 'pending' AND t.status = 'active'")


def _due(tx: Tx, limit: int) -> list[dict]:
    """Due occurrences of active tenants, earliest first."""
    return tx.all(f"SELECT s.* {PENDING} AND s.run_at <= ? ORDER BY s.run_at, s.id LIMIT ?", (tx.now, limit))


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
        nxt = await self.db.value(f"SELECT min(s.run_at) {PENDING}")
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
            while rows := await self.db.write(_due, BATCH):
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
