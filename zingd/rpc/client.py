"""The one client library for zingd's socket: async for zingtui and scripts,
plus a small blocking ``SyncClient`` for zingctl.

Importing it pulls in neither neonize nor the store: only the wire protocol.

    async with Client(path, token=token) as c:
        tickets = await c.call("ticket.list", {"status": "pending"})
        await c.subscribe(["tenant"], on_event)

On a lost connection the async client reconnects with backoff, logs in again
with its token and resubscribes from the last sequence number it saw, so a
subscriber misses nothing across a daemon restart.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from zingd.errors import ZingError, from_wire
from zingd.paths import default_socket_path
from zingd.rpc import protocol

READ_LIMIT = 64 << 20
UPLOAD_CHUNK = 512 << 10
"""Bytes per media.upload call: in base64 (4/3), with the envelope, well under the 1 MiB frame limit."""
EventHandler = Callable[[dict[str, Any]], Awaitable[None] | None]
Progress = Callable[[int], None]  # told the bytes of each chunk the daemon has taken


def _pieces(stream: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """A buffered binary stream in UPLOAD_CHUNK pieces, each with whether it is the last
    (an empty stream is one empty piece: the daemon then says the file is empty)."""
    piece = stream.read(UPLOAD_CHUNK)
    while True:
        after = stream.read(UPLOAD_CHUNK) if len(piece) == UPLOAD_CHUNK else b""
        yield piece, not after
        if not after:
            return
        piece = after


def _chunk(piece: bytes, last: bool, name: str, so_far: dict[str, Any] | None) -> dict[str, Any]:
    """media.upload's params for one piece: the first names the file, the others continue ``so_far``."""
    params: dict[str, Any] = {"data": base64.b64encode(piece).decode("ascii"), "done": last}
    if so_far is None:
        params["name"] = name
    else:
        params.update(upload_id=so_far["upload_id"], offset=so_far["size"])
    return params


class DaemonUnreachable(ConnectionError):
    """No zingd answers on the socket (zingctl exits 3)."""


class ConnectionLost(ConnectionError):
    """The daemon went away while a call was waiting for its answer."""


def _raise_for(reply: dict[str, Any]) -> Any:
    if "error" in reply:
        err = reply["error"] or {}
        raise from_wire(err.get("code", -32603), err.get("message", "error"), err.get("data"))
    return reply.get("result")


