"""Outbound webhooks: every event of a tenant (or the types asked for), POSTed in order,
signed with HMAC-SHA256 by the deliverer (``zingd/workers/webhooks.py``).

Here: the webhooks themselves, the signature, and the delivery bookkeeping the
deliverer commits: its cursor (``last_seq``) moving on, and an event that still
failed after ``ATTEMPTS`` recorded in ``webhook_deliveries`` and skipped.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from zingd.actor import Actor
from zingd.errors import Invalid, NotFound
from zingd.store.db import Database, Tx
from zingd.store.rows import dumps, with_json

ATTEMPTS = 5
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


async def list_webhooks(db: Database, actor: Actor) -> list[dict[str, Any]]:
    rows = await db.all(f"SELECT {COLUMNS} FROM webhooks WHERE tenant_id = ? ORDER BY id", (actor.tenant_id,))
    return [with_json(r, "event_types") for r in rows]


async def deliveries(db: Database, actor: Actor, webhook_id: int, limit: int) -> list[dict[str, Any]]:
    if not await db.value("SELECT 1 FROM webhooks WHERE id = ? AND tenant_id = ?", (webhook_id, actor.tenant_id)):
        raise NotFound(f"no webhook {webhook_id}", id=webhook_id)
    return await db.all("SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?",
                        (webhook_id, max(1, min(limit, 1000))))


def advance(tx: Tx, webhook_id: int, seq: int) -> None:
    tx.execute("UPDATE webhooks SET last_seq = max(last_seq, ?), failures = 0, last_error = NULL WHERE id = ?",
               (seq, webhook_id))


def give_up(tx: Tx, webhook_id: int, event: dict[str, Any], error: str, status: int | None) -> None:
    tx.insert("webhook_deliveries", {"webhook_id": webhook_id, "event_seq": event["seq"], "event_type": event["type"],
                                     "status": "failed", "attempts": ATTEMPTS, "next_attempt_at": tx.now,
                                     "last_error": error, "http_status": status, "created_at": tx.now})
    tx.execute("UPDATE webhooks SET last_seq = max(last_seq, ?), failures = failures + 1, last_error = ? "
               "WHERE id = ?", (event["seq"], error, webhook_id))

