"""The real WhatsApp channel, on neonize (Python bindings over whatsmeow).

Sync client, not ``neonize.aioze``. Each connection has one sync ``NewClient``;
its ``connect()`` blocks a dedicated thread for the whole session, Go calls run
on the channel's own small executor, and events arrive on neonize's callback
thread, which does the blocking part of handling (media download, LID lookup)
and then waits for the daemon's coroutine via ``run_coroutine_threadsafe``. So a
message is committed by the sink before the next event is handled, and the
daemon's loop (asyncio or uvloop) never blocks. The async client was rejected
because it binds every connection to one process-global loop, set by the first
``connect()`` (a restarted loop, or a loop per test, gets events posted to a
dead loop); its ``is_connected``/``is_logged_in`` return un-awaited coroutines;
and it pushes every Go call through the shared default executor, where a slow
upload competes with the rest of the daemon.

Message ids: neonize 0.5.2 cannot send under the daemon's id (see
``whatsapp.store``); the channel records WhatsApp's id for each sent message and
translates both ways, so the daemon only ever sees its own ids. A retry of a
message that already went out is answered from the record, and a retry while the
first attempt still runs (the outbox gave up waiting) joins that attempt, so
neither sends it twice.

One session per number for the life of the connection. Each session call into
neonize builds a new whatsmeow client and a SQLite pool it never closes (+1 fd
and ~200 KB each: 300 calls took fds 12 → 312, RSS 72 → 133 MB), and a new client
forgets whatsmeow's cache of recently sent messages (the customer's phone then
shows "waiting for this message" for them). So once a session is up, whatsmeow
reconnects by itself: on ``DisconnectedEv`` the channel reports it and waits for
``ConnectedEv``; stopping the client then (as zing once did) raced whatsmeow's
immediate retry and lost the backlog it had already acknowledged. The channel
starts a new session only when none came up: the first connect failed (after
2s, 4s, 8s … capped at 5 min, each delay with jitter so numbers spread out, and
the first connect of each number spread over ``start_spread``), or the watchdog
gives up on a zombie. Before each session call the client dials WhatsApp in
Python, through the proxy if any, up to a TLS handshake (``lib.reachable``): an
outage costs no Go call and no fd, also when a proxy answers with WhatsApp down
behind it (200 numbers × 20 such outages: fds 216 → 218).
logged_out, banned and outdated, a pairing nobody completes, and a session taken
over by another client (``StreamReplacedEv``: retrying would fight the other
client for the session) stop the runner until an admin acts: ``pair()``, or a
restart of the connection.

Watchdog, from signals that cost nothing on the wire (a usync query every 45 s
per number, as zing once made, is the kind of traffic that gets numbers banned):
down (whatsmeow reconnecting) for longer than ``stuck_after``, or degraded
(keepalives failing) that long, restarts the session; an event handler busy for
longer than ``pipeline_stall`` (a blocked sink) marks the connection degraded.

Isolation: every call into neonize passes the process-wide gate (``gate.py``):
neonize's global Go maps are not locked, and a race on them is a Go fatal error
that takes every number down at once (32 channels retrying together crashed 2
to 4 of 6 runs ungated, 0 of 6 gated; ``tests/channels/whatsapp/test_isolation.py``).
Worker processes would contain a crash instead of preventing it, at ~66 MB of Go
runtime per process against ~0.5 MB per extra session in one process, and every
call would cross a process boundary; the gate covers every map access neonize
makes except one, below, so it was chosen. Each session also has its own gate,
opened once the session is registered in Go (its first callback) and closed
before it stops: neonize does not check its lookups, so a call for a session Go
does not know (yet, or any more) dereferences nil and crashes the process.

Ending: a session that is up is stopped (``Stop``). A session still dialling is
left to fail on its own (whatsmeow's dial gives up after 60 s; a ``Stop`` would
block for that long, holding the gate): it runs on a daemon thread, so it never
holds up zingd's exit. A pairing nobody completes is disconnected, not stopped:
neonize then waits forever in FetchMe for a device id (one parked thread until
the process exits), and a ``Stop`` there would race the session's last map read
into a nil dereference. That read, when whatsmeow's QR channel closes, is the one
map access the gate cannot order; it happens once per abandoned pairing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
import queue
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from zingd.channels.backoff import Backoff
from zingd.channels.base import Channel, ChannelSink, InboundMessage, OutboundMessage, SendError, SendResult
from zingd.channels.whatsapp.events import ExtraEvents, logout_state
from zingd.channels.whatsapp.inbound import MEDIA_TYPES, EventDecoder, content_fields, enum_name, jid_str, unwrap
from zingd.channels.whatsapp.gate import GATE
from zingd.channels.whatsapp.lib import empty_jid, load, new_client, to_jid
from zingd.channels.whatsapp.outbound import Outbound, message_send_error, send_error
from zingd.channels.whatsapp.parking import Parking
from zingd.channels.whatsapp.store import ChannelStore, parked_path, session_problem, sidecar_path

log = logging.getLogger(__name__)

LIVE_STATES = ("connected", "degraded")
MAX_DOWNLOADS = 4  # per number at once; a stalled one holds its slot until media_timeout


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds. Defaults suit production; tests shrink them."""

    reconnect_initial: float = 2.0
    reconnect_max: float = 300.0
    jitter: float = 0.5             # each delay is cut by up to this fraction, at random
    start_spread: float = 10.0      # the first connect waits up to this long, at random
    watchdog_interval: float = 15.0
    stuck_after: float = 600.0      # down (or degraded) this long while whatsmeow retries: a new session
    pipeline_stall: float = 120.0   # an event handler busy this long: degraded
    pairing_timeout: float = 90.0   # no new QR code for this long (whatsmeow spaces them 60s, then 20s)
    sink_timeout: float = 300.0     # how long an event may wait for the daemon
    media_timeout: float = 120.0    # a download that takes longer is stored as a media error
    lookup_timeout: float = 10.0    # a group's name not answered by then: the group is unnamed until it changes
    stop_timeout: float = 15.0
    replay_initial: float = 5.0     # parked events are handed to the daemon again after this, doubling
    replay_max: float = 300.0
    profile_ttl: float = 3600.0


