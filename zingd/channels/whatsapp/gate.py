"""One gate for every call into neonize, process-wide.

neonize 0.5.2 keeps three global Go maps without a lock (``clients``,
``StopSignal``, ``eventChannel``, all keyed by session). A Go map fails hard
(``fatal error: concurrent map writes``, exit 134: every number down at once)
when a write overlaps any other access. Who touches them:

- written only by ``Neonize`` (the session call: its first milliseconds, before
  it dials) and by ``Stop``/``StopAll``;
- read by every other export (``clients[id]``), and once by the session itself
  after its connect, just before it hands the first event (the own device,
  event code 0) to Python;
- never by whatsmeow's own goroutines: its reconnects, keepalives and event
  handlers use the client and the event channel they captured, not the maps.

So map readers share the gate and map writers take it alone. Every export
touches the map in its first instructions, before any I/O (``SendMessage``,
``DownloadAny`` … look their client up first, then talk to the network for as
long as it takes), so a reader counts only for its first ``SHARED_HOLD``: a
stalled download does not hold up every other number. The session call holds
the gate alone from its start until the first callback from that session or
its return, bounded by ``CONNECT_HOLD`` because a dial may hang for 60 s and the
map writes are long done by then (measured: a whole failed connect, schema
creation included, takes < 40 ms). Sessions of different numbers only hold it at
their start, so 200 numbers share it without waiting on each other's traffic.

What it cannot cover: at the end of a pairing nobody completed, the session reads
the maps once more at a moment whatsmeow chooses (when its QR channel closes).
That read is a few microseconds once per abandoned pairing; see ``channel``.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator

CONNECT_HOLD = 0.5
SHARED_HOLD = 1.0


class GoGate:
    """A readers-writer lock: shared for map readers (each for its first ``SHARED_HOLD``), alone for writers.

    Writers go first: a waiting writer keeps new readers out.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers: dict[int, float] = {}  # token -> when it entered
        self._tokens = itertools.count()
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and not self._writers_waiting)
            token = next(self._tokens)
            self._readers[token] = time.monotonic()
        try:
            yield
        finally:
            with self._cond:
                del self._readers[token]
                self._cond.notify_all()

    def acquire(self) -> None:
        """Alone: no other writer, and no reader still within its first ``SHARED_HOLD``, until ``release``."""
        with self._cond:
            self._writers_waiting += 1
            while True:
                oldest = min(self._readers.values(), default=None)
                wait = 0.0 if oldest is None else oldest + SHARED_HOLD - time.monotonic()
                if not self._writer and wait <= 0:
                    break
                self._cond.wait(wait if wait > 0 and not self._writer else None)
            self._writers_waiting -= 1
            self._writer = True

    def release(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


GATE = GoGate()
