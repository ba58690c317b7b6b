"""Outbound webhooks: every event of a tenant (or the types asked for), POSTed in order,
signed with HMAC-SHA256, retried with backoff.

Each webhook keeps a cursor (``last_seq``) into the persisted event log, so
delivery survives restarts and costs the hot path nothing. An event that still
fails after the retries is recorded in ``webhook_deliveries`` and skipped, so
one bad event can't block the ones after it.

Headers: X-Zing-Event, X-Zing-Seq, X-Zing-Timestamp, X-Zing-Signature:
sha256=HMAC(secret, "<timestamp>.<body>").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import msgspec

from zingd.bus import Event
from zingd.errors import Invalid, NotFound
from zingd.actor import Actor
from zingd.store.db import Tx
from zingd.store.rows import dumps, loads, with_json

if TYPE_CHECKING:
    from zingd.app import Daemon

log = logging.getLogger(__name__)
_enc = msgspec.json.Encoder()
ATTEMPTS = 5
BACKOFF_S = (1, 5, 30, 120, 600)
COLUMNS = "id, tenant_id, url, event_types, enabled, created_at, last_seq, failures, last_error"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def create(tx: Tx, actor: Actor, url: str, event_types: list[str], start_seq: int) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("url must be an http(s) URL", field="url")
    secret = "whsec_" + secrets.token_urlsafe(24)
    wid = tx.insert("webhooks", {"tenant_id": actor.tenant_id, "url": url, "secret": secret,
                                 "event_types": dumps(sorted(set(event_types))), "created_at": tx.now,
                                 "last_seq": start_seq})
    tx.audit(actor, "webhook.create", "webhook", wid, url=url)
    return {**_get(tx, actor.tenant_id, wid), "secret": secret}


def _get(tx: Tx, tenant_id: int, webhook_id: int) -> dict[str, Any]:
    row = with_json(tx.one(f"SELECT {COLUMNS} FROM webhooks WHERE id = ? AND tenant_id = ?",
                           (webhook_id, tenant_id)), "event_types")
    if row is None:
        raise NotFound(f"no webhook {webhook_id}", id=webhook_id)
    return row


def delete(tx: Tx, actor: Actor, webhook_id: int) -> dict[str, Any]:
    row = _get(tx, actor.tenant_id, webhook_id)
    tx.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
    tx.audit(actor, "webhook.delete", "webhook", webhook_id, url=row["url"])
    return row


def set_enabled(tx: Tx, actor: Actor, webhook_id: int, enabled: bool) -> dict[str, Any]:
    _get(tx, actor.tenant_id, webhook_id)
    tx.execute("UPDATE webhooks SET enabled = ?, failures = 0 WHERE id = ?", (int(enabled), webhook_id))
    tx.audit(actor, "webhook.enable" if enabled else "webhook.disable", "webhook", webhook_id)
    return _get(tx, actor.tenant_id, webhook_id)


async def list_webhooks(app: Daemon, actor: Actor) -> list[dict[str, Any]]:
    rows = await app.db.all(f"SELECT {COLUMNS} FROM webhooks WHERE tenant_id = ? ORDER BY id", (actor.tenant_id,))
    return [with_json(r, "event_types") for r in rows]


async def deliveries(app: Daemon, actor: Actor, webhook_id: int, limit: int) -> list[dict[str, Any]]:
    if not await app.db.value("SELECT 1 FROM webhooks WHERE id = ? AND tenant_id = ?", (webhook_id, actor.tenant_id)):
        raise NotFound(f"no webhook {webhook_id}", id=webhook_id)
    return await app.db.all("SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?",
                            (webhook_id, max(1, min(limit, 1000))))


def _advance(tx: Tx, webhook_id: int, seq: int) -> None:
    tx.execute("UPDATE webhooks SET last_seq = max(last_seq, ?), failures = 0, last_error = NULL WHERE id = ?",
               (seq, webhook_id))


def _give_up(tx: Tx, webhook_id: int, event: dict[str, Any], error: str, status: int | None) -> None:
    tx.insert("webhook_deliveries", {"webhook_id": webhook_id, "event_seq": event["seq"], "event_type": event["type"],
                                     "status": "failed", "attempts": ATTEMPTS, "next_attempt_at": tx.now,
                                     "last_error": error, "http_status": status, "created_at": tx.now})
    tx.execute("UPDATE webhooks SET last_seq = max(last_seq, ?), failures = failures + 1, last_error = ? "
               "WHERE id = ?", (event["seq"], error, webhook_id))


class Webhooks:
    """One delivery task per webhook, woken by new events of its tenant."""

    def __init__(self, app: Daemon) -> None:
        self.app = app
        self._wake: dict[int, asyncio.Event] = {}
        self._tenant: dict[int, int] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.failed = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.app.bus.tap(self._on_event)
        for row in await self.app.db.all("SELECT id, tenant_id FROM webhooks WHERE enabled = 1"):
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
            hook = await self.app.db.one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
            if hook is None or not hook["enabled"]:
                self._wake.pop(webhook_id, None)
                return
            wake.clear()
            events = await self.app.db.all(
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
            await self.app.db.write(_advance, webhook_id, events[-1]["seq"])

    async def _post(self, hook: dict[str, Any], event: dict[str, Any]) -> None:
        body = _enc.encode({"seq": event["seq"], "type": event["type"], "ts": event["ts"],
                            "tenant_id": event["tenant_id"], "data": loads(event["data"])})
        error, status = "", None
        for attempt in range(ATTEMPTS):
            stamp = str(int(self.app.clock()))
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
            await self.app.clock.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
        self.failed += 1
        log.warning("webhook %s gave up on event %s: %s", hook["id"], event["seq"], error)
        await self.app.db.write(_give_up, hook["id"], event, error, status)