class SessionGate:
    """Go calls share the session; stopping it waits for them and shuts them out."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls = 0
        self._open = False

    def open(self) -> None:
        with self._cond:
            self._open = True

    def close(self, timeout: float) -> None:
        with self._cond:
            self._open = False
            self._cond.wait_for(lambda: self._calls == 0, timeout)

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        with self._cond:
            if not self._open:
                raise SendError("WhatsApp is not connected", retryable=True)
            self._calls += 1
        try:
            yield
        finally:
            with self._cond:
                self._calls -= 1
                self._cond.notify_all()


def _duration(secs: int) -> str:
    hours, minutes = divmod(max(secs, 0) // 60, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


class NeonizeChannel(Channel):
    """One WhatsApp number, through a whatsmeow session stored at ``session_path``."""

    kind = "whatsapp"

    def __init__(self, connection_id: int, sink: ChannelSink, session_path: Path, media_dir: Path,
                 max_media_bytes: int = 64 << 20, client_factory: Callable[[Path], Any] | None = None,
                 *, timings: Timings | None = None) -> None:
        super().__init__(connection_id, sink)
        self.session_path = Path(session_path)
        self.media_dir = Path(media_dir)
        self.max_media_bytes = max_media_bytes
        self.handler_failures = 0
        self.reconnects = 0
        self.phone = ""
        self._factory = client_factory or new_client
        self._t = timings or Timings()
        self._backoff = Backoff(self._t.reconnect_initial, self._t.reconnect_max, self._t.jitter)
        self._store = ChannelStore(sidecar_path(self.session_path))
        self._parking = Parking(parked_path(self.session_path))
        self._replayers: dict[str, tuple[type, Callable[[Any], None]]] = {}
        self._replay_wake = asyncio.Event()
        self._replayer: asyncio.Task | None = None
        self._gate = SessionGate()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"zing-wa{connection_id}")
        # Messages with media, in order among themselves, off neonize's event thread; a daemon
        # thread, so a stalled download never holds up the exit.
        self._media: queue.SimpleQueue = queue.SimpleQueue()
        self._media_pending = 0
        self._downloads = threading.BoundedSemaphore(MAX_DOWNLOADS)
        self._media_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._client: Any = None
        self._inbound: EventDecoder | None = None
        self._outbound: Outbound | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._runner: asyncio.Task | None = None
        self._watchdog: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._pairing_ready = asyncio.Event()
        self._stopping = False
        self._halted = False
        self._end_reason = ""
        self._sessions = 0
        self._live_session: int | None = None
        self._last_qr = 0.0
        self._pair_code_issued = False
        self._established = False
        self._pairing = False           # this session showed a QR code and is not paired yet
        self._down_since: float | None = None
        self._busy_since: float | None = None
        self._stalled = False
        self._on_whatsapp: set[str] = set()   # chats whose account is known: they wrote, or were looked up
        self._accounts: dict[str, str] = {}   # chat -> the account JID, where the lookup said they differ
        self._sending: dict[str, asyncio.Task] = {}
        self._profiles: dict[str, tuple[float, dict]] = {}

    @property
    def _pair_hint(self) -> str:
        return f"pair again with `zingctl connections pair {self.connection_id}`"

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Return at once: connecting, pairing and reconnecting run in tasks."""
        if self._runner is not None and not self._runner.done():
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._pairing_ready = asyncio.Event()
        self._stopping = self._halted = False
        self._runner = self._spawn(self._run())
        if self._media_thread is None:
            self._media = queue.SimpleQueue()
            self._media_thread = threading.Thread(target=self._media_worker, args=(self._media,), daemon=True,
                                                  name=f"zing-wa{self.connection_id}-media")
            self._media_thread.start()
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = self._spawn(self._watch())
        if self._replayer is None or self._replayer.done():
            self._replay_wake = asyncio.Event()
            self._replayer = self._spawn(self._replay_parked())

    async def stop(self) -> None:
        """Disconnect and keep the session for the next start."""
        for task in (self._watchdog, self._replayer):
            if task is not None:
                task.cancel()
        await self._stop_runner()
        self._park_queued_media()
        self._media.put(None)  # the media worker ends after the one it is on
        self._media_thread = None
        self._store.close()
        try:
            await self._report("disconnected", "stopped")
        except Exception:
            log.exception("whatsapp connection %s: could not report the stop", self.connection_id)

    async def _run(self) -> None:
        """Connect, then reconnect with backoff, until stopped or halted."""
        problem = await self._call(self._session_problem)
        if problem:
            await self._halt("logged_out", f"{problem}; {self._pair_hint}")
            return
        client = await self._ensure_client()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), random.uniform(0, self._t.start_spread))
        while not (self._stopping or self._halted):
            await self._report("connecting", "connecting to WhatsApp")
            reason = await self._session(client)
            if self._stopping or self._halted:
                return
            delay = self._backoff.next()
            self.reconnects += 1
            await self._report("disconnected", f"{reason}; retrying in {delay:g}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _session_problem(self) -> str | None:
        return session_problem(self.session_path, self._store.paired_phone())

    async def _session(self, client: Any) -> str:
        """Run one whatsmeow session on its own thread; return why it ended."""
        self._end_reason = "the connection ended"
        self._pairing_ready.clear()
        self._pair_code_issued = False
        self._sessions += 1
        self._live_session = self._sessions
        self._established = self._pairing = False
        self._down_since = time.monotonic()
        try:
            await self._in_thread(client.connect, "session")
        except Exception as exc:
            return f"could not connect: {exc}"
        finally:
            self._live_session = None
            self._established = False
            self._gate.close(0)
        return self._end_reason

    def _establish(self) -> None:
        """The session's first callback: Go knows it now, calls for it may pass."""
        if not self._established and self._live_session is not None:
            self._established = True
            self._gate.open()

    async def _restart(self, reason: str, session: int | None) -> None:
        """End that session, unless it already ended; the runner reconnects after its backoff."""
        if session is None or session != self._live_session:
            return
        self._end_reason = reason
        await self._stop_session()

    async def _halt(self, state: str, reason: str, **extra: str | None) -> None:
        """Stop retrying: only an admin (pair, restart) brings the connection back."""
        self._halted = True
        self._wake.set()
        await self._report(state, reason, **extra)
        self._spawn(self._stop_session())

    async def _stop_runner(self) -> None:
        """Stop the session and wait for the runner; one not up yet is left to end on its own thread."""
        self._stopping = True
        self._wake.set()
        if self._runner is None or self._runner.done():
            return
        if self._live_session is not None and (self._pairing or not self._established):
            if not self._established:
                self._client.abandon()
            await self._stop_session()
            self._runner.cancel()  # dialling, or parked in FetchMe: its daemon thread holds nothing
            return
        await self._stop_session()
        await asyncio.wait({self._runner}, timeout=self._t.stop_timeout)
        if not self._runner.done():
            log.warning("whatsapp connection %s: session did not stop in time", self.connection_id)
            self._runner.cancel()

    async def _stop_session(self) -> None:
        """Stop a session that is up; disconnect a pairing (see the module docstring); leave a dial alone."""
        if self._client is None or not self._established:
            return
        ending = self._close_and_disconnect if self._pairing else self._close_and_stop
        await self._in_thread(ending, "stop")

    def _close_and_stop(self) -> None:
        self._gate.close(self._t.stop_timeout)
        self._client.stop()

    def _close_and_disconnect(self) -> None:
        self._gate.close(self._t.stop_timeout)
        self._client.disconnect()

    async def _ensure_client(self) -> Any:
        if self._client is None:
            self._client = await self._call(self._make_client)
        return self._client

    def _make_client(self) -> Any:
        client = self._factory(self.session_path)
        self._register(client)
        self._inbound = EventDecoder(download=self._download, pn_from_lid=self._pn_from_lid, local_id=self._store.local,
                                     media_dir=self.media_dir, max_media_bytes=self.max_media_bytes,
                                     group_name=self._groups.name)
        self._outbound = Outbound(lib=load(), upload=client.upload, remote_id=self._store.remote,
                                  own_jid=self._own_jid, max_media_bytes=self.max_media_bytes)
        return client

    # -------------------------------------------------------------- events

    def _register(self, client: Any) -> None:
        """One guarded handler per event type, registered before connect() as neonize requires.

        QR codes come from the qr callback (one code at a time, as whatsmeow
        times them), so QREv, which carries the whole batch, is not subscribed.
        Calls, group names and sync progress: ``whatsapp.events``.
        """
        ev = load().events
        extra = ExtraEvents(deliver=lambda msg: self._bridge(self.sink.message(self.connection_id, msg)),
                            learn=lambda pairs: self._bridge(self.sink.learn_ids(self.connection_id, pairs)),
                            group_info=lambda jid: self._within(self._t.lookup_timeout, "group", client.get_group_info,
                                                                jid))
        self._groups, self.sync = extra.groups, extra.sync
        on_thread = {
            ev.MessageEv: self._on_message, ev.UndecryptableMessageEv: self._on_undecryptable,
            ev.ReceiptEv: self._on_receipt, ev.StreamErrorEv: self._on_stream_error, **extra.handlers(ev),
        }
        # Events that carry what customers sent (not connection state or progress): parked when
        # their handling fails, replayed by the handler that commits them (a message with media
        # downloads in the replay, not on the media worker).
        self._replayers = {
            t.__name__: (t, handler) for t, handler in {
                **on_thread, ev.MessageEv: self._deliver}.items()
            if t not in (ev.StreamErrorEv, ev.OfflineSyncPreviewEv, ev.OfflineSyncCompletedEv)}
        on_loop = {
            ev.PairStatusEv: self._paired, ev.ConnectedEv: self._connected, ev.DisconnectedEv: self._disconnected,
            ev.ConnectFailureEv: self._connect_failed, ev.LoggedOutEv: self._logged_out,
            ev.TemporaryBanEv: self._banned, ev.StreamReplacedEv: self._replaced,
            ev.KeepAliveTimeoutEv: self._keepalive_timeout, ev.KeepAliveRestoredEv: self._keepalive_restored,
            ev.ClientOutdatedEv: self._outdated,
        }
        for event_type, handler in on_thread.items():
            client.event(event_type)(self._guard(event_type.__name__, handler))
        for event_type, coroutine in on_loop.items():
            client.event(event_type)(self._guard(event_type.__name__, partial(self._on_loop, coroutine)))
        client.event.qr(self._guard("QR", self._on_qr))

    def _guard(self, name: str, handler: Callable[[Any], None]) -> Callable[[Any, Any], None]:
        """neonize swallows handler exceptions; count, log and park them instead."""
        def guarded(_client: Any, event: Any) -> None:
            self._establish()
            self._busy_since = time.monotonic()
            try:
                handler(event)
            except Exception:
                self._count_failure()
                log.exception("whatsapp connection %s: %s handler failed", self.connection_id, name)
                self._park(name, event)
            finally:
                self._busy_since = None
        return guarded

    def _park(self, name: str, event: Any) -> None:
        """Keep an event whose handling failed, if it carries something to commit."""
        if name in self._replayers and self._parking.park(name, event.SerializePartialToString()):
            log.warning("whatsapp connection %s: %s parked; %d waiting for a replay",
                        self.connection_id, name, self._parking.count)

    def _park_queued_media(self) -> None:
        """At a stop, messages still waiting for their download are parked, not left in memory."""
        while True:
            try:
                event = self._media.get_nowait()
            except queue.Empty:
                return
            if event is not None:
                self._park(type(event).__name__, event)
                with self._lock:
                    self._media_pending -= 1

    def _replay(self, kind: str, data: bytes) -> None:
        event_type, handler = self._replayers[kind]
        handler(event_type.FromString(data))

    async def _replay_parked(self) -> None:
        """Hand parked events to the daemon again while the number is up, backing off while they fail."""
        backoff = Backoff(self._t.replay_initial, self._t.replay_max)
        while not self._stopping:
            delay = self._t.replay_initial
            if self._parking.count and self._inbound is not None and self.state in LIVE_STATES:
                if await self._in_thread(partial(self._parking.replay, self._replay), "replay"):
                    delay = backoff.next()
                else:
                    backoff.reset()
            self._replay_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._replay_wake.wait(), delay)

    def _count_failure(self) -> None:
        with self._lock:
            self.handler_failures += 1

    def _bridge(self, coro: Coroutine) -> Any:
        """Run a coroutine on the daemon loop and wait for it, from neonize's thread."""
        if threading.get_ident() == self._loop_thread:
            coro.close()
            raise RuntimeError("neonize events must be dispatched off the event loop thread")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._t.sink_timeout)

    def _on_loop(self, coroutine: Callable[[Any], Coroutine], event: Any) -> None:
        self._bridge(coroutine(event))

    def _on_message(self, event: Any) -> None:
        """A message with media waits for its download on the media worker; the next text does not wait."""
        fields = content_fields(unwrap(event.Message))
        if fields and fields[0][0] in MEDIA_TYPES:
            with self._lock:
                self._media_pending += 1
            self._media.put(event)
        else:
            self._deliver(event)

    def _media_worker(self, media: queue.SimpleQueue) -> None:
        while (event := media.get()) is not None:
            try:
                self._deliver(event)
            except Exception:
                self._count_failure()
                log.exception("whatsapp connection %s: a message with media failed", self.connection_id)
                self._park(type(event).__name__, event)
            finally:
                with self._lock:
                    self._media_pending -= 1

    def media_pending(self) -> int:
        """Messages with media received and not yet handed to the daemon."""
        return self._media_pending

    def _deliver(self, event: Any) -> InboundMessage | None:
        msg = self._inbound.message(event)
        if msg is None:
            return None
        if not msg.is_group:
            self._on_whatsapp.add(msg.chat)
        if msg.media is not None and msg.media.retryable:
            self._store.keep_media_event(msg.wa_id, event.SerializePartialToString())
        self._bridge(self.sink.message(self.connection_id, msg))
        return msg

    def _on_undecryptable(self, event: Any) -> None:
        msg = self._inbound.undecryptable(event)
        if msg is not None:
            self._bridge(self.sink.message(self.connection_id, msg))

    def _on_receipt(self, event: Any) -> None:
        receipt = self._inbound.receipt(event)
        if receipt is not None:
            self._bridge(self.sink.receipt(self.connection_id, receipt))

    def _on_stream_error(self, event: Any) -> None:
        log.warning("whatsapp connection %s: stream error %s", self.connection_id, event.Code)

    def _on_qr(self, code: bytes) -> None:
        self._pairing = True
        self._last_qr = time.monotonic()
        self._bridge(self._qr(code.decode()))

    def _download(self, field: str, media: Any) -> bytes:
        """On a daemon thread of its own, given up after ``media_timeout``.

        whatsmeow's download takes no deadline from neonize, so a stalled CDN is
        not interrupted: its thread ends whenever Go returns, and the message is
        stored at once with a media error (an agent can retry it later).
        """
        if not self._downloads.acquire(timeout=self._t.media_timeout):
            raise TimeoutError(f"{MAX_DOWNLOADS} downloads already stalled")
        message = load().waE2E.Message(**{field: media})
        return self._within(self._t.media_timeout, "download", self._client.download_any, message,
                            done=self._downloads.release)

    def _within(self, seconds: float, name: str, fn: Callable, *args: Any,
                done: Callable[[], None] | None = None) -> Any:
        """A Go call from the event path, given up after ``seconds``: it runs on a daemon thread of its
        own, since whatsmeow takes no deadline from neonize and a stalled call can't be interrupted
        (the thread ends whenever Go returns; ``done`` runs then)."""
        result: Future = Future()

        def run() -> None:
            try:
                result.set_result(self._gated(fn, args))
            except BaseException as exc:
                result.set_exception(exc)
            finally:
                if done is not None:
                    done()

        threading.Thread(target=run, name=f"zing-wa{self.connection_id}-{name}", daemon=True).start()
        try:
            return result.result(seconds)
        except TimeoutError:
            raise TimeoutError(f"timed out after {seconds:g}s") from None

    def _pn_from_lid(self, lid: Any) -> Any:
        return self._gated(self._client.get_pn_from_lid, (lid,))

    def _live(self) -> bool:
        return not (self._stopping or self._halted)

    async def _qr(self, code: str) -> None:
        self._pairing_ready.set()
        if self._live() and not self._pair_code_issued:
            await self._report("pairing", "scan the QR code: WhatsApp > Linked devices > Link a device", qr=code)

    async def _paired(self, event: Any) -> None:
        if enum_name(event, "Status") != "SUCCESS":
            await self._report("pairing", f"pairing failed: {event.Error or 'no reason given'}")
            return
        self.phone, self._pairing = event.ID.User, False
        await self._call(self._store.set_paired_phone, self.phone)
        await self._report("connecting", f"paired with +{self.phone}; connecting", phone=self.phone)

    async def _connected(self, _event: Any) -> None:
        if not self._live():
            return
        self._backoff.reset()
        self._down_since = None
        self.phone = await self._own_phone() or self.phone
        if self.phone:
            await self._call(self._store.set_paired_phone, self.phone)
        await self._report("connected", "", phone=self.phone or None)
        self._replay_wake.set()

    def _own_jid(self) -> str:
        return f"{self.phone}@s.whatsapp.net" if self.phone else ""

    async def _own_phone(self) -> str:
        try:
            me = await self._go(self._client.get_me)
        except Exception as exc:
            log.warning("whatsapp connection %s: could not read the own number: %s", self.connection_id, exc)
            return ""
        return me.JID.User

    async def _disconnected(self, _event: Any) -> None:
        """whatsmeow is already reconnecting this session: watch, don't interfere."""
        if self._live():
            self._down_since = self._down_since or time.monotonic()
            await self._report("disconnected", "connection lost; WhatsApp client reconnecting")

    async def _connect_failed(self, event: Any) -> None:
        if self._live():
            self._down_since = self._down_since or time.monotonic()
            await self._report("disconnected", f"WhatsApp refused the connection ({enum_name(event, 'Reason')}: "
                                               f"{event.Message}); WhatsApp client retrying")

    async def _logged_out(self, event: Any) -> None:
        if not self._halted:
            why = enum_name(event, "Reason") or "no reason given"
            lock_or_ban = logout_state(why)
            if lock_or_ban is not None:  # their advice is not "pair again" (base.ADVICE)
                await self._halt(*lock_or_ban)
                return
            await self._halt("logged_out", f"WhatsApp logged this device out ({why}); {self._pair_hint}")

    async def _banned(self, event: Any) -> None:
        ends = datetime.fromtimestamp(time.time() + event.Expire, UTC)
        await self._halt("banned", (
            f"temporarily banned by WhatsApp ({enum_name(event, 'Code') or 'no reason given'}); the ban ends in "
            f"{_duration(event.Expire)} (about {ends:%Y-%m-%d %H:%M} UTC); zing will not reconnect until an "
            "admin restarts the connection"))

    async def _replaced(self, _event: Any) -> None:
        await self._halt("disconnected", (
            "another client took over this session (another zingd, or a copy of its data dir?); not "
            "reconnecting, to avoid fighting it: restart the connection once the other client is gone"))

    async def _keepalive_timeout(self, event: Any) -> None:
        if self._live():
            self._down_since = self._down_since or time.monotonic()
            await self._report("degraded", f"keepalive timed out ({event.ErrorCount} in a row)")

    async def _keepalive_restored(self, _event: Any) -> None:
        if self._live():
            self._down_since = None
            await self._report("connected", "keepalive restored")

    async def _outdated(self, _event: Any) -> None:
        await self._halt("outdated", "WhatsApp rejected this client as outdated; upgrade neonize and restart zingd")

    # ------------------------------------------------------------- watchdog

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._t.watchdog_interval)
            try:
                await self._check()
            except Exception:
                self._count_failure()
                log.exception("whatsapp connection %s: watchdog check failed", self.connection_id)

    async def _check(self) -> None:
        if self._halted:
            return
        now = time.monotonic()
        if self.state == "pairing" and now - self._last_qr > self._t.pairing_timeout:
            await self._halt("disconnected", f"pairing timed out, no QR code was scanned; {self._pair_hint}")
        elif self._established and self._down_since is not None and now - self._down_since > self._t.stuck_after:
            await self._report("disconnected", f"no working connection for {now - self._down_since:.0f}s; "
                                               "starting a new session")
            await self._restart("the session stopped answering", self._live_session)
        elif self._busy_since is not None and now - self._busy_since > self._t.pipeline_stall:
            self._stalled = True
            await self._report("degraded", f"an event has been in handling for over {self._t.pipeline_stall:g}s")
        elif self._stalled and self._busy_since is None:
            self._stalled = False
            if self.state == "degraded":
                await self._report("connected", "events flow again")

    # ------------------------------------------------------------ commands

    async def send(self, msg: OutboundMessage) -> SendResult:
        """Send once per wa_id, even when the caller times out and retries.

        The attempt runs as its own task: a caller that stops waiting does not
        stop it, a retry while it runs waits for it, and a retry after it sent
        returns the recorded result.
        """
        task = self._sending.get(msg.wa_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._send_once(msg))
            self._sending[msg.wa_id] = task
            task.add_done_callback(partial(self._send_done, msg.wa_id))
        return await asyncio.shield(task)

    def _send_done(self, wa_id: str, task: asyncio.Task) -> None:
        self._sending.pop(wa_id, None)
        if not task.cancelled():
            task.exception()  # retrieved: the caller may have stopped waiting

    async def _send_once(self, msg: OutboundMessage) -> SendResult:
        done = await self._call(self._store.sent, msg.wa_id)
        if done is not None:
            log.info("message %s already went out as %s; not sending it again", msg.wa_id, done.remote)
            return SendResult(msg.wa_id, done.ts)
        self._jid(msg.chat)
        self._require_live()
        jid = self._jid(await self._account(msg.chat))
        try:
            ts = await self._go(self._send_now, jid, msg)
        except Exception as exc:
            raise message_send_error(exc, msg) from exc
        return SendResult(msg.wa_id, ts)

    def _send_now(self, jid: Any, msg: OutboundMessage) -> float:
        """Build, send, and record the id pair on this thread, even if the caller gave up waiting."""
        return self._outbound.send(self._client.send_message, jid, msg, self._store)

    async def _account(self, chat: str) -> str:
        """Where a message to ``chat`` goes: the JID of its WhatsApp account.

        A number not on WhatsApp would swallow the message silently, and a Brazilian mobile
        registered before the ninth digit is known to WhatsApp without it. So a phone chat zing
        has not heard from is looked up (a usync query, the kind of traffic that in bulk gets
        numbers banned: once per chat, remembered for 30 days in the sidecar); an account JID
        that differs goes to the daemon, whose contact then also answers to it.
        """
        if not chat.endswith("@s.whatsapp.net") or chat in self._on_whatsapp:
            return self._accounts.get(chat, chat)
        account = await self._call(self._store.account, chat)
        looked_up = account is None
        if looked_up:
            number = "+" + chat.partition("@")[0]
            try:
                found = await self._go(self._client.is_on_whatsapp, number)
            except Exception as exc:
                raise send_error(exc) from exc
            hit = next((r for r in found if r.IsIn), None)
            if hit is None:
                raise SendError(f"{number} is not on WhatsApp", retryable=False)
            account = jid_str(hit.JID) if hit.JID.User else chat
        if account != chat:
            self._accounts[chat] = account
            await self.sink.learn_ids(self.connection_id, [(chat, account)])
        if looked_up:  # remembered once the daemon was told: a failed telling is asked again
            await self._call(self._store.remember_account, chat, account)
        self._on_whatsapp.add(chat)
        return account

    async def fetch_media(self, wa_id: str) -> None:
        """Download again from the message as received (kept after its download failed) and hand it
        over again: the daemon puts the file on the stored message. Needs the number up: whatsmeow
        downloads through the session."""
        data = await self._call(self._store.media_event, wa_id)
        if data is None:
            raise LookupError("this number has no failed download of that message to try again (it was "
                              "fetched already, is over 30 days old, or its file is over the size limit)")
        self._require_live()
        event = load().events.MessageEv.FromString(data)
        msg = await self._in_thread(partial(self._deliver, event), "fetch")
        if msg is not None and msg.media is not None and msg.media.path:
            await self._call(self._store.drop_media_event, wa_id)  # it worked: nothing left to fetch

    async def mark_read(self, chat: str, wa_ids: list[str], sender: str = "") -> None:
        if not wa_ids:
            return
        chat_jid = self._jid(chat)
        sender_jid = self._jid(sender) if sender and chat.endswith("@g.us") else empty_jid()
        self._require_live()
        read = partial(self._client.mark_read, *wa_ids, chat=chat_jid, sender=sender_jid,
                       receipt=load().ReceiptType.READ)
        try:
            await self._go(read)
        except Exception as exc:
            raise send_error(exc) from exc

    async def typing(self, chat: str, composing: bool) -> None:
        """Best effort: a lost typing indicator is not worth an error."""
        try:
            self._require_live()
            lib = load()
            presence = lib.ChatPresence.CHAT_PRESENCE_COMPOSING if composing else lib.ChatPresence.CHAT_PRESENCE_PAUSED
            await self._go(self._client.send_chat_presence, self._jid(self._accounts.get(chat, chat)), presence,
                           lib.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT)
        except Exception as exc:
            log.debug("typing indicator to %s failed: %s", chat, exc)

    async def pair(self, phone: str | None = None) -> None:
        """QR codes (or, for ``phone``, a pairing code) arrive as "pairing" state changes."""
        paired = self.phone or await self._call(self._store.paired_phone)
        if self.state in LIVE_STATES or (paired and not self._halted):
            raise SendError(f"already paired with +{paired}; log out first", retryable=False)
        if self._halted or self._runner is None or self._runner.done():
            await self._fresh_start()
        if phone:
            await self._pair_code(phone)

    async def _fresh_start(self) -> None:
        await self._stop_runner()
        await self._call(self._discard_session)
        self.phone = ""
        await self.start()

    def _discard_session(self) -> None:
        """Pairing again: forget the old pairing; set an unreadable session file aside."""
        self._store.set_paired_phone("")
        problem = session_problem(self.session_path, "")
        if problem:
            aside = self.session_path.with_name(f"{self.session_path.name}.broken-{int(time.time())}")
            self.session_path.rename(aside)
            log.warning("whatsapp connection %s: %s; moved it to %s", self.connection_id, problem, aside)

    async def _pair_code(self, phone: str) -> None:
        digits = re.sub(r"\D", "", phone)
        if not 7 <= len(digits) <= 15:
            raise SendError(f"invalid phone number {phone!r}", retryable=False)
        try:
            await asyncio.wait_for(self._pairing_ready.wait(), self._t.pairing_timeout)
        except TimeoutError:
            raise SendError("WhatsApp did not offer pairing in time; try again", retryable=True) from None
        try:
            code = await self._go(self._client.PairPhone, digits, True)
        except Exception as exc:
            raise send_error(exc) from exc
        self._pair_code_issued = True
        await self._report("pairing", "enter the code on the phone: WhatsApp > Linked devices > "
                           "Link with phone number", pair_code=code)

    async def logout(self) -> None:
        """Unlink this device on WhatsApp; the session must be paired again."""
        if self.state in LIVE_STATES:
            try:
                await self._go(self._client.logout)
            except Exception as exc:
                raise send_error(exc) from exc
        elif self.phone and self.state != "logged_out":
            raise SendError("not connected: logging out must reach WhatsApp to unlink this device; connect "
                            "first, or remove it on the phone under Linked devices", retryable=True)
        self.phone = ""
        self._profiles.clear()
        await self._halt("logged_out", f"logged out by an admin; {self._pair_hint}")

    async def profile(self, jid: str) -> dict:
        """Push name and profile picture URL, cached (a picture lookup is a server query)."""
        cached = self._profiles.get(jid)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        target = self._jid(jid)
        self._require_live()
        info = await self._go(self._fetch_profile, jid, target)
        self._profiles[jid] = (time.monotonic() + self._t.profile_ttl, info)
        return info

    def _fetch_profile(self, jid: str, target: Any) -> dict:
        return {
            "jid": jid,
            "push_name": _quietly(lambda: self._client.contact.get_contact(target).PushName, ""),
            "picture_url": _quietly(lambda: self._client.get_profile_picture(target).URL or None, None),
        }

    def health(self) -> dict:
        return {
            **super().health(), "phone": self.phone, "handler_failures": self.handler_failures,
            "reconnects": self.reconnects, "next_retry_delay": self._backoff.current,
            "down_for": round(time.monotonic() - self._down_since, 1) if self._down_since is not None else None,
            "media_pending": self._media_pending, "parked": self._parking.count,
            "replayed": self._parking.replayed, "lost": self._parking.lost,
        }

    # ------------------------------------------------------------- helpers

    async def _report(self, state: str, reason: str = "", **extra: str | None) -> None:
        if (state, reason) == (self.state, self.reason) and not any(extra.values()):
            return
        log.info("whatsapp connection %s: %s%s", self.connection_id, state, f" ({reason})" if reason else "")
        await self._set_state(state, reason, **extra)

    def _jid(self, text: str) -> Any:
        try:
            return to_jid(text)
        except ValueError as exc:
            raise SendError(str(exc), retryable=False) from None

    def _require_live(self) -> None:
        if self._client is None or self.state not in LIVE_STATES:
            detail = f": {self.reason}" if self.reason else ""
            raise SendError(f"WhatsApp is {self.state}{detail}", retryable=True)

    def _spawn(self, coro: Coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._count_failure()
            log.error("whatsapp connection %s: background task failed", self.connection_id,
                      exc_info=task.exception())

    def _call(self, fn: Callable, *args: Any) -> asyncio.Future:
        """A blocking call on the channel's executor (not the daemon's default one)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    def _go(self, fn: Callable, *args: Any) -> asyncio.Future:
        """A Go call: on the executor, through the session gate."""
        return self._call(self._gated, fn, args)

    def _gated(self, fn: Callable, args: tuple) -> Any:
        with self._gate.call(), GATE.shared():
            return fn(*args)

    def _in_thread(self, fn: Callable[[], Any], name: str) -> asyncio.Future:
        """Run on a fresh thread: for calls that block for long (the session) or must not queue (stop)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if not future.done():
                future.set_exception(error) if error is not None else future.set_result(result)

        def run() -> None:
            try:
                result, error = fn(), None
            except BaseException as exc:
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                loop.call_soon_threadsafe(settle, result, error)

        threading.Thread(target=run, name=f"zing-wa{self.connection_id}-{name}", daemon=True).start()
        return future


def _quietly(fetch: Callable[[], Any], default: Any) -> Any:
    """Profile data is optional (hidden pictures, unknown contacts): absent, not an error."""
    try:
        return fetch()
    except Exception as exc:
        log.debug("profile lookup failed: %s", exc)
        return default
