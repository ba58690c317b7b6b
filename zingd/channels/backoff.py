"""Retry delays shared by the channels that reconnect on their own (neonize, the Cloud API)."""

from __future__ import annotations

import random


class Backoff:
    """Doubling delays up to a cap, each cut by up to ``jitter`` at random; reset once a connection is up."""

    def __init__(self, initial: float, cap: float, jitter: float = 0.0) -> None:
        self.initial, self.cap, self.jitter = initial, cap, jitter
        self.current = initial

    def next(self) -> float:
        delay, self.current = self.current, min(self.current * 2, self.cap)
        return round(delay * (1 - self.jitter * random.random()), 3)

    def reset(self) -> None:
        self.current = self.initial
