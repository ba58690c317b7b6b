"""The webhook deliverer: one task per enabled webhook, woken by new events of its tenant.

Each webhook keeps a cursor (``last_seq``) into the persisted event log, so delivery survives
restarts and costs the hot path nothing. Events go out one at a time, in order. One that fails
is retried with backoff, each failure recorded where ``webhook.list`` shows it (the attempts,
the error, the next try), but only within ``[webhooks]`` max_attempts and retry_window_s: then
it becomes a dead letter and the events after it go on, so one bad event holds up the rest
for a bounded time. Dead letters an admin replays are sent first, once each, when the
deliverer is between events. The bookkeeping is ``zingd/services/webhooks.py``.

Headers: X-Zing-Event, X-Zing-Seq, X-Zing-Timestamp, X-Zing-Signature:
sha256=HMAC(secret, "<timestamp>.<body>").
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

from zingd.bus import Bus, Event
from zingd.services import webhooks as svc
from zingd.store.db import Database
from zingd.store.rows import loads

if TYPE_CHECKING:
    from zingd.clock import Clock
    from zingd.config import WebhookSettings

log = logging.getLogger(__name__)
_enc = msgspec.json.Encoder()
BACKOFF_FACTOR = 4


class Webhooks:
    def __init__(self, db: Database, bus: Bus, clock: Clock, settings: WebhookSettings) -> None:
        self.db, self.bus, self.clock, self.settings = db, bus, clock, settings
        self._wake: dict[int, asyncio.Event] = {}
        self._tenant: dict[int, int] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.failed = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s))
        self.bus.tap(self._on_event)
        for row in await self.db.all("SELECT id, tenant_id FROM webhooks WHERE enabled = 1"):
            self.ensure(row["id"], row["tenant_id"])

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()

    def ensure(self, webhook_id: int, tenant_id: int) -> None:
        """Deliver for this webhook (start its task if it has none), and look for work now."""
        self._tenant[webhook_id] = tenant_id
        if webhook_id not in self._tasks or self._tasks[webhook_id].done():
            self._wake[webhook_id] = asyncio.Event()
            self._tasks[webhook_id] = asyncio.create_task(self._deliver(webhook_id))
        self._wake[webhook_id].set()

    def _on_event(self, event: Event) -> None:
        for webhook_id, wake in self._wake.items():
            if self._tenant.get(webhook_id) == event.tenant_id:
                wake.set()

    async def _deliver(self, webhook_id: int) -> None:
        wake = self._wake[webhook_id]
        while True:
            hook = await self.db.one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
            if hook is None or not hook["enabled"]:
                self._wake.pop(webhook_id, None)
                return
            wake.clear()
            if await self._replay(hook):
                continue
            events = await self.db.all(
                "SELECT * FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT 100",
                (hook["tenant_id"], hook["last_seq"]))
            if not events:
                await wake.wait()
                continue
            types, done = set(loads(hook["event_types"])), hook["last_seq"]
            for event in events:
                if types and event["type"] not in types:
                    done = event["seq"]
                elif await self._send(hook, event):
                    done = event["seq"]
                else:
                    break  # it failed: retried later, or given up on; the webhook may change meanwhile
            if done > hook["last_seq"]:
                await self.db.write(svc.advance, webhook_id, done)

    async def _replay(self, hook: dict[str, Any]) -> bool:
        """Send the dead letters queued for a replay, once each; True if there were any."""
        rows = await self.db.all(
            "SELECT e.* FROM webhook_deliveries d LEFT JOIN events e ON e.seq = d.event_seq "
            "WHERE d.webhook_id = ? AND d.status = 'replay' ORDER BY d.event_seq LIMIT 100", (hook["id"],))
        if any(event["seq"] is None for event in rows):
            await self.db.write(svc.unqueue_gone, hook["id"])
        for event in (e for e in rows if e["seq"] is not None):
            error, status = await self._post(hook, event)
            if error is None:
                await self.db.write(svc.delivered, hook["id"], event["seq"])
            else:
                await self.db.write(svc.failed, hook["id"], event, error, status, None)
        return bool(rows)

    async def _send(self, hook: dict[str, Any], event: dict[str, Any]) -> bool:
        """One event, retried until delivered or given up on; False if the loop must look again
        (a retry is due later and the webhook may change meanwhile)."""
        trouble = await svc.retrying(self.db, hook["id"], event["seq"]) if hook["failures"] else None
        if trouble is not None and trouble["next_attempt_at"] > self.clock():
            await self._nap(hook["id"], trouble["next_attempt_at"] - self.clock())
            return False
        error, status = await self._post(hook, event)
        if error is None:
            if hook["failures"]:
                await self.db.write(svc.delivered, hook["id"], event["seq"])
                hook["failures"] = 0
            return True
        attempts = 1 + (trouble["attempts"] if trouble is not None else 0)
        first = trouble["created_at"] if trouble is not None else self.clock()
        delay = min(self.settings.backoff_cap_s, self.settings.backoff_base_s * BACKOFF_FACTOR ** (attempts - 1))
        refused = status is not None and 400 <= status < 500 and status not in (408, 429)
        give_up = (refused or attempts >= self.settings.max_attempts
                   or self.clock() + delay - first > self.settings.retry_window_s)
        await self.db.write(svc.failed, hook["id"], event, error, status, None if give_up else self.clock() + delay)
        if give_up:
            self.failed += 1
            log.warning("webhook %s gave up on event %s after %d attempt(s): %s", hook["id"], event["seq"],
                        attempts, error)
        return False

    async def _nap(self, webhook_id: int, seconds: float) -> None:
        """Wait for a retry, or less if something happens (an event, a replay, enable): the loop
        then looks again, and a disabled or deleted webhook stops."""
        try:
            await asyncio.wait_for(self._wake[webhook_id].wait(), self.clock.real_delay(seconds))
        except TimeoutError:
            pass

    async def _post(self, hook: dict[str, Any], event: dict[str, Any]) -> tuple[str | None, int | None]:
        """One signed POST: (None, status) when the receiver took it, else (the error, the status if any)."""
        body = _enc.encode({"seq": event["seq"], "type": event["type"], "ts": event["ts"],
                            "tenant_id": event["tenant_id"], "data": loads(event["data"])})
        stamp = str(int(self.clock()))
        headers = {"Content-Type": "application/json", "X-Zing-Event": event["type"],
                   "X-Zing-Seq": str(event["seq"]), "X-Zing-Timestamp": stamp,
                   "X-Zing-Signature": svc.sign(hook["secret"], stamp, body), "User-Agent": "zingd-webhooks"}
        try:
            async with self._session.post(hook["url"], data=body, headers=headers) as resp:
                if 200 <= resp.status < 300:
                    self.delivered += 1
                    return None, resp.status
                return f"HTTP {resp.status}", resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__, None
