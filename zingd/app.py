"""Builds and wires every part of zingd; owns start and stop order.

Start: lock the data dir -> database (migrations) -> demo seed -> channels ->
outbox -> scheduler -> socket. Stop runs the other way round, after letting
the outbox drain what is due, so a clean stop leaves nothing half-sent.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from zingd import __version__
from zingd.bus import Bus
from zingd.channels.manager import Channels
from zingd.clock import Clock
from zingd.config import Settings
from zingd.rpc import methods  # noqa: F401 - registers the RPC methods
from zingd.rpc.parts import Parts
from zingd.rpc.server import RpcServer
from zingd.services.auth import Auth
from zingd.services.governor import Governor
from zingd.http import HttpServer
from zingd.metrics import Metrics
from zingd.services.events import EventLog
from zingd.services.inbound import Inbound
from zingd.services.status import Status
from zingd.store.db import Database
from zingd.workers.campaigns import CampaignRunner
from zingd.workers.maintenance import Maintenance
from zingd.workers.outbox import Outbox
from zingd.workers.schedules import Dispatcher
from zingd.workers.webhooks import Webhooks

log = logging.getLogger(__name__)


class DataDirLocked(RuntimeError):
    pass


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = Clock(settings.clock_speed)
        self.bus = Bus()
        self.metrics = Metrics()
        s = settings.database
        self.db = Database(settings.db_path, self.bus, s.synchronous, s.busy_timeout_ms, s.group_commit_max,
                           self.clock, on_writer_failure=self._writer_failed)
        self.auth = Auth(self.db, self.clock, settings.rpc)
        self.events = EventLog(self.db)
        self.inbound = Inbound(self.db, settings.tickets)
        self.channels = Channels(self.db, self.inbound, settings.data_path, settings.sim)
        self.outbox = Outbox(self.db, self.bus, self.channels, self.clock, settings.outbox)
        self.governor = Governor(self.db, self.clock, settings.pacing)
        self.campaigns = CampaignRunner(self.db, self.bus, self.channels, self.clock, self.governor, settings.pacing)
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.dispatcher = Dispatcher(self.db, self.clock, self.governor, self.scheduler, settings.schedules)
        self.maintenance = Maintenance(self.db, self.clock, self.scheduler, settings.tickets)
        self.webhooks = Webhooks(self.db, self.bus, self.clock)
        self.status = Status(self.db, self.bus, self.clock, self.channels, self.outbox, self.inbound, settings,
                             sessions=lambda: len(self.rpc.sessions))
        parts = Parts(self.db, self.bus, self.clock, settings, self.auth, self.channels, self.governor, self.campaigns,
                      self.dispatcher, self.webhooks, self.status, self.metrics)
        self.rpc = RpcServer(parts, self.auth, self.bus, self.events, settings.rpc, settings.socket_path)
        self.http = HttpServer(parts, self.rpc, self.inbound, self.outbox) if settings.http.enabled else None
        self._lock_fd: int | None = None
        self._stopping = asyncio.Event()
        self.exit_code = 0

    def lock(self) -> None:
        """Take the data dir for this process; another zingd holding it is refused."""
        data = self.settings.data_path
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(data / "zingd.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirLocked(f"another zingd is using {data}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    async def start(self) -> None:
        self.lock()
        self.status.started()
        await self.db.open()
        if self.settings.demo:
            from zingd.demo import seed

            await seed(self.db)
        await self.channels.start_all()
        self.outbox.start()
        await self.campaigns.start()
        await self.webhooks.start()
        self.maintenance.start()
        self.scheduler.start()
        self.dispatcher.start()
        await self.rpc.start()
        if self.http is not None:
            await self.http.start()
        log.info("zingd %s serving on %s (data in %s)", __version__, self.settings.socket_path,
                 self.settings.data_path)

    async def stop(self) -> None:
        log.info("stopping: draining the outbox")
        if self.http is not None:
            await self.http.stop()
        await self.rpc.stop()
        await self.campaigns.stop()
        await self.webhooks.stop()
        await self.outbox.drain(timeout=5.0)
        await self.outbox.stop()
        await self.channels.stop_all()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        log.info("stopped cleanly")

    def request_stop(self) -> None:
        self._stopping.set()

    def _writer_failed(self, error: BaseException) -> None:
        """Without its writer the daemon can acknowledge nothing: stop, and exit non-zero so a
        supervisor (systemd, the demo) restarts it, rather than look alive and hang every write."""
        log.critical("stopping: the database writer failed (%r); restart zingd", error)
        self.exit_code = 70  # EX_SOFTWARE
        self.request_stop()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        try:
            await self._stopping.wait()
        finally:
            await self.stop()