@dataclass
class _Sub:
    topics: list[str]
    handler: EventHandler
    last_seq: int | None
    server_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Client:
    def __init__(
        self,
        path: str | Path | None = None,
        token: str | None = None,
        reconnect: bool = True,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path) if path else default_socket_path()
        self.token = token
        self.reconnect = reconnect
        self.on_state = on_state
        self.user: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._on_reply: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._subs: list[_Sub] = []
        self._by_server_id: dict[int, _Sub] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._closing = False
        self._connected = asyncio.Event()

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connection --------------------------------------------------------
    async def connect(self) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.path), limit=READ_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise DaemonUnreachable(f"zingd is not running at {self.path} ({e.strerror})") from e
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read(reader))
        self._connected.set()
        if self.token:
            self.user = await self.call("auth.token", {"token": self.token})
        for sub in self._subs:
            await self._resubscribe(sub)
        self._state("connected")

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            try:
                await self._reader_task
            except (asyncio.CancelledError, Exception):
                pass

    def _state(self, state: str) -> None:
        if self.on_state is not None:
            self.on_state(state)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    msg = protocol.decoder.decode(line)
                except msgspec.DecodeError:
                    continue
                for one in msg if isinstance(msg, list) else [msg]:
                    await self._handle(one)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._lost()

    async def _handle(self, msg: dict[str, Any]) -> None:
        if msg.get("method") == "event":
            params = msg.get("params") or {}
            sub = self._by_server_id.get(params.get("subscription"))
            if sub is None:
                return
            if params.get("type") == "lagged" and not params.get("data", {}).get("resync"):
                asyncio.create_task(self._resubscribe(sub))  # catch up from the last seq we saw
            elif params.get("seq"):
                sub.last_seq = params["seq"]
            result = sub.handler(params)
            if asyncio.iscoroutine(result):
                await result
            return
        hook = self._on_reply.pop(msg.get("id"), None)
        if hook is not None:  # before the next line is read: replayed events follow this reply
            hook(msg)
        fut = self._pending.pop(msg.get("id"), None)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _lost(self) -> None:
        self._connected.clear()
        if self._writer is not None:
            self._writer.close()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionLost("zingd closed the connection"))
        self._pending.clear()
        self._on_reply.clear()
        self._by_server_id.clear()
        if self.reconnect and not self._closing:
            asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        self._state("reconnecting")
        delay = 0.1
        while not self._closing:
            try:
                await self.connect()
                return
            except (ConnectionError, OSError, ZingError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 3.0)

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    # -- calls -------------------------------------------------------------
    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        if self._writer is None or not self._connected.is_set():
            raise ConnectionLost("not connected to zingd")
        rid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._writer.write(protocol.request(method, params or {}, rid))
        try:
            reply = await asyncio.wait_for(fut, timeout) if timeout else await fut
        finally:
            self._pending.pop(rid, None)
        return _raise_for(reply)

    async def login(self, email: str, password: str) -> dict[str, Any]:
        out = await self.call("auth.login", {"email": email, "password": password})
        self.token = out["token"]
        self.user = out["user"]
        return out

    # -- events ------------------------------------------------------------
    async def subscribe(self, topics: list[str], handler: EventHandler, since_seq: int | None = None) -> int:
        """Subscribe; returns the daemon's current seq. Survives reconnects."""
        sub = _Sub(list(topics), handler, since_seq)
        self._subs.append(sub)
        return await self._resubscribe(sub)

    async def _resubscribe(self, sub: _Sub) -> int:
        if sub.server_id is not None:
            old, sub.server_id = sub.server_id, None
            if self._by_server_id.pop(old, None) is not None:  # still live on this connection: stop it
                self._writer.write(protocol.request("events.unsubscribe", {"subscription": old}, None))
        params: dict[str, Any] = {"topics": sub.topics}
        if sub.last_seq is not None:
            params["since_seq"] = sub.last_seq
        rid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut

        def bind(reply: dict[str, Any]) -> None:
            res = reply.get("result")
            if res:
                sub.server_id = res["subscription"]
                self._by_server_id[sub.server_id] = sub
        self._on_reply[rid] = bind
        self._writer.write(protocol.request("events.subscribe", params, rid))
        result = _raise_for(await fut)
        if sub.last_seq is None:
            sub.last_seq = result["seq"]
        return result["seq"]

    # -- files ---------------------------------------------------------------
    async def upload(self, stream: BinaryIO, name: str, progress: Progress | None = None) -> dict[str, Any]:
        """Hand a file over (media.upload): the caller opened it, with its own rights; the daemon
        never opens a path. Returns the finished upload, whose ``upload_id`` a send or import takes."""
        result = None
        for piece, last in _pieces(stream):
            result = await self.call("media.upload", _chunk(piece, last, name, result))
            if progress is not None:
                progress(len(piece))
        return result


class SyncClient:
    """A blocking client for one-shot commands (zingctl): no event loop needed."""

    def __init__(self, path: str | Path | None = None, token: str | None = None, timeout: float = 60.0) -> None:
        self.path = Path(path) if path else default_socket_path()
        self._ids = itertools.count(1)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError) as e:
            self._sock.close()
            raise DaemonUnreachable(f"zingd is not running at {self.path} ({e.strerror})") from e
        except OSError as e:
            self._sock.close()
            raise DaemonUnreachable(f"cannot reach zingd at {self.path}: {e}") from e
        self._file = self._sock.makefile("rb")
        self.events: list[dict[str, Any]] = []
        self.user: dict[str, Any] | None = None
        if token:
            self.user = self.call("auth.token", {"token": token})

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def _next(self) -> dict[str, Any]:
        line = self._file.readline()
        if not line:
            raise ConnectionLost("zingd closed the connection")
        return protocol.decoder.decode(line)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        rid = next(self._ids)
        self._sock.sendall(protocol.request(method, params or {}, rid))
        while True:
            msg = self._next()
            if msg.get("method") == "event":
                self.events.append(msg["params"])
                continue
            if msg.get("id") == rid:
                return _raise_for(msg)

    def iter_events(self) -> Iterator[dict[str, Any]]:
        """Events as they arrive (after a subscribe); blocks until the daemon goes away."""
        self._sock.settimeout(None)
        while self.events:
            yield self.events.pop(0)
        while True:
            msg = self._next()
            if msg.get("method") == "event":
                yield msg["params"]

    def upload(self, stream: BinaryIO, name: str, progress: Progress | None = None) -> dict[str, Any]:
        """Hand a file over (media.upload), as ``Client.upload`` does."""
        result = None
        for piece, last in _pieces(stream):
            result = self.call("media.upload", _chunk(piece, last, name, result))
            if progress is not None:
                progress(len(piece))
        return result
