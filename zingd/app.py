"""Builds and wires every part of zingd; owns start and stop order.

Start: lock the data dir -> database (migrations) -> demo seed -> channels ->
outbox -> campaigns, webhooks -> scheduler -> socket -> HTTP. Stop runs the other
way round, letting the outbox drain what is due, so a clean stop leaves nothing
half-sent. Stop undoes exactly what start did, so a start that fails half-way
(the HTTP port taken, a socket path refused, a migration) stops the parts already
running and leaves no lock, socket or thread behind: the process can exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import inspect
import logging
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from zingd import __version__
from zingd.assistant.bot import Bot
from zingd.assistant.hub import Assistant
from zingd.assistant.summaries import Summaries
from zingd.assistant.transcriber import Transcriber
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
from zingd.workers.sla import SlaWatch
from zingd.workers.webhooks import Webhooks

log = logging.getLogger(__name__)


class DataDirLocked(RuntimeError):
    pass


class StartFailed(RuntimeError):
    """A part could not start; the message is the one line zingd prints before exiting."""

    def __init__(self, doing: str, error: BaseException) -> None:
        if isinstance(error, OSError) and error.strerror:
            reason = error.strerror + (f": {error.filename}" if error.filename else "")
        else:
            reason = str(error) or type(error).__name__
        super().__init__(f"cannot {doing}: {reason}")


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
        self.inbound = Inbound(self.db, settings.tickets, self.metrics)
        self.channels = Channels(self.db, self.inbound, settings.data_path, settings.sim)
        self.governor = Governor(self.db, self.clock, settings.pacing)
        self.outbox = Outbox(self.db, self.bus, self.channels, self.clock, settings.outbox, self.metrics,
                             self.governor)
        self.campaigns = CampaignRunner(self.db, self.bus, self.channels, self.clock, self.governor, settings.pacing)
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.dispatcher = Dispatcher(self.db, self.clock, self.governor, self.scheduler, settings.schedules)
        self.sla = SlaWatch(self.db, self.bus, self.clock)
        self.maintenance = Maintenance(self.db, self.clock, self.scheduler, settings.tickets)
        self.webhooks = Webhooks(self.db, self.bus, self.clock, settings.webhooks)
        self.status = Status(self.db, self.bus, self.clock, self.channels, self.outbox, self.inbound, settings,
                             sessions=lambda: len(self.rpc.sessions))
        self.assistant = Assistant(self.db, self.clock, settings.assistant)
        parts = Parts(self.db, self.bus, self.clock, settings, self.auth, self.channels, self.governor, self.campaigns,
                      self.dispatcher, self.webhooks, self.status, self.metrics, self.assistant)
        self.bot = Bot(parts)
        self.transcriber = Transcriber(self.db, self.bus, self.assistant, settings.data_path)
        self.summaries = Summaries(self.db, self.bus, self.assistant)
        self.rpc = RpcServer(parts, self.auth, self.bus, self.events, settings.rpc, settings.socket_path)
        self.http = HttpServer(parts, self.rpc, self.inbound, self.outbox) if settings.http.enabled else None
        self._lock_fd: int | None = None
        self._running = contextlib.AsyncExitStack()  # the stop of every part started, latest first
        self._stopping = asyncio.Event()
        self.exit_code = 0

    def lock(self) -> None:
        """Take the data dir for this process (another zingd holding it is refused), and make
        it private: 0700, the database files 0600, however they were left."""
        data = self.settings.data_path
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(data / "zingd.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirLocked(f"another zingd is using {data}") from None
        self._lock_fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        db = self.settings.db_path
        for path, mode in ((data, 0o700), (db, 0o600), (db.with_name(db.name + "-wal"), 0o600),
                           (db.with_name(db.name + "-shm"), 0o600)):
            _tighten(path, mode)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _parts(self) -> list[tuple[str, Callable[[], Any], Callable[[], Any] | None]]:
        """``(doing, start, stop)`` of every part, in start order."""
        s = self.settings
        parts = [(f"lock the data dir {s.data_path}", self.lock, self.unlock),
                 (f"open the database {s.db_path}", self.db.open, self.db.close)]
        if s.demo:
            parts.append(("seed the demo company", self._seed, None))
        parts += [
            ("start the channels", self.channels.start_all, self.channels.stop_all),
            ("start the outbox", self.outbox.start, self._stop_outbox),
            ("start the campaign runner", self.campaigns.start, self.campaigns.stop),
            ("start the webhooks", self.webhooks.start, self.webhooks.stop),
            ("start the assistant", self.assistant.start, self.assistant.stop),
            ("start the bot", self.bot.start, self.bot.stop),
            ("start the transcriber", self.transcriber.start, self.transcriber.stop),
            ("start the summaries", self.summaries.start, self.summaries.stop),
            ("start the maintenance jobs", self.maintenance.start, None),
            ("start the scheduler", self.scheduler.start, self._stop_scheduler),
            ("start the schedule dispatcher", self.dispatcher.start, None),
            ("start the SLA watch", self.sla.start, self.sla.stop),
            (f"listen on the socket {s.socket_path}", self.rpc.start, self.rpc.stop),
        ]
        if self.http is not None:
            parts.append((f"listen for HTTP on {s.http.host}:{s.http.port}", self.http.start, self.http.stop))
        return parts

    async def start(self) -> None:
        """Start every part in order. A part that fails raises ``StartFailed`` (what, and why)
        once every part already running is stopped again; a stop asked for meanwhile (SIGTERM)
        is honoured between two parts."""
        self.status.started()
        try:
            for doing, start, stop in self._parts():
                if self._stopping.is_set():
                    return
                if stop is not None:  # registered first: a part that fails half-way is stopped too
                    self._running.push_async_callback(_stop, doing, stop)
                try:
                    await _call(start)
                except Exception as e:
                    log.debug("could not %s", doing, exc_info=True)
                    raise StartFailed(doing, e) from e
        except BaseException:
            await self.stop()
            raise
        log.info("zingd %s serving on %s (data in %s)", __version__, self.settings.socket_path,
                 self.settings.data_path)

    async def stop(self) -> None:
        """Stop what ``start`` started, latest first (safe to call again: it stops nothing twice)."""
        log.info("stopping")
        await self._running.aclose()
        log.info("stopped cleanly")

    async def _seed(self) -> None:
        from zingd.demo import seed

        await seed(self.db)

    async def _stop_outbox(self) -> None:
        log.info("stopping: draining the outbox")
        await self.outbox.drain(timeout=5.0)
        await self.outbox.stop()

    def _stop_scheduler(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

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


async def _call(fn: Callable[[], Any]) -> None:
    """Run a part's start or stop, sync or async."""
    result = fn()
    if inspect.isawaitable(result):
        await result


async def _stop(doing: str, stop: Callable[[], Any]) -> None:
    """One part's stop; one that fails is logged and the others still stop (the lock last)."""
    try:
        await _call(stop)
    except Exception:
        log.exception("stopping failed, undoing: %s", doing)


def _tighten(path: Path, mode: int) -> None:
    """Take group and other permissions off ``path`` (if it exists), saying so: a data dir
    made before zingd kept it private, or by hand, must not stay readable by others."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, mode)
        log.warning("made %s private (mode %04o, was %04o)", path, mode, stat.S_IMODE(st.st_mode))
