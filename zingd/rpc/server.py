"""The Unix-socket JSON-RPC server: framing, dispatch, auth, event delivery.

Each client connection is a ``Session``. Requests run as tasks (bounded per
session), so one slow call never blocks the client's other calls, and a client
that disconnects mid-request only loses its own answer. Events are written
straight to the transport; a subscriber whose unread output grows past a bound
is told it lagged, and past a hard bound is dropped alone.

What a connection can cost is bounded before anyone knows who it is: a frame's
size and nesting, a batch's entries and reply bytes (a batch yields between its
entries, so it never holds the loop), and its unread output: past
``reply_buffer`` a reply waits, and so does the reading of the next frame, until
the client reads. A client that pipelines requests and never reads holds that
buffer and its parked requests, and nothing more.

Sessions follow committed events, not the handlers that caused them: the server
taps the bus, and a ``token.revoked`` closes the connections using that token, a
``user.updated`` that disables a user closes theirs (one that may change a role
reloads their actors), a ``tenant.updated`` that suspends a tenant closes its
users' connections, and ``queue.*`` events move the queue memberships agents act
with. Events are published before the writing call hears back, so by the time a
handler answers, every session already reflects what it committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import socket
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from zingd import __version__
from zingd.actor import RANK, Actor
from zingd.bus import Event, Subscriber
from zingd.errors import (
    INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR,
    Forbidden, Unauthenticated, ZingError,
)
from zingd.rpc import protocol, socket_path
from zingd.rpc.registry import REGISTRY, Registry
from zingd.services.permissions import PUBLIC
from zingd.services.presence import Presence

if TYPE_CHECKING:
    from zingd.bus import Bus
    from zingd.config import RpcSettings
    from zingd.rpc.parts import Parts
    from zingd.services.auth import Auth
    from zingd.services.events import EventLog

log = logging.getLogger(__name__)
_session_ids = itertools.count(1)
_sub_ids = itertools.count(1)


class Call:
    """What a method handler gets: the daemon's parts (``call.app``), the session and the actor."""

    __slots__ = ("app", "session", "after_response", "request_id")

    def __init__(self, app: Parts, session: Session, request_id: Any = None) -> None:
        self.app = app
        self.session = session
        self.request_id = request_id  # the caller's id, for notifications that belong to this call (copilot.delta)
        self.after_response = None  # run once the response is written (event replay)

    @property
    def actor(self) -> Actor:
        return self.session.actor  # type: ignore[return-value]


class Subscription:
    def __init__(self, session: Session, sid: int, subscriber: Subscriber) -> None:
        self.session = session
        self.id = sid
        self.subscriber = subscriber
        self.replaying: list[Event] | None = []  # live events held back during replay
        self.last_seq = 0
        self.lagged_from: int | None = None

    def deliver(self, event: Event) -> None:
        if self.replaying is not None:
            self.replaying.append(event)
            return
        self.session.send_event(self, event)


