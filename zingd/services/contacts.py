"""Contacts: list and search, details with their WhatsApp ids, edits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zingd.errors import Invalid, NotFound
from zingd.services.actor import Actor
from zingd.services.messages import fts_query
from zingd.store import contacts as C
from zingd.store.db import Tx
from zingd.store.rows import dumps, with_json

if TYPE_CHECKING:
    from zingd.app import Daemon


async def list_contacts(app: Daemon, actor: Actor, query: str | None, after_id: int | None,
                        limit: int) -> list[dict[str, Any]]:
    limit = max(1, min(limit, 500))
    if query:
        rows = await app.db.all(
            "SELECT c.* FROM contacts_fts f JOIN contacts c ON c.id = f.rowid "
            "WHERE contacts_fts MATCH ? AND c.tenant_id = ? AND c.id > ? ORDER BY c.id LIMIT ?",
            (fts_query(query), actor.tenant_id, after_id or 0, limit))
    else:
        rows = await app.db.all("SELECT * FROM contacts WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?",
                                (actor.tenant_id, after_id or 0, limit))
    return [C.view(r) for r in rows]


async def get(app: Daemon, actor: Actor, contact_id: int) -> dict[str, Any]:
    row = C.view(await app.db.one("SELECT * FROM contacts WHERE id = ? AND tenant_id = ?",
                                  (contact_id, actor.tenant_id)))
    if row is None:
        raise NotFound(f"no contact {contact_id}", id=contact_id)
    row["ids"] = [r["jid"] for r in await app.db.all(
        "SELECT jid FROM contact_ids WHERE contact_id = ? ORDER BY jid", (contact_id,))]
    row["tickets"] = await app.db.all(
        "SELECT id, status, connection_id, user_id, created_at, closed_at, last_message FROM tickets "
        "WHERE contact_id = ? ORDER BY created_at DESC LIMIT 50", (contact_id,))
    return row


def update(tx: Tx, actor: Actor, contact_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    row = C.get(tx, actor.tenant_id, contact_id)
    if row is None:
        raise NotFound(f"no contact {contact_id}", id=contact_id)
    if "custom_fields" in changes:
        fields = changes["custom_fields"]
        if any(not isinstance(v, (str, int, float, bool)) for v in fields.values()):
            raise Invalid("custom field values must be text, numbers or booleans", field="custom_fields")
        changes["custom_fields"] = dumps({**row["custom_fields"], **fields})
    if "opted_out" in changes:
        changes["opted_out"] = int(changes["opted_out"])
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE contacts SET {sets}, updated_at = ? WHERE id = ?", (*changes.values(), tx.now, contact_id))
    tx.audit(actor, "contact.update", "contact", contact_id, **{k: v for k, v in changes.items()})
    updated = C.get(tx, actor.tenant_id, contact_id)
    tx.emit(actor.tenant_id, "contact.updated", {"contact": updated})
    return with_json(updated, "custom_fields")
