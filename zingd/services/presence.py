"""Presence: a user is online only while one of their connections is.

A console that dies (kill -9, a lost laptop lid, a dropped SSH session) never says "offline";
left as it was, its agent would keep being handed tickets nobody sees. So the RPC server tells
``Presence`` when a connection logged in as someone closes; once a user has no connection left
and ``[rpc] presence_grace_s`` has passed with none coming back (a console reconnecting after a
network blip or a daemon restart keeps its agent), a user still online or away becomes offline:
out of auto-assignment, and ``user.updated`` tells the other consoles. Users left online by a
daemon that stopped get the same grace from the start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from zingd.store.db import Tx

if TYPE_CHECKING:
    from zingd.store.db import Database

log = logging.getLogger(__name__)


def went_away(tx: Tx, user_id: int) -> bool:
    """The user has no connection left: offline, said to the tenant (True), unless they already are."""
    user = tx.one("SELECT tenant_id, name, status FROM users WHERE id = ?", (user_id,))
    if user is None or user["status"] == "offline":
        return False
    tx.execute("UPDATE users SET status = 'offline', updated_at = ? WHERE id = ?", (tx.now, user_id))
    tx.audit(None, "user.presence_lost", "user", user_id, status="offline", was=user["status"],
             tenant_id=user["tenant_id"])
    tx.emit(user["tenant_id"], "user.updated", {"user": {"id": user_id, "name": user["name"], "status": "offline"}})
    return True


class Presence:
    """Grace timers of the users whose last connection closed; ``connected(user_id)`` is the
    server's answer to "has this user a connection now?"."""

    def __init__(self, db: Database, grace_s: float, connected: Callable[[int], bool]) -> None:
        self.db, self.grace_s, self.connected = db, grace_s, connected
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._stopped = False

    async def start(self) -> None:
        """Users the last run left online or away: each gets the grace to reconnect."""
        for row in await self.db.all("SELECT id FROM users WHERE status != 'offline'"):
            self.left(row["id"])

    def left(self, user_id: int) -> None:
        """A connection of ``user_id`` closed: if it was their last, start the grace."""
        if self._stopped or self.connected(user_id):
            return
        if (earlier := self._timers.pop(user_id, None)) is not None:
            earlier.cancel()  # back and gone again: the grace counts from now
        loop = asyncio.get_running_loop()
        self._timers[user_id] = loop.call_later(self.grace_s, self._expire, user_id)

    def _expire(self, user_id: int) -> None:
        self._timers.pop(user_id, None)
        if self._stopped or self.connected(user_id):
            return
        task = asyncio.ensure_future(self._offline(user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _offline(self, user_id: int) -> None:
        try:
            if await self.db.write(went_away, user_id):
                log.info("user %d has no connection left: offline", user_id)
        except Exception:  # the database is stopping or failed: its own handler says so
            log.warning("could not set user %d offline", user_id, exc_info=True)

    async def stop(self) -> None:
        """A stopping daemon closes every connection: nobody went away."""
        self._stopped = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await asyncio.gather(*self._tasks, return_exceptions=True)
