"""The webhook deliverer: one task per enabled webhook, woken by new events of its tenant.

Each webhook keeps a cursor (``last_seq``) into the persisted event log, so
delivery survives restarts and costs the hot path nothing. An event is POSTed,
signed, and retried with backoff; one that still fails is recorded and skipped
(``zingd/services/webhooks.py`` keeps the cursor and the record), so one bad
event can't block the ones after it.

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
from zingd.services.webhooks import ATTEMPTS, advance, give_up, sign
from zingd.store.db import Database
from zingd.store.rows import loads

if TYPE_CHECKING:
    from zingd.clock import Clock

log = logging.getLogger(__name__)
_enc = msgspec.json.Encoder()
BACKOFF_S = (1, 5, 30, 120, 600)


class Webhooks:
    def __init__(self, db: Database, bus: Bus, clock: Clock) -> None:
        self.db, self.bus, self.clock = db, bus, clock
        self._wake: dict[int, asyncio.Event] = {}
        self._tenant: dict[int, int] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.failed = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
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
            events = await self.db.all(
                "SELECT * FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT 100",
                (hook["tenant_id"], hook["last_seq"]))
            types = set(loads(hook["event_types"]))
            if not events:
                await wake.wait()
                continue
            for event in events:
                if types and event["type"] not in types:
                    continue
                await self._post(hook, event)
            await self.db.write(advance, webhook_id, events[-1]["seq"])

    async def _post(self, hook: dict[str, Any], event: dict[str, Any]) -> None:
        body = _enc.encode({"seq": event["seq"], "type": event["type"], "ts": event["ts"],
                            "tenant_id": event["tenant_id"], "data": loads(event["data"])})
        error, status = "", None
        for attempt in range(ATTEMPTS):
            stamp = str(int(self.clock()))
            headers = {"Content-Type": "application/json", "X-Zing-Event": event["type"],
                       "X-Zing-Seq": str(event["seq"]), "X-Zing-Timestamp": stamp,
                       "X-Zing-Signature": sign(hook["secret"], stamp, body), "User-Agent": "zingd-webhooks"}
            try:
                async with self._session.post(hook["url"], data=body, headers=headers) as resp:
                    status = resp.status
                    if 200 <= resp.status < 300:
                        self.delivered += 1
                        return
                    error = f"HTTP {resp.status}"
                    if 400 <= resp.status < 500 and resp.status not in (408, 429):
                        break  # the receiver refuses this event; retrying won't change its mind
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                error, status = f"{type(e).__name__}: {e}", None
            await self.clock.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
        self.failed += 1
        log.warning("webhook %s gave up on event %s: %s", hook["id"], event["seq"], error)
        await self.db.write(give_up, hook["id"], event, error, status)
