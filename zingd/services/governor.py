"""The pacing governor: when may a number send its next automated message?

Every automated sender (campaign runners, the schedule dispatcher) asks
``await governor.acquire(connection_id)`` before queueing a message, so their
sum stays under one set of limits per number: a minimum gap with random jitter,
a long pause every N messages, a daily cap (lower on a new number's first days,
the warm-up), and quiet hours. State is rebuilt from the database on start
(automated messages carry ``automated = 1``), so a restart can't reset a cap.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import msgspec

from zingd.config import PacingSettings
from zingd.errors import Invalid
from zingd.store.rows import loads

if TYPE_CHECKING:
    from zingd.clock import Clock
    from zingd.store.db import Database


@dataclass
class Pace:
    limits: PacingSettings
    tz: ZoneInfo
    created_at: float
    last: float = 0.0          # when the last automated message was let through
    since_pause: int = 0       # how many since the last long pause
    day: str = ""              # the local day today_count belongs to
    today_count: int = 0
    gap: float | None = None   # the jittered gap chosen for the next message
    throttle: Throttle | None = None  # the network's last "too fast" (Governor.slow_down)


@dataclass
class Throttle:
    """The network said a number sends too fast: nothing automated before ``until``, then gaps
    ``factor`` times longer until an hour passes without another such word."""

    until: float
    factor: float
    reason: str

    def gap_factor(self, t: float) -> float:
        return self.factor if t < self.until + SLOW_FOR_S else 1.0


SLOW_FOR_S = 3600.0
MAX_SLOWDOWN = 16.0


def merge_limits(base: PacingSettings, override: dict[str, Any]) -> PacingSettings:
    try:
        limits = msgspec.convert({**msgspec.to_builtins(base), **override}, PacingSettings)
    except msgspec.ValidationError as e:
        raise Invalid(f"pacing: {e}", field="pacing") from None
    for name in ("quiet_start", "quiet_end"):
        try:
            dtime.fromisoformat(getattr(limits, name))
        except ValueError:
            raise Invalid(f"pacing: {name} must be HH:MM", field="pacing") from None
    if limits.min_interval_s < 0 or limits.jitter_s < 0 or limits.daily_cap < 1 or limits.pause_every < 1:
        raise Invalid("pacing: intervals must be >= 0, daily_cap and pause_every >= 1", field="pacing")
    return limits


class Governor:
    def __init__(self, db: Database, clock: Clock, pacing: PacingSettings) -> None:
        self.db, self.clock, self.pacing = db, clock, pacing
        self._paces: dict[int, Pace] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._throttles: dict[int, Throttle] = {}
        self._rng = random.Random()

    def forget(self, connection_id: int) -> None:
        """Drop cached limits (a connection's pacing settings changed); a throttle stays."""
        self._paces.pop(connection_id, None)

    def slow_down(self, connection_id: int, seconds: float, reason: str) -> None:
        """The network throttled this number (a rate or spam limit): hold its automated sends for
        ``seconds``, then space them out, twice as far apart at each new throttle within the hour."""
        now = self.clock()
        old = self._throttles.get(connection_id)
        factor = min(MAX_SLOWDOWN, old.factor * 2) if old is not None and old.gap_factor(now) > 1 else 2.0
        self._throttles[connection_id] = throttle = Throttle(max(now + seconds, old.until if old else 0), factor,
                                                             reason)
        if connection_id in self._paces:
            self._paces[connection_id].throttle = throttle
            self._paces[connection_id].gap = None

    async def pace(self, connection_id: int) -> Pace:
        pace = self._paces.get(connection_id)
        if pace is None:
            row = await self.db.one(
                "SELECT c.settings, c.created_at, t.timezone FROM connections c JOIN tenants t ON t.id = c.tenant_id "
                "WHERE c.id = ?", (connection_id,))
            limits = merge_limits(self.pacing, loads(row["settings"]).get("pacing", {}))
            pace = Pace(limits, ZoneInfo(row["timezone"]), row["created_at"],
                        throttle=self._throttles.get(connection_id))
            now = self.clock()
            day_start = self._local_midnight(pace, now)
            stats = await self.db.one(
                "SELECT max(created_at) AS last, sum(created_at >= ?) AS today FROM messages "
                "WHERE connection_id = ? AND automated = 1", (day_start, connection_id))
            pace.last = stats["last"] or 0.0
            pace.day = self._local_day(pace, now)
            pace.today_count = stats["today"] or 0
            pace.since_pause = pace.today_count % pace.limits.pause_every
            self._paces[connection_id] = pace
        return pace

    # -- the rules ---------------------------------------------------------
    @staticmethod
    def _local(pace: Pace, t: float) -> datetime:
        return datetime.fromtimestamp(t, pace.tz)

    def _local_day(self, pace: Pace, t: float) -> str:
        return self._local(pace, t).date().isoformat()

    def _local_midnight(self, pace: Pace, t: float) -> float:
        local = self._local(pace, t)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def cap_for(self, pace: Pace, t: float) -> int:
        """The daily cap on the day of ``t``: the warm-up curve on a new number's first days."""
        age_days = int((self._local_midnight(pace, t) - self._local_midnight(pace, pace.created_at)) // 86400)
        warmup = pace.limits.warmup
        return min(pace.limits.daily_cap, warmup[age_days]) if age_days < len(warmup) else pace.limits.daily_cap

    def _quiet_end(self, pace: Pace, t: float) -> float | None:
        """If ``t`` falls in quiet hours, when they end; else None."""
        start, end = dtime.fromisoformat(pace.limits.quiet_start), dtime.fromisoformat(pace.limits.quiet_end)
        if start == end:
            return None
        local = self._local(pace, t)
        now = local.time()
        inside = (start <= now < end) if start < end else (now >= start or now < end)
        if not inside:
            return None
        end_dt = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if end_dt <= local:
            end_dt += timedelta(days=1)
        return end_dt.timestamp()

    def next_slot(self, pace: Pace, now: float, count: int | None = None) -> float:
        """The earliest time the next automated message may go (``count``: sent today so far)."""
        limits = pace.limits
        if pace.gap is None:
            pace.gap = limits.min_interval_s + self._rng.uniform(0, limits.jitter_s)
            if pace.throttle is not None:
                pace.gap *= pace.throttle.gap_factor(now)
        t = max(now, pace.last + pace.gap) if pace.last else now
        if pace.throttle is not None:
            t = max(t, pace.throttle.until)
        if pace.since_pause >= limits.pause_every:
            t = max(t, pace.last + limits.pause_s)
        for _ in range(400):  # walk forward past full days and quiet hours
            same_day = self._local_day(pace, t) == pace.day
            sent = (pace.today_count if count is None else count) if same_day else 0
            if sent >= self.cap_for(pace, t):
                t = self._local_midnight(pace, t) + 86400
                continue
            end = self._quiet_end(pace, t)
            if end is not None:
                t = end
                continue
            return t
        raise Invalid("pacing allows no message in the next year; check daily_cap and quiet hours")

    def _record(self, pace: Pace, t: float) -> None:
        day = self._local_day(pace, t)
        if day != pace.day:
            pace.day, pace.today_count = day, 0
        if pace.since_pause >= pace.limits.pause_every:
            pace.since_pause = 0
        pace.last = t
        pace.today_count += 1
        pace.since_pause += 1
        pace.gap = None

    # -- the API -----------------------------------------------------------
    async def acquire(self, connection_id: int) -> float:
        """Wait for this number's next slot and take it; cancel-safe (nothing taken if cancelled)."""
        lock = self._locks.setdefault(connection_id, asyncio.Lock())
        async with lock:
            pace = await self.pace(connection_id)
            while True:
                now = self.clock()
                slot = self.next_slot(pace, now)
                if slot <= now:
                    self._record(pace, now)
                    return now
                await self.clock.sleep(min(slot - now, 300.0))  # re-check: limits may change

    async def reserve(self, connection_id: int) -> float:
        """Take the next slot without waiting for it; the caller schedules its send for then."""
        lock = self._locks.setdefault(connection_id, asyncio.Lock())
        async with lock:
            pace = await self.pace(connection_id)
            slot = self.next_slot(pace, self.clock())
            self._record(pace, slot)
            return slot

    def settle(self, connection_id: int, stored_at: float) -> None:
        """The message taken at acquire() was stored at ``stored_at``: gaps count from there,
        so the intervals observed between stored messages satisfy the limits."""
        pace = self._paces.get(connection_id)
        if pace is not None:
            pace.last = max(pace.last, stored_at)

    def refund(self, connection_id: int) -> None:
        """A slot was taken but nothing was sent (the recipient was skipped)."""
        pace = self._paces.get(connection_id)
        if pace is not None and pace.today_count:
            pace.today_count -= 1
            pace.since_pause = max(0, pace.since_pause - 1)

    async def project(self, connection_ids: list[int], count: int) -> dict[str, Any]:
        """When would ``count`` messages go, rotating over these numbers? (no randomness: mean jitter)."""
        if not count or not connection_ids:
            return {"first_send_at": None, "last_send_at": None}
        sims = []
        for cid in connection_ids:
            real = await self.pace(cid)
            sim = Pace(real.limits, real.tz, real.created_at, real.last, real.since_pause, real.day, real.today_count)
            sims.append(sim)
        now, first, last = self.clock(), None, None
        for i in range(count):
            pace = sims[i % len(sims)]
            pace.gap = pace.limits.min_interval_s + pace.limits.jitter_s / 2
            slot = self.next_slot(pace, now)
            self._record(pace, slot)
            first = slot if first is None else first
            last = slot
        return {"first_send_at": first, "last_send_at": last}

    def describe(self, pace: Pace) -> dict[str, Any]:
        now = self.clock()
        throttle = pace.throttle if pace.throttle is not None and pace.throttle.gap_factor(now) > 1 else None
        return {**msgspec.to_builtins(pace.limits), "throttled_until": throttle and throttle.until,
                "throttle_reason": throttle.reason if throttle else "", "today_sent": pace.today_count if pace.day == self._local_day(
            pace, now) else 0, "today_cap": self.cap_for(pace, now), "next_slot_at": self.next_slot(pace, now)}
