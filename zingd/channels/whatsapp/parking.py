"""Inbound events zing could not hand to the daemon, kept on disk until it can.

whatsmeow acknowledges a message to WhatsApp as soon as neonize's Go side has
queued it for Python (whatsmeow's ``SynchronousAck`` is off, and neonize 0.5.2
offers no way to turn it on), so from then on zing's process holds the only
copy. An event whose handler raised, or whose call into the daemon timed out,
is parked here: the event's own protobuf bytes, one fsynced file each, named in
arrival order. The channel hands parked events to the same handler again until
they are committed; the daemon ignores a message it already has (same WhatsApp
id), so replaying one the daemon committed after all (a timeout that ended in a
commit) changes nothing. Files outlive the process: a connection replays what
it parked before a crash or a restart.

What parking cannot cover is an event in memory when the process dies (between
neonize's callback and the commit); that window is measured and documented in
docs/whatsapp.md ("What zing can still lose").
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from zingd.durable import fsync_dir, write_atomic

log = logging.getLogger(__name__)


class Parking:
    """A directory of parked events; every method is safe from any thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.replayed = 0        # parked events committed since the process started
        self.lost = 0            # events that could not even be parked (the disk refused the file)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._replaying = threading.Lock()
        self._count = len(self._files())

    @property
    def count(self) -> int:
        """Events parked now, waiting for a replay."""
        return self._count

    def park(self, kind: str, data: bytes) -> bool:
        """Write one event durably; False (and counted as lost) when the disk refuses it."""
        name = f"{time.time_ns():020d}-{next(self._seq):06d}-{kind}.pb"
        try:
            write_atomic(self.directory / name, data)
        except OSError:
            with self._lock:
                self.lost += 1
            log.exception("could not park an inbound %s in %s: it is lost", kind, self.directory)
            return False
        with self._lock:
            self._count += 1
        return True

    def replay(self, handle: Callable[[str, bytes], None]) -> int:
        """Hand every parked event to ``handle(kind, data)`` in arrival order; return how many are left.

        An event whose handler raises stays parked for the next replay; a timeout
        (the daemon is stuck) ends this replay, since the next ones would wait as long.
        """
        with self._replaying:
            for path in self._files():
                kind = path.name.split("-", 2)[2].removesuffix(".pb")
                try:
                    handle(kind, path.read_bytes())
                except TimeoutError:
                    log.warning("replaying parked %s: the daemon did not answer in time", path.name)
                    break
                except Exception:
                    log.exception("replaying parked %s failed; it stays parked", path.name)
                    continue
                path.unlink(missing_ok=True)
                with self._lock:
                    self._count -= 1
                    self.replayed += 1
            if self.directory.is_dir():
                fsync_dir(self.directory)  # the unlinks: a replayed event is not replayed again after a cut
            return self._count

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.pb")) if self.directory.is_dir() else []
