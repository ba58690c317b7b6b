"""Runs campaigns: one task per running campaign, paced by the governor, with safety stops.

A runner takes the next pending recipient, waits for a slot on one of the
campaign's numbers (rotating over those that are connected), and queues that
recipient's message in one transaction. Killing the daemon at any point leaves
each recipient either pending (sent later) or queued with its message (sent by
the outbox under a fixed id): nobody twice, nobody skipped.

Safety stops pause a campaign when one of its numbers is banned, logged out or
outdated, when the template it sends on a cloud number stops being approved (Meta
paused or disabled it), or when too many of its recent sends failed. A suspended tenant's
campaigns hold (still running, nothing queued) and carry on, paced as ever, once
it is active again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from zingd.bus import Bus, Event
from zingd.channels.base import FINAL_STATES
from zingd.errors import Conflict
from zingd.services import campaigns as svc
from zingd.store.db import Database, Tx
from zingd.store.rows import loads

if TYPE_CHECKING:
    from zingd.channels.manager import Channels
    from zingd.clock import Clock
    from zingd.config import PacingSettings
    from zingd.services.governor import Governor

log = logging.getLogger(__name__)


def _timed(tx: Tx, fn, *args):
    """Run a unit and also return when it ran (its messages' created_at)."""
    return fn(tx, *args), tx.now


class CampaignRunner:
    def __init__(self, db: Database, bus: Bus, channels: Channels, clock: Clock, governor: Governor,
                 pacing: PacingSettings) -> None:
        self.db, self.bus, self.channels, self.clock, self.governor = db, bus, channels, clock, governor
        self.pacing = pacing
        self._tasks: dict[int, asyncio.Task] = {}
        self._state_changed = asyncio.Event()
        self._suspended: set[int] = set()  # tenants, kept by tenant.updated
        self._tenants_changed = asyncio.Event()

    async def start(self) -> None:
        self.bus.tap(self._on_event)
        self._suspended = {r["id"] for r in await self.db.all("SELECT id FROM tenants WHERE status = 'suspended'")}
        for row in await self.db.all("SELECT id FROM campaigns WHERE status IN ('running', 'scheduled')"):
            self.launch(row["id"])

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    def launch(self, campaign_id: int) -> None:
        if campaign_id not in self._tasks or self._tasks[campaign_id].done():
            task = asyncio.create_task(self._run(campaign_id), name=f"campaign-{campaign_id}")
            self._tasks[campaign_id] = task
            task.add_done_callback(lambda _t, cid=campaign_id: self._tasks.pop(cid, None))

    def halt(self, campaign_id: int) -> None:
        task = self._tasks.pop(campaign_id, None)
        if task is not None:
            task.cancel()

    def _on_event(self, event: Event) -> None:
        if event.type == "connection.updated":
            self._state_changed.set()
            if event.data["status"] in FINAL_STATES:
                asyncio.get_running_loop().create_task(
                    self._safety_stop(event.data["id"], f"number {event.data['id']} is {event.data['status']}: "
                                                        f"{event.data.get('reason') or 'see zingctl connections'}"))
        elif event.type == "template.updated" and event.data.get("status") != "APPROVED":
            reason = f": {event.data['reason']}" if event.data.get("reason") else ""
            asyncio.get_running_loop().create_task(self._template_stop(
                event.data["id"], f"template {event.data.get('name')} ({event.data.get('language')}) is "
                                  f"{event.data.get('status')}{reason}"))
        elif event.type == "campaign.updated" and event.data["campaign"]["status"] in ("running", "scheduled"):
            self.launch(event.data["campaign"]["id"])
        elif event.type == "tenant.updated":
            if event.data["tenant"]["status"] == "suspended":
                self._suspended.add(event.tenant_id)
            else:
                self._suspended.discard(event.tenant_id)
            self._tenants_changed.set()

    async def _safety_stop(self, connection_id: int, reason: str) -> None:
        rows = await self.db.all(
            "SELECT c.id, c.tenant_id FROM campaigns c, json_each(c.connection_ids) j "
            "WHERE c.status IN ('running', 'scheduled') AND j.value = ?", (connection_id,))
        for row in rows:
            await self._pause(row["id"], row["tenant_id"], reason)

    async def _template_stop(self, template_id: int, reason: str) -> None:
        for row in await svc.using_template(self.db, template_id):
            await self._pause(row["id"], row["tenant_id"], reason)

    async def _pause(self, campaign_id: int, tenant_id: int, reason: str) -> None:
        self.halt(campaign_id)
        try:
            await self.db.write(svc.pause, None, campaign_id, reason, tenant_id)
            log.warning("campaign %s paused: %s", campaign_id, reason)
        except Conflict:
            pass  # already paused or finished

    async def _wait_scheduled(self, campaign_id: int) -> bool:
        row = await self.db.one("SELECT status, start_at FROM campaigns WHERE id = ?", (campaign_id,))
        if row is None or row["status"] not in ("running", "scheduled"):
            return False
        if row["status"] == "scheduled":
            await self.clock.sleep(row["start_at"] - self.clock())
            return await self.db.write(svc.begin_scheduled, campaign_id)
        return True

    async def _while_suspended(self, tenant_id: int) -> None:
        while tenant_id in self._suspended:
            self._tenants_changed.clear()
            await self._tenants_changed.wait()

    async def _connection(self, connection_ids: list[int], turn: int) -> int:
        """The next connected number in rotation; waits while none is connected."""
        while True:
            live = [cid for cid in connection_ids if self.channels.is_connected(cid)]
            if live:
                return live[turn % len(live)]
            self._state_changed.clear()
            await self._state_changed.wait()

    async def _run(self, campaign_id: int) -> None:
        try:
            if not await self._wait_scheduled(campaign_id):
                return
            limits = self.pacing
            turn = 0
            while True:
                row = await self.db.one("SELECT tenant_id, status, connection_ids FROM campaigns WHERE id = ?",
                                            (campaign_id,))
                if row is None or row["status"] != "running":
                    return
                if row["tenant_id"] in self._suspended:
                    await self._while_suspended(row["tenant_id"])
                    continue  # read the campaign afresh: it may have been paused meanwhile
                rate, seen = await svc.failure_rate(self.db, campaign_id, limits.failure_window)
                if seen >= limits.failure_window // 2 and rate > limits.failure_threshold:
                    await self._pause(campaign_id, row["tenant_id"],
                                      f"{rate:.0%} of the last {seen} sends failed (threshold "
                                      f"{limits.failure_threshold:.0%}); check the number, then resume")
                    return
                recipient = await self.db.one(svc.NEXT_RECIPIENT, (campaign_id,))
                if recipient is None:
                    await self.db.write(svc.finish, campaign_id)
                    return
                connection_id = await self._connection(loads(row["connection_ids"]), turn)
                turn += 1
                await self.governor.acquire(connection_id)
                if row["tenant_id"] in self._suspended:  # suspended while this waited for its slot
                    self.governor.refund(connection_id)
                    continue
                try:
                    state, stored_at = await self.db.write(_timed, svc.enqueue, campaign_id, recipient["id"],
                                                           connection_id)
                except Conflict:
                    self.governor.refund(connection_id)
                    raise
                if state == "queued":
                    self.governor.settle(connection_id, stored_at)
                else:
                    self.governor.refund(connection_id)
        except asyncio.CancelledError:
            raise
        except Conflict as e:  # its template can't be sent on a cloud number any more
            tenant = await self.db.value("SELECT tenant_id FROM campaigns WHERE id = ?", (campaign_id,))
            await self._pause(campaign_id, tenant, e.message)
        except Exception:
            log.exception("campaign %s runner crashed; pausing it", campaign_id)
            tenant = await self.db.value("SELECT tenant_id FROM campaigns WHERE id = ?", (campaign_id,))
            await self._pause(campaign_id, tenant, "internal error; see the daemon log, then resume")
