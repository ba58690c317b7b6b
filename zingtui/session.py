"""The console's line to zingd: the RPC client, who is logged in, what the daemon offers.

Everything goes through ``zingd.rpc.client.Client``; the client reconnects and
resubscribes from its last sequence number by itself, the session only keeps
the token on it so a reconnect logs in again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zingd.errors import Unauthenticated
from zingd.rpc.client import Client, EventHandler

ClientFactory = Callable[..., Client]
SUPERVISOR_ROLES = ("supervisor", "admin", "superadmin")
ADMIN_ROLES = ("admin", "superadmin")


class Session:
    def __init__(self, socket: Path, on_state: Callable[[str], None], client_factory: ClientFactory = Client) -> None:
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

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.client.call(method, params or {})

    async def upload(self, path: Path) -> dict[str, Any]:
        """Hand a file over (media.upload); the console opens it, with the user's own rights."""
        with open(path, "rb") as stream:
            return await self.client.upload(stream, path.name)

    async def subscribe(self, handler: EventHandler) -> int:
        return await self.client.subscribe(["tenant"], handler)

    async def close(self) -> None:
        await self.client.close()
