"""Owns the running channel of every connection: build, start, stop, restart.

It is also the sink its channels report to: it knows which tenant each connection
serves and its last state, and hands messages, receipts and states on to the inbound
flow (``services/inbound.py``), which stores them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from zingd.channels.base import AccountNotice, Channel, InboundMessage, Receipt, StateChange
from zingd.channels.sim import SimChannel
from zingd.errors import ChannelDown, NotFound
from zingd.services.media import media_dir

if TYPE_CHECKING:
    from pathlib import Path

    from zingd.config import SimSettings
    from zingd.services.inbound import Inbound
    from zingd.store.db import Database

log = logging.getLogger(__name__)


class Channels:
    def __init__(self, db: Database, inbound: Inbound, data_dir: Path, sim: SimSettings) -> None:
        self.db, self.inbound, self.data_dir, self.sim = db, inbound, data_dir, sim
        self._channels: dict[int, Channel] = {}
        self._tenants: dict[int, int] = {}
        self.last_change: dict[int, StateChange] = {}

    def ids(self) -> list[int]:
        return list(self._channels)

    def get(self, connection_id: int) -> Channel | None:
        return self._channels.get(connection_id)

    def require(self, connection_id: int) -> Channel:
        channel = self._channels.get(connection_id)
        if channel is None:
            raise ChannelDown(f"connection {connection_id} is not running", id=connection_id)
        return channel

    def is_connected(self, connection_id: int) -> bool:
        channel = self._channels.get(connection_id)
        return channel is not None and channel.state == "connected"

    async def message(self, connection_id: int, msg: InboundMessage) -> None:
        await self.inbound.message(self._tenants[connection_id], connection_id, msg)

    async def learn_ids(self, connection_id: int, pairs: list[tuple[str, str]]) -> None:
        """LID ↔ phone pairs a number learned (a history sync): contacts merge as they would for a message."""
        await self.inbound.learn_ids(self._tenants[connection_id], pairs)

    async def receipt(self, connection_id: int, receipt: Receipt) -> None:
        await self.inbound.receipt(connection_id, receipt)

    async def notice(self, connection_id: int, notice: AccountNotice) -> None:
        await self.inbound.notice(connection_id, notice)

    async def number_changed(self, connection_id: int, old: str, new: str) -> None:
        await self.inbound.number_changed(self._tenants[connection_id], old, new)

    async def state(self, connection_id: int, change: StateChange) -> None:
        self.last_change[connection_id] = change
        await self.inbound.state(connection_id, change)

    async def _build(self, row: dict[str, Any]) -> Channel:
        data = self.data_dir
        media = media_dir(data, row["tenant_id"])
        if row["kind"] == "cloud":
            from zingd.channels.cloud import account
            from zingd.channels.cloud.channel import CloudChannel

            found = await account.load(self.db, row["id"])
            if found is None:
                raise NotFound(f"cloud connection {row['id']} has no account", id=row["id"])
            return CloudChannel(row["id"], self, found, media, data / "cloud" / f"connection-{row['id']}.db")
        if row["kind"] == "sim":
            return SimChannel(row["id"], self, data / "sim" / f"connection-{row['id']}.jsonl", media, self.sim)
        from zingd.channels.whatsapp.channel import NeonizeChannel  # loads the Go library only when needed

        return NeonizeChannel(row["id"], self, data / "sessions" / f"connection-{row['id']}.db", media)

    async def start_all(self) -> None:
        for row in await self.db.all("SELECT id, tenant_id, kind FROM connections ORDER BY id"):
            await self.start(row)

    async def start(self, row: dict[str, Any]) -> Channel:
        if row["id"] in self._channels:
            return self._channels[row["id"]]
        channel = await self._build(row)
        self._channels[row["id"]] = channel
        self._tenants[row["id"]] = row["tenant_id"]
        try:
            await channel.start()
        except Exception as e:  # one broken number must not stop the daemon
            log.exception("connection %s failed to start", row["id"])
            await self.state(row["id"], StateChange("disconnected", f"failed to start: {e}"))
        return channel

    async def stop(self, connection_id: int) -> None:
        channel = self._channels.pop(connection_id, None)
        if channel is not None:
            try:
                await channel.stop()
            except Exception:
                log.exception("connection %s did not stop cleanly", connection_id)

    async def restart(self, connection_id: int) -> Channel:
        row = await self.db.one("SELECT id, tenant_id, kind FROM connections WHERE id = ?", (connection_id,))
        if row is None:
            raise NotFound(f"no connection {connection_id}", id=connection_id)
        await self.stop(connection_id)
        return await self.start(row)

    async def stop_all(self) -> None:
        for connection_id in list(self._channels):
            await self.stop(connection_id)
