"""The daemon's sense of time. Normally wall time; ``clock_speed`` > 1 makes it run
faster (virtual seconds per real second) so tests can live through pacing
intervals, daily caps and warm-up days in a few seconds. Everything that
decides *when* (outbox backoff, the governor, schedules, auto-close) reads
this clock and sleeps through it.
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("clock_speed must be positive")
        self.speed = speed
        self._origin = time.time()

    def __call__(self) -> float:
        """Now, in (virtual) epoch seconds."""
        if self.speed == 1.0:
            return time.time()
        return self._origin + (time.time() - self._origin) * self.speed

    def real_delay(self, virtual_s: float) -> float:
        return max(0.0, virtual_s) / self.speed

    async def sleep(self, virtual_s: float) -> None:
        await asyncio.sleep(self.real_delay(virtual_s))
