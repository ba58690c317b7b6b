"""The console's line to zingd: the RPC client, who is logged in, what the daemon offers.

Everything goes through ``zingd.rpc.client.Client``; the client reconnects and
resubscribes from its last sequence number by itself, the session only keeps
the token on it so a reconnect logs in again. ``ConsoleClient`` adds what the
assistant's streamed answers need: the notifications zingd sends for one call
(``copilot.delta``, naming the call's id in ``params.request``) reach that call's listener.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zingd.errors import Unauthenticated
from zingd.rpc import protocol
from zingd.rpc.client import Client, ConnectionLost, EventHandler, _raise_for

ClientFactory = Callable[..., Client]
Notice = Callable[[str, dict[str, Any]], None]  # (method, params) of a notification a call asked for
SUPERVISOR_ROLES = ("supervisor", "admin", "superadmin")
ADMIN_ROLES = ("admin", "superadmin")


class ConsoleClient(Client):
    """The RPC client, plus notifications routed to the call that asked for them.

    zingd sends a streamed call's pieces as notifications before its answer, on the same line, so
    every one reaches the listener before the call returns. ``Client`` drops notifications other
    than events; until it routes them itself this subclass does, with the client's own call path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listeners: dict[int, Notice] = {}

    async def _handle(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        if method is None or method == "event":
            await super()._handle(msg)
            return
        params = msg.get("params") or {}
        listener = self._listeners.get(params.get("request"))
        if listener is not None:
            listener(method, params)

    async def call_with_notices(self, method: str, params: dict[str, Any], on_notice: Notice) -> Any:
        """``call``, handing each notification that names this call's id to ``on_notice`` meanwhile."""
        if self._writer is None or not self._connected.is_set():
            raise ConnectionLost("not connected to zingd")
        rid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._listeners[rid] = on_notice
        self._writer.write(protocol.request(method, params, rid))
        try:
            reply = await fut
        finally:
            self._pending.pop(rid, None)
            self._listeners.pop(rid, None)
        return _raise_for(reply)


class Session:
    def __init__(self, socket: Path, on_state: Callable[[str], None],
                 client_factory: ClientFactory = ConsoleClient) -> None:
        self.socket = socket
        self.client = client_factory(socket, token=None, reconnect=True, on_state=on_state)
        self.user: dict[str, Any] = {}
        self.methods: frozenset[str] = frozenset()

    async def connect(self) -> None:
        await self.client.connect()

    async def resume(self, token: str) -> bool:
        """Log in with a stored token; False when the daemon no longer knows it."""
        try:
            self.user = await self.client.call("auth.token", {"token": token})
        except Unauthenticated:
            return False
        self.client.token = token
        return True

    async def login(self, email: str, password: str) -> str:
        out = await self.client.login(email, password)
        self.user = {**out["user"]}
        return out["token"]

    async def implicit(self) -> bool:
        """True when the daemon already knows us by our OS user (a linked account)."""
        try:
            self.user = await self.client.call("auth.whoami")
        except Unauthenticated:
            return False
        return True

    async def discover(self) -> None:
        out = await self.client.call("rpc.discover")
        self.methods = frozenset(m["name"] for m in out.get("methods", ()))

    def supports(self, method: str) -> bool:
        return method in self.methods

    @property
    def me(self) -> int:
        return self.user.get("id", 0)

    @property
    def supervisor(self) -> bool:
        return self.user.get("role") in SUPERVISOR_ROLES

    @property
    def admin(self) -> bool:
        return self.user.get("role") in ADMIN_ROLES

    async def call(self, method: str, params: dict[str, Any] | None = None, on_notice: Notice | None = None) -> Any:
        """A call; with ``on_notice``, the notifications zingd sends for it (a streamed answer's pieces) too."""
        if on_notice is not None:
            return await self.client.call_with_notices(method, params or {}, on_notice)
        return await self.client.call(method, params or {})

    async def upload(self, path: Path) -> dict[str, Any]:
        """Hand a file over (media.upload); the console opens it, with the user's own rights."""
        with open(path, "rb") as stream:
            return await self.client.upload(stream, path.name)

    async def subscribe(self, handler: EventHandler) -> int:
        return await self.client.subscribe(["tenant"], handler)

    async def close(self) -> None:
        await self.client.close()
