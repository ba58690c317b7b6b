"""Outbound webhooks: every event of a tenant (or the types asked for), POSTed in order,
signed with HMAC-SHA256 by the deliverer (``zingd/workers/webhooks.py``).

Here: the webhooks themselves, the signature, and the delivery bookkeeping the deliverer
commits, so that trouble shows where an admin looks (``webhook.list``/``get``). The cursor
(``last_seq``) moves on past delivered events. An event that fails is a ``webhook_deliveries``
row: ``retrying`` (its attempts and next try) while the deliverer keeps at it, ``dead`` once it
gave up (a dead letter; the events after it go on), ``replay`` when an admin asked for it again.
``failures`` counts the failed attempts since the last success; ``last_error`` stays, with its time.
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
from zingd.store.rows import dumps, in_list, with_json

# What zingd publishes (``tx.emit``); a webhook for anything else would never fire.
# tests/integration/test_webhook_trouble.py checks the emitters in the source against it.
EVENT_TYPES = (
    "assistant.updated", "bot.updated", "campaign.updated", "connection.updated", "contact.updated", "message.ack",
    "message.created", "message.updated", "note.created", "queue.created", "queue.deleted", "queue.updated",
    "quickreply.created", "quickreply.deleted", "quickreply.updated", "schedule.updated", "tag.created",
    "tag.deleted", "tag.updated", "template.updated", "tenant.updated", "ticket.created", "ticket.sla_breached", "ticket.updated",
    "token.revoked", "user.created", "user.updated",
)
VIEW = (
    "SELECT w.id, w.tenant_id, w.url, w.event_types, w.enabled, w.created_at, w.last_seq, w.failures, "
    "w.last_error, w.last_error_at, r.event_seq AS retry_seq, r.attempts AS retry_attempts, "
    "r.next_attempt_at, (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id "
    "AND d.status != 'retrying') AS dead_letters "
    "FROM webhooks w LEFT JOIN webhook_deliveries r ON r.webhook_id = w.id AND r.status = 'retrying'"
)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def create(tx: Tx, actor: Actor, url: str, event_types: list[str], start_seq: int) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("url must be an http(s) URL", field="url")
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise Invalid(f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
                      field="event_types", known=list(EVENT_TYPES))
    secret = "whsec_" + secrets.token_urlsafe(24)
    wid = tx.insert("webhooks", {"tenant_id": actor.tenant_id, "url": url, "secret": secret,
                                 "event_types": dumps(sorted(set(event_types))), "created_at": tx.now,
                                 "last_seq": start_seq})
    tx.audit(actor, "webhook.create", "webhook", wid, url=url)
    return {**_get(tx, actor.tenant_id, wid), "secret": secret}


def _get(tx: Tx, tenant_id: int, webhook_id: int) -> dict[str, Any]:
    row = with_json(tx.one(f"{VIEW} WHERE w.id = ? AND w.tenant_id = ?", (webhook_id, tenant_id)), "event_types")
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
    tx.execute("UPDATE webhooks SET enabled = ? WHERE id = ?", (int(enabled), webhook_id))
    tx.audit(actor, "webhook.enable" if enabled else "webhook.disable", "webhook", webhook_id)
    return _get(tx, actor.tenant_id, webhook_id)


async def list_webhooks(db: Database, actor: Actor) -> list[dict[str, Any]]:
    rows = await db.all(f"{VIEW} WHERE w.tenant_id = ? ORDER BY w.id", (actor.tenant_id,))
    return [with_json(r, "event_types") for r in rows]


async def get(db: Database, actor: Actor, webhook_id: int) -> dict[str, Any]:
    row = await db.one(f"{VIEW} WHERE w.id = ? AND w.tenant_id = ?", (webhook_id, actor.tenant_id))
    if row is None:
        raise NotFound(f"no webhook {webhook_id}", id=webhook_id)
    return with_json(row, "event_types")


async def dead_letters(db: Database, actor: Actor, webhook_id: int, limit: int) -> list[dict[str, Any]]:
    """The events a webhook gave up on (and those queued for a replay), newest first."""
    await get(db, actor, webhook_id)
    return await db.all("SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND status != 'retrying' "
                        "ORDER BY event_seq DESC LIMIT ?", (webhook_id, max(1, min(limit, 1000))))


def replay(tx: Tx, actor: Actor, webhook_id: int, seqs: list[int] | None) -> dict[str, Any]:
    """Queue dead letters (these event seqs, or all) for the deliverer to send once more, before the
    events it has not sent yet. One whose event was pruned from the log can't be sent: named in ``gone``."""
    _get(tx, actor.tenant_id, webhook_id)
    sql = "SELECT event_seq FROM webhook_deliveries WHERE webhook_id = ? AND status = 'dead'"
    dead = [r["event_seq"] for r in tx.all(
        sql + (f" AND event_seq IN {in_list(seqs)}" if seqs else "") + " ORDER BY event_seq",
        (webhook_id, *(seqs or ())))]
    unknown = sorted(set(seqs or ()) - set(dead))
    if unknown:
        raise NotFound(f"webhook {webhook_id} has no dead letter for event(s) {', '.join(map(str, unknown))}",
                       seqs=unknown)
    stored = {r["seq"] for r in tx.all(f"SELECT seq FROM events WHERE seq IN {in_list(dead)}", tuple(dead))} \
        if dead else set()
    queued = [s for s in dead if s in stored]
    if queued:
        tx.execute(f"UPDATE webhook_deliveries SET status = 'replay', next_attempt_at = ? WHERE webhook_id = ? "
                   f"AND event_seq IN {in_list(queued)}", (tx.now, webhook_id, *queued))
    tx.audit(actor, "webhook.replay", "webhook", webhook_id, seqs=queued)
    return {"webhook_id": webhook_id, "queued": queued, "gone": [s for s in dead if s not in stored]}


