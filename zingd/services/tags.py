"""Tags on tickets and contacts, by name. The tenant's tags are a supervisor's to make
(``tag.create``, or a new name on first use); an agent attaches existing ones only."""

from __future__ import annotations

from typing import Any

from zingd.actor import Actor
from zingd.errors import Forbidden, Invalid, NotFound
from zingd.services.tickets import require_visible
from zingd.store import tickets as T
from zingd.store.db import Database, Tx
from zingd.store.rows import in_list


def _clean(names: list[str]) -> list[str]:
    out = []
    for name in names:
        name = name.strip()
        if not name or len(name) > 40:
            raise Invalid(f"tag {name!r}: 1 to 40 characters", field="tags")
        if name not in out:
            out.append(name)
    return out


def ensure(tx: Tx, tenant_id: int, names: list[str]) -> list[int]:
    ids = []
    for name in _clean(names):
        tx.execute("INSERT OR IGNORE INTO tags (tenant_id, name) VALUES (?, ?)", (tenant_id, name))
        ids.append(tx.value("SELECT id FROM tags WHERE tenant_id = ? AND name = ?", (tenant_id, name)))
    return ids


def attachable(tx: Tx, actor: Actor, names: list[str]) -> list[int]:
    """The ids of the tags ``names`` an actor may attach: a supervisor's new names are created
    (as ``tag.create`` would), an agent's must exist already."""
    if actor.at_least("supervisor"):
        return ensure(tx, actor.tenant_id, names)
    names = _clean(names)
    found = {r["name"]: r["id"] for r in tx.all(
        f"SELECT id, name FROM tags WHERE tenant_id = ? AND name IN {in_list(names)}", (actor.tenant_id, *names))}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise Forbidden(f"no tag {', '.join(map(repr, unknown))}: a supervisor creates tags (tag.create); "
                        "pick existing ones (tag.list)", field="tags", unknown=unknown)
    return [found[n] for n in names]


def set_ticket_tags(tx: Tx, actor: Actor, ticket_id: int, names: list[str]) -> dict[str, Any]:
    t = require_visible(tx, actor, ticket_id)
    ids = attachable(tx, actor, names)
    tx.execute("DELETE FROM ticket_tags WHERE ticket_id = ?", (ticket_id,))
    tx.conn.executemany("INSERT INTO ticket_tags (ticket_id, tag_id) VALUES (?, ?)", [(ticket_id, i) for i in ids])
    T.log(tx, t, actor, "tags", tags=_clean(names))
    tx.audit(actor, "ticket.tag", "ticket", ticket_id, tags=_clean(names))
    return T.emit_updated(tx, ticket_id, t["tenant_id"])


def set_contact_tags(tx: Tx, actor: Actor, contact_id: int, names: list[str]) -> list[str]:
    if not tx.value("SELECT 1 FROM contacts WHERE id = ? AND tenant_id = ?", (contact_id, actor.tenant_id)):
        raise NotFound(f"no contact {contact_id}", id=contact_id)
    ids = attachable(tx, actor, names)
    tx.execute("DELETE FROM contact_tags WHERE contact_id = ?", (contact_id,))
    tx.conn.executemany("INSERT INTO contact_tags (contact_id, tag_id) VALUES (?, ?)", [(contact_id, i) for i in ids])
    tx.audit(actor, "contact.tag", "contact", contact_id, tags=_clean(names))
    return _clean(names)


def create(tx: Tx, actor: Actor, name: str, color: str) -> dict[str, Any]:
    [tag_id] = ensure(tx, actor.tenant_id, [name])
    tx.execute("UPDATE tags SET color = ? WHERE id = ?", (color, tag_id))
    tx.audit(actor, "tag.create", "tag", tag_id, name=name)
    return tx.one("SELECT * FROM tags WHERE id = ?", (tag_id,))


def delete(tx: Tx, actor: Actor, tag_id: int) -> dict[str, Any]:
    row = tx.one("SELECT * FROM tags WHERE id = ? AND tenant_id = ?", (tag_id, actor.tenant_id))
    if row is None:
        raise NotFound(f"no tag {tag_id}", id=tag_id)
    tx.execute("DELETE FROM tags WHERE id = ?", (tag_id,))
    tx.audit(actor, "tag.delete", "tag", tag_id, name=row["name"])
    return row


async def list_tags(db: Database, actor: Actor) -> list[dict[str, Any]]:
    return await db.all(
        "SELECT g.*, (SELECT count(*) FROM ticket_tags tt WHERE tt.tag_id = g.id) AS tickets, "
        "(SELECT count(*) FROM contact_tags ct WHERE ct.tag_id = g.id) AS contacts "
        "FROM tags g WHERE g.tenant_id = ? ORDER BY g.name", (actor.tenant_id,))
