"""Messages: insert with idempotency by WhatsApp id, acks that only move forward."""

from __future__ import annotations

import secrets
from typing import Any

from zingd.store.db import Tx

# How a campaign recipient's state follows its message's ack (state, timestamp column).
RECIPIENT_STATE = {
    "queued": ("queued", None), "sent": ("sent", "sent_at"), "server": ("sent", "sent_at"),
    "delivered": ("delivered", "delivered_at"), "read": ("read", "read_at"), "played": ("read", "read_at"),
    "failed": ("failed", None), "unconfirmed": ("queued", None),
}
# unconfirmed: the send may have reached WhatsApp; any receipt (or a late answer) moves it on.
ACK_RANK = {"received": 0, "failed": 0, "queued": 1, "unconfirmed": 2, "sent": 3, "server": 4, "delivered": 5,
            "read": 6, "played": 7}

COLUMNS = (
    "id, tenant_id, ticket_id, connection_id, contact_id, wa_id, direction, from_device, type, body, media_path, "
    "media_mime, media_size, media_error, quoted_id, participant, user_id, ack, error, edited, deleted, "
    "reaction_to, automated, sent_at, created_at, updated_at, wa_ts, offline, media_seconds, media_waveform, bot, transcript"
)


def new_wa_id() -> str:
    """A WhatsApp-shaped message id, fixed before the first send attempt."""
    return "3EB0" + secrets.token_hex(8).upper()


def get(tx: Tx, message_id: int) -> dict[str, Any] | None:
    return tx.one(f"SELECT {COLUMNS} FROM messages WHERE id = ?", (message_id,))


def by_wa_id(tx: Tx, connection_id: int, wa_id: str) -> dict[str, Any] | None:
    return tx.one(f"SELECT {COLUMNS} FROM messages WHERE connection_id = ? AND wa_id = ?", (connection_id, wa_id))


def exists(tx: Tx, connection_id: int, wa_id: str) -> bool:
    """Already stored? (answered from the unique index alone)"""
    return tx.conn.execute("SELECT 1 FROM messages WHERE connection_id = ? AND wa_id = ?",
                           (connection_id, wa_id)).fetchone() is not None


def insert(tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
    row.setdefault("created_at", tx.now)
    row.setdefault("updated_at", tx.now)
    cols = ",".join(row)
    marks = ",".join("?" * len(row))
    return tx.one(f"INSERT INTO messages ({cols}) VALUES ({marks}) RETURNING {COLUMNS}", tuple(row.values()))


def owner(tx: Tx, ticket_id: int) -> dict[str, Any]:
    """Who may see a ticket's events (for events that don't carry the whole ticket)."""
    return tx.one("SELECT user_id, queue_id, status FROM tickets WHERE id = ?", (ticket_id,))


def requeue(tx: Tx, message: dict[str, Any], last_error: str | None = None) -> None:
    """Due again under the same WhatsApp id (an agent's retry, or an unconfirmed send proven not
    sent): queued, in the outbox, its campaign recipient queued too; emitted."""
    tx.execute("UPDATE messages SET ack = 'queued', error = NULL, updated_at = ? WHERE id = ?",
               (tx.now, message["id"]))
    tx.execute("INSERT OR IGNORE INTO outbox (message_id, tenant_id, connection_id, next_attempt_at, last_error) "
               "VALUES (?, ?, ?, ?, ?)",
               (message["id"], message["tenant_id"], message["connection_id"], tx.now, last_error))
    message.update(ack="queued", error=None)
    if message.get("automated"):
        tx.execute("UPDATE campaign_recipients SET state = 'queued', error = NULL WHERE message_id = ?",
                   (message["id"],))
    tx.emit(message["tenant_id"], "message.ack",
            {"id": message["id"], "ticket_id": message["ticket_id"], "connection_id": message["connection_id"],
             "ack": "queued", "error": None, "owner": owner(tx, message["ticket_id"])},
            ticket_id=message["ticket_id"])


def advance_ack(tx: Tx, message: dict[str, Any], ack: str, error: str | None = None) -> bool:
    """Move an ack forward (read never goes back to delivered); emit it. False if nothing changed."""
    if ack != "failed" and ACK_RANK[ack] <= ACK_RANK[message["ack"]]:
        return False
    tx.execute("UPDATE messages SET ack = ?, error = ?, updated_at = ? WHERE id = ?",
               (ack, error, tx.now, message["id"]))
    message.update(ack=ack, error=error, updated_at=tx.now)
    if message.get("automated"):
        state, stamp = RECIPIENT_STATE[ack]
        stamp_sql = f", {stamp} = ifnull({stamp}, ?)" if stamp else ""
        tx.execute(f"UPDATE campaign_recipients SET state = ?, error = ?, updated_at = ?{stamp_sql} WHERE message_id = ?",
                   (state, error, tx.now, *((tx.now,) if stamp else ()), message["id"]))
    tx.emit(message["tenant_id"], "message.ack",
            {"id": message["id"], "ticket_id": message["ticket_id"], "connection_id": message["connection_id"],
             "ack": ack, "error": error, "owner": owner(tx, message["ticket_id"])},
            ticket_id=message["ticket_id"])
    return True
