"""What ``zingctl status`` shows: a query over the running daemon's parts.

Daemon-wide figures (every tenant's) only for the ``operator``: a superadmin, or
the OS user running zingd logged in as itself; anyone else sees their tenant's:
its numbers, its outbox, and whether the daemon can write (not why it can't: the
writer's error names files).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zingd import __version__
from zingd.actor import Actor

if TYPE_CHECKING:
    from zingd.bus import Bus
    from zingd.channels.manager import Channels
    from zingd.clock import Clock
    from zingd.config import Settings
    from zingd.services.inbound import Inbound
    from zingd.store.db import Database
    from zingd.workers.outbox import Outbox


class Status:
    def __init__(self, db: Database, bus: Bus, clock: Clock, channels: Channels, outbox: Outbox, inbound: Inbound,
                 settings: Settings, sessions: Callable[[], int]) -> None:
        self.db, self.bus, self.clock, self.channels, self.outbox = db, bus, clock, channels, outbox
        self.inbound, self.settings, self.sessions = inbound, settings, sessions
        self.started_at = 0.0

    def started(self) -> None:
        self.started_at = time.time()

    async def report(self, actor: Actor, operator: bool) -> dict[str, Any]:
        rows = await self.db.all("SELECT id, name, kind, status, status_reason FROM connections WHERE tenant_id = ? "
                                 "ORDER BY id", (actor.tenant_id,))
        out = {
            "version": __version__,
            "uptime_s": round(time.time() - self.started_at, 1),
            "clock": self.clock(),
            "socket": str(self.settings.socket_path),
            "connections": [{**r, "running": self.channels.get(r["id"]) is not None} for r in rows],
            "outbox": await self.outbox.depth(None if operator else actor.tenant_id),
            "event_seq": self.bus.last_seq,
            "writer": {"alive": self.db.writer_alive, "error": self._writer_error(operator)},
            "scope": "daemon" if operator else "tenant",
            "you": {"user_id": actor.user_id, "role": actor.role, "tenant_id": actor.tenant_id},
        }
        if operator:
            data = self.settings.data_path
            out.update(
                pid=os.getpid(), data_dir=str(data),
                database_bytes=sum(p.stat().st_size for p in data.glob("zing.db*") if p.is_file()),
                subscribers=self.bus.subscriber_count, sessions=self.sessions(),
                inbound={"stored": self.inbound.ingested, "duplicates_ignored": self.inbound.duplicates},
                writes={"units": self.db.units, "commits": self.db.commits,
                        "failed_commits": self.db.failed_commits, "loop_reads_moved": self.db.page_fallbacks},
            )
        return out

    def _writer_error(self, operator: bool) -> str | None:
        error = self.db.writer_error
        if error is None:
            return None
        return repr(error) if operator else "the database writer stopped; the operator sees why in zingctl status"
