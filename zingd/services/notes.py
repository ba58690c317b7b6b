"""Private notes on tickets: for the team only, never sent to WhatsApp."""

from __future__ import annotations

from typing import Any

from zingd.actor import Actor
from zingd.errors import Invalid
from zingd.services.tickets import get_ticket, require_visible
from zingd.store import tickets as T
from zingd.store.db import Database, Tx

NOTE = ("SELECT n.id, n.ticket_id, n.user_id, u.name AS user_name, n.body, n.created_at "
        "FROM notes n JOIN users u ON u.id = n.user_id")


def create(tx: Tx, actor: Actor, ticket_id: int, body: str) -> dict[str, Any]:
    if not body.strip():
        raise Invalid("a note needs a body", field="body")
    if len(body) > 20000:
        raise Invalid("a note is at most 20000 characters", field="body")
    t = require_visible(tx, actor, ticket_id)
    nid = tx.insert("notes", {"tenant_id": t["tenant_id"], "ticket_id": ticket_id, "user_id": actor.user_id,
                              "body": body, "created_at": tx.now})
    note = tx.one(f"{NOTE} WHERE n.id = ?", (nid,))
    T.log(tx, t, actor, "note", note_id=nid)
    tx.audit(actor, "note.create", "ticket", ticket_id, note_id=nid)
    tx.emit(t["tenant_id"], "note.created", {"note": note, "ticket": t}, ticket_id=ticket_id)
    return note


async def list_notes(db: Database, actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
    await get_ticket(db, actor, ticket_id)
    return await db.all(f"{NOTE} WHERE n.ticket_id = ? ORDER BY n.id", (ticket_id,))