class Session:
    def __init__(self, server: RpcServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.id = next(_session_ids)
        self.server = server
        self.reader = reader
        self.writer = writer
        self.actor: Actor | None = None
        self.peer_uid: int | None = None
        self.subscriptions: dict[int, Subscription] = {}
        self.tasks: set[asyncio.Task] = set()
        self.slots = asyncio.Semaphore(server.settings.max_inflight_per_client)
        self.closed = False
        self.reloading: asyncio.Task | None = None  # a fresh actor being read (after a role change)
        self.batching = asyncio.Lock()  # one batch at a time: their replies are bounded together
        # drain() waits while unread output is past reply_buffer (events never wait: they lag instead)
        writer.transport.set_write_buffer_limits(high=server.settings.reply_buffer)

    # -- output ------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.closed:
            return
        transport = self.writer.transport
        if transport.get_write_buffer_size() > self.server.settings.subscriber_hard_limit:
            log.warning("session %d stopped reading; dropping it", self.id)
            self.close()
            return
        self.writer.write(data)

    def send(self, msg: dict[str, Any]) -> None:
        if not self.closed:
            self.write(protocol.encode(msg))

    async def drained(self) -> None:
        """Return once the client's unread output is under ``reply_buffer`` (or it has gone), reading
        nothing from it meanwhile: what it sends waits in the kernel, then its writes block, instead of
        piling up in the reader (up to twice the frame limit). The first waiter pauses reading and
        resumes it; one that finds it paused (by another, or by the reader's own flow control) doesn't."""
        transport = self.writer.transport
        if self.closed or transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[0]:
            return  # under the low mark: writing isn't paused
        held = transport.is_reading()
        if held:
            transport.pause_reading()
        try:
            await self.writer.drain()
        except OSError:
            pass
        finally:
            if held and not self.closed:
                transport.resume_reading()
        if transport.is_closing():  # it went without reading: the replies waiting for it are dropped
            self.close()

    def send_event(self, sub: Subscription, event: Event) -> None:
        if self.closed:
            return
        buffered = self.writer.transport.get_write_buffer_size()
        limit = self.server.settings.subscriber_buffer
        if sub.lagged_from is not None:
            if buffered > limit // 2:
                return
            notice = Event(0, event.tenant_id, None, "lagged", event.ts,
                           {"missed_from": sub.lagged_from, "missed_to": event.seq - 1,
                            "hint": "resubscribe with since_seq to catch up"})
            self.write(notice.frame(sub.id))
            sub.lagged_from = None
        elif buffered > limit:
            sub.lagged_from = event.seq
            return
        sub.last_seq = event.seq
        self.write(event.frame(sub.id))

    def forgo_os_user(self) -> None:
        """Act as nobody until a login, and never as the peer's OS user: what a console served to
        browsers asks (``rpc.hello`` with ``os_user`` false), since it runs as the server's OS user and
        its users are not. The peer-uid login is dropped (a password or token login stays), and so is the
        peer uid, for the rest of the connection: no ``auth.bootstrap``, no operator status, and its failed
        logins count in the bucket of uid-less peers, not in the OS user's own."""
        if self.actor is not None and self.actor.token_id is None:
            self.actor = None
        self.peer_uid = None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sub in self.subscriptions.values():
            self.server.bus.unsubscribe(sub.subscriber)
        self.subscriptions.clear()
        self.writer.transport.abort()

    # -- subscriptions -----------------------------------------------------
    async def subscribe(self, call: Call, tenant_id: int, topics: frozenset[str], since_seq: int | None,
                        visible=None) -> dict[str, Any]:
        sub = Subscription(self, next(_sub_ids), None)  # type: ignore[arg-type]
        sub.subscriber = Subscriber(tenant_id, topics, sub.deliver, visible)
        self.subscriptions[sub.id] = sub
        bus = self.server.bus
        bus.subscribe(sub.subscriber)
        head = bus.last_seq
        replay: list[Event] = []
        resync = False
        if since_seq is not None:
            replay, resync = await self.server.events.replay(tenant_id, since_seq, head)
        # Runs after this call's response is written: the response, then replay, then live.
        def flush() -> None:
            held, sub.replaying = sub.replaying or [], None
            if resync:
                self.write(Event(0, tenant_id, None, "lagged", 0.0, {
                    "missed_from": since_seq + 1, "resync": True,
                    "hint": "events before this point were pruned; reload your view",
                }).frame(sub.id))
            last = since_seq or 0
            for event in (*replay, *held):  # asked-for history: bounded by the hard limit only
                if event.seq > last and sub.subscriber.wants(event):
                    sub.last_seq = event.seq
                    self.write(event.frame(sub.id))
                    last = event.seq
        call.after_response = flush
        return {"subscription": sub.id, "seq": head}

    def unsubscribe(self, sid: int) -> bool:
        sub = self.subscriptions.pop(sid, None)
        if sub is None:
            return False
        self.server.bus.unsubscribe(sub.subscriber)
        return True


class RpcServer:
    def __init__(self, parts: Parts, auth: Auth, bus: Bus, events: EventLog, settings: RpcSettings, path: Path,
                 registry: Registry = REGISTRY) -> None:
        self.parts, self.auth, self.bus, self.events, self.settings = parts, auth, bus, events, settings
        self.path = path
        self.registry = registry
        self.sessions: set[Session] = set()
        self._server: asyncio.base_events.Server | None = None
        self._bound: tuple[int, int] | None = None  # the socket file this server made (device, inode)
        self.calls = 0
        # a user whose last connection closes goes offline after a grace (services/presence.py)
        self.presence = Presence(parts.db, settings.presence_grace_s, self._connected)
        bus.tap(self.on_event)
        registry.discover(__version__)  # built here, not inside the first caller's request (~50 ms of loop)

    async def start(self) -> None:
        socket_path.claim(self.path)
        limit = self.settings.frame_limit
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=limit,
                                                       backlog=self.settings.backlog)
        self._bound = socket_path.bound(self.path)
        await self.presence.start()

    def _connected(self, user_id: int) -> bool:
        """Whether any connection is logged in as this user now."""
        return any(s.actor is not None and s.actor.user_id == user_id for s in self.sessions)

    # -- sessions follow committed events ----------------------------------
    def on_event(self, event: Event) -> None:
        """Bus tap (runs as each committed event is published, before its writer hears back)."""
        kind, data = event.type, event.data
        if kind == "token.revoked":
            token_id = data["token"]["id"]
            self._drop(lambda actor: actor.token_id == token_id)
        elif kind == "user.updated":
            user = data["user"]
            if "enabled" in user and not user["enabled"]:
                self._drop(lambda actor: actor.user_id == user["id"])
            elif "role" in user:  # an admin's edit (not a status change): role and name read afresh
                self._reload(lambda actor: actor.user_id == user["id"])
        elif kind == "tenant.updated" and data["tenant"]["status"] == "suspended":
            # a suspended tenant's users are held out (a superadmin, who reactivates it, is not)
            self._drop(lambda actor: actor.tenant_id == event.tenant_id and not actor.is_superadmin)
        elif kind in ("queue.created", "queue.updated", "queue.deleted"):
            queue = data["queue"]
            members = frozenset(queue.get("members") or ()) if kind != "queue.deleted" else frozenset()
            self._move_queue(event.tenant_id, queue["id"], members)

    def _drop(self, match) -> None:
        """Close the sessions whose actor matches (a revoked token, a disabled user)."""
        for session in [s for s in self.sessions if s.actor is not None and match(s.actor)]:
            session.close()

    def _move_queue(self, tenant_id: int, queue_id: int, members: frozenset[int]) -> None:
        """A queue's members are now ``members``: each session of the tenant has the queue or not."""
        for session in self.sessions:
            actor = session.actor
            if actor is None or actor.tenant_id != tenant_id:
                continue
            queue_ids = actor.queue_ids | {queue_id} if actor.user_id in members else actor.queue_ids - {queue_id}
            if queue_ids != actor.queue_ids:
                session.actor = dataclasses.replace(actor, queue_ids=frozenset(queue_ids))

    def _reload(self, match) -> None:
        """Read the matching sessions' actors afresh; each session's next call waits for it."""
        for session in [s for s in self.sessions if s.actor is not None and match(s.actor)]:
            before, prior = session.actor, session.reloading

            async def reload(session: Session = session, before=before, prior=prior) -> None:
                if prior is not None:
                    await asyncio.gather(prior, return_exceptions=True)
                fresh = await self.auth.reload(before)
                now = session.actor
                if now is not None and (now.user_id, now.token_id) == (before.user_id, before.token_id):
                    # queue memberships are kept current by queue.* events, also during this read
                    session.actor = fresh and dataclasses.replace(fresh, queue_ids=now.queue_ids)

            session.reloading = task = asyncio.ensure_future(reload())
            task.add_done_callback(lambda t, session=session: _settled(session, t))

    async def stop(self) -> None:
        await self.presence.stop()  # the connections closing now are the daemon's doing
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            for task in list(session.tasks):
                task.cancel()
            session.close()
        if self._server is not None:
            await self._server.wait_closed()
        if self._bound is not None:
            socket_path.release(self.path, self._bound)

    # -- per connection ----------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        try:
            session.peer_uid = _peer_uid(writer)
            session.actor = await self.auth.actor_for_uid(session.peer_uid)
            while not session.closed:
                await session.drained()  # a client that doesn't read isn't read from
                if writer.is_closing():  # its replies can't be written: the frames it left aren't run
                    break
                frame = await self._read_frame(reader)
                if frame is None:
                    break
                if frame is _TOO_LARGE:
                    session.send(protocol.error(
                        None, INVALID_REQUEST,
                        f"frame larger than {self.settings.frame_limit} bytes; send files in chunks "
                        "(media.upload)",
                        {"kind": "frame_too_large", "limit": self.settings.frame_limit}))
                    continue
                if not frame.strip():
                    continue
                await session.slots.acquire()
                task = asyncio.create_task(self._frame(session, frame))
                session.tasks.add(task)
                task.add_done_callback(session.tasks.discard)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.sessions.discard(session)
            session.close()
            if session.actor is not None:
                self.presence.left(session.actor.user_id)

    async def _read_frame(self, reader: asyncio.StreamReader) -> bytes | object | None:
        try:
            return await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            return e.partial or None
        except asyncio.LimitOverrunError as e:
            # Throw the oversized frame away up to its newline, then answer with an error.
            await reader.readexactly(e.consumed)
            while True:
                try:
                    await reader.readuntil(b"\n")
                    return _TOO_LARGE
                except asyncio.LimitOverrunError as more:
                    await reader.readexactly(more.consumed)
                except asyncio.IncompleteReadError:
                    return None

    async def _frame(self, session: Session, frame: bytes) -> None:
        try:
            try:
                msg = protocol.loads(frame, self.settings.max_depth, self.settings.max_batch)
            except protocol.Refused as e:
                session.send(protocol.error(None, INVALID_REQUEST, str(e), {"kind": e.kind, "limit": e.limit}))
                return
            except (msgspec.DecodeError, UnicodeDecodeError) as e:
                session.send(protocol.error(None, PARSE_ERROR, f"parse error: {e}"))
                return
            if isinstance(msg, list):
                if not msg:
                    session.send(protocol.error(None, INVALID_REQUEST, "empty batch"))
                else:
                    async with session.batching:
                        await self._batch(session, msg)
                return
            reply, hook = await self._dispatch(session, msg)
            if reply is not None:
                await session.drained()
                session.send(reply)
            if hook is not None:
                hook()
        finally:
            session.slots.release()

    async def _batch(self, session: Session, entries: list[Any]) -> None:
        """Run a batch's entries in turn, letting the loop serve others between them. Once the reply
        passes ``batch_reply_limit`` bytes the requests left are not run, and say so: the client sends
        them again, in another batch (notifications still run: they add nothing to the reply)."""
        limit = self.settings.batch_reply_limit
        replies: list[bytes] = []
        hooks = []
        size = 0
        for i, entry in enumerate(entries):
            if i:
                await asyncio.sleep(0)
            if size > limit and _wants_reply(entry):
                reply, hook = protocol.error(entry["id"], INVALID_REQUEST,
                                             f"not run: this batch's reply passed {limit} bytes; send it again",
                                             {"kind": "batch_reply_too_large", "limit": limit}), None
            else:
                reply, hook = await self._dispatch(session, entry)
            if reply is not None:
                replies.append(protocol.encoder.encode(reply))
                size += len(replies[-1])
            if hook is not None:
                hooks.append(hook)
        if replies:
            await session.drained()
            session.write(b"[" + b",".join(replies) + b"]\n")
        for hook in hooks:
            hook()

    async def _dispatch(self, session: Session, msg: Any) -> tuple[dict[str, Any] | None, Any]:
        """Run one request; return its reply (None for a notification) and any after-response hook."""
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0" or not isinstance(msg.get("method"), str):
            rid = msg.get("id") if isinstance(msg, dict) else None
            return protocol.error(rid if protocol.valid_id(rid) else None, INVALID_REQUEST,
                                  "not a JSON-RPC 2.0 request: need jsonrpc '2.0' and a method name"), None
        is_notification = "id" not in msg
        rid = msg.get("id")
        if not is_notification and not protocol.valid_id(rid):
            return protocol.error(None, INVALID_REQUEST, "id must be a string, a number or null"), None
        call = Call(self.parts, session, rid)
        reply = await self._call(call, rid, msg["method"], msg.get("params"))
        return (None if is_notification else reply), call.after_response

    async def call(self, call: Call, name: str, params: Any) -> dict[str, Any]:
        """Run one method for another transport (HTTP) with the socket's checks and error mapping."""
        return await self._call(call, None, name, params)

    async def _call(self, call: Call, rid: Any, name: str, params: Any) -> dict[str, Any]:
        method = self.registry.methods.get(name)
        if method is None:
            return protocol.error(rid, METHOD_NOT_FOUND, f"no method {name!r}; rpc.discover lists them",
                                  {"kind": "method_not_found"})
        self.calls += 1
        started = time.perf_counter()
        try:
            return await self._run(call, rid, name, method, params)
        finally:
            self.parts.metrics.rpc_seconds.labels(name).observe(time.perf_counter() - started)

    async def _run(self, call: Call, rid: Any, name: str, method, params: Any) -> dict[str, Any]:
        session = call.session
        reloading = getattr(session, "reloading", None)
        if reloading is not None:  # a role change committed: act with the new one
            await asyncio.gather(reloading, return_exceptions=True)
        try:
            if method.role != PUBLIC:
                if session.actor is None:
                    raise Unauthenticated("log in first: auth.login or auth.token")
                if RANK[session.actor.role] < RANK[method.role]:
                    raise Forbidden(f"{name} needs the {method.role} role; you are {session.actor.role}",
                                    need=method.role)
            if params is None:
                params = {}
            if not isinstance(params, dict):
                return protocol.error(rid, INVALID_PARAMS, "params must be an object (by name)",
                                      {"kind": "invalid_params"})
            try:
                args = msgspec.convert(params, method.params)
            except msgspec.ValidationError as e:
                return protocol.error(rid, INVALID_PARAMS, f"invalid params: {e}", {"kind": "invalid_params"})
            value = await method.handler(call, args)
            return protocol.result(rid, value)
        except ZingError as e:
            return protocol.app_error(rid, e)
        except OverflowError:  # an integer SQLite can't hold: a bad parameter, not our fault
            return protocol.error(rid, INVALID_PARAMS, "invalid params: a number is out of range (64-bit)",
                                  {"kind": "invalid_params"})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("method %s failed", name)
            return protocol.error(rid, INTERNAL_ERROR, f"internal error in {name}; see the daemon log",
                                  {"kind": "internal"})


_TOO_LARGE = object()


def _wants_reply(entry: Any) -> bool:
    """A well-formed request with an id: what a batch past its reply budget answers without running."""
    return (isinstance(entry, dict) and entry.get("jsonrpc") == "2.0" and isinstance(entry.get("method"), str)
            and "id" in entry and protocol.valid_id(entry["id"]))


def _settled(session: Session, task: asyncio.Task) -> None:
    if session.reloading is task:
        session.reloading = None
    if not task.cancelled() and task.exception() is not None:
        log.error("reloading the actor of session %d failed: %r", session.id, task.exception())


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", creds)[1]