# -- the deliverer's bookkeeping -------------------------------------------------------------------
def advance(tx: Tx, webhook_id: int, seq: int) -> None:
    """Delivered (or not for this webhook) up to ``seq``; past trouble ends with a success."""
    tx.execute("UPDATE webhooks SET last_seq = max(last_seq, ?) WHERE id = ?", (seq, webhook_id))


async def retrying(db: Database, webhook_id: int, seq: int) -> dict[str, Any] | None:
    """This event's failed attempts so far, if it is being retried (also across a restart)."""
    return await db.one("SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND event_seq = ? AND "
                        "status = 'retrying'", (webhook_id, seq))


def unqueue_gone(tx: Tx, webhook_id: int) -> None:
    """A replay queued for an event pruned since can't be sent: back to the dead letters."""
    tx.execute("UPDATE webhook_deliveries SET status = 'dead' WHERE webhook_id = ? AND status = 'replay' AND "
               "event_seq NOT IN (SELECT seq FROM events)", (webhook_id,))


def failed(tx: Tx, webhook_id: int, event: dict[str, Any], error: str, status: int | None,
           next_at: float | None) -> None:
    """One attempt failed: retried at ``next_at``, or (None) given up on, a dead letter."""
    state = "retrying" if next_at is not None else "dead"
    tx.execute(
        "INSERT INTO webhook_deliveries (webhook_id, event_seq, event_type, status, attempts, next_attempt_at, "
        "last_error, http_status, created_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?) "
        "ON CONFLICT (webhook_id, event_seq) DO UPDATE SET status = excluded.status, attempts = attempts + 1, "
        "next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, "
        "http_status = excluded.http_status",
        (webhook_id, event["seq"], event["type"], state, next_at or tx.now, error, status, tx.now))
    tx.execute("UPDATE webhooks SET failures = failures + 1, last_error = ?, last_error_at = ? WHERE id = ?",
               (error, tx.now, webhook_id))
    if next_at is None:
        advance(tx, webhook_id, event["seq"])


def delivered(tx: Tx, webhook_id: int, seq: int) -> None:
    """An event that had failed went through (a retry or a replay): no longer trouble."""
    tx.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ? AND event_seq = ?", (webhook_id, seq))
    tx.execute("UPDATE webhooks SET failures = 0 WHERE id = ? AND NOT EXISTS (SELECT 1 FROM webhook_deliveries "
               "WHERE webhook_id = ? AND status = 'retrying')", (webhook_id, webhook_id))  # a replay, meanwhile
    advance(tx, webhook_id, seq)
