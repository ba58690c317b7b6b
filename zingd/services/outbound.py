"""Queueing an outbound message: the one way anything (agent, bot, campaign, schedule)
writes to a customer. Kept free of the ticket rules so every service can use it."""

from __future__ import annotations

from typing import Any

from zingd.actor import Actor
from zingd.services import sla
from zingd.store import messages as M
from zingd.store import tickets as T
from zingd.store.db import Tx
from zingd.store.rows import dumps


def media_type(mime: str) -> str:
    kind = mime.split("/")[0]
    return {"image": "image", "audio": "audio", "video": "video"}.get(kind, "document")


def queue_outbound(tx: Tx, ticket: dict[str, Any], actor: Actor | None, body: str, type_: str = "text",
                   media: dict[str, Any] | None = None, quoted_id: int | None = None,
                   automated: bool = False, due_at: float | None = None, bot: bool = False,
                   template: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store an outbound message as queued, with its outbox row, in the caller's transaction.

    ``bot``: the tenant's bot wrote it (``actor`` is the bot user): marked ``messages.bot``, and, as
    zing's own messages, it neither clears unread nor counts as the ticket's first response: the
    customer still waits for a person.

    ``template``: the approved template it goes as ({"name", "language", "params", ...}; ``body`` is
    its rendered text), stored on the message and carried in the answer and the event."""
    msg = M.insert(tx, {
        "tenant_id": ticket["tenant_id"], "ticket_id": ticket["id"], "connection_id": ticket["connection_id"],
        "contact_id": ticket["contact_id"], "wa_id": M.new_wa_id(), "direction": "out", "type": type_,
        "body": body, "quoted_id": quoted_id, "user_id": actor.user_id if actor else None, "ack": "queued",
        "automated": int(automated), "bot": int(bot), **(media or {}),
        **({"template": dumps(template)} if template else {}),
    })
    if template:
        msg["template"] = template
    tx.insert("outbox", {"message_id": msg["id"], "tenant_id": ticket["tenant_id"],
                         "connection_id": ticket["connection_id"], "next_attempt_at": max(tx.now, due_at or 0)})
    preview = body or f"[{type_}]"
    # An agent's answer clears unread and may be the first response; zing's own (and the bot's) do neither.
    person = actor is not None and not bot
    tx.execute(
        "UPDATE tickets SET last_message = ?, last_message_at = ?, updated_at = ?, "
        "unread = CASE WHEN ? THEN 0 ELSE unread END, "
        "first_response_at = CASE WHEN ? THEN ifnull(first_response_at, ?) ELSE first_response_at END WHERE id = ?",
        (preview[:200], tx.now, tx.now, person, person, tx.now, ticket["id"]))
    if person:
        sla.responded(tx, ticket["id"])
    view = T.get(tx, ticket["tenant_id"], ticket["id"])
    tx.emit(ticket["tenant_id"], "message.created", {"message": msg, "ticket": view}, ticket_id=ticket["id"])
    return msg
