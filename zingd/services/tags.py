"""Tags on tickets and contacts, by name. The tenant's tags are a supervisor's to make
(``tag.create``; on a contact, a supervisor's new name too); a ticket is tagged with existing ones
only, so a typo is an error and never a new tag. Every change of the list is an event
(``tag.created`` / ``tag.updated`` / ``tag.deleted``): open consoles offer the new list at once."""

from __future__ import annotations

import re
from typing import Any

from zingd.actor import Actor
from zingd.errors import Invalid, NotFound
from zingd.services.tickets import require_visible
from zingd.store import tickets as T
from zingd.store.db import Database, Tx
from zingd.store.rows import in_list

MODES = ("replace", "add", "remove")


def _clean(names: list[str]) -> list[str]:
    out = []
    for name in names:
        name = name.strip()
        if not name or len(name) > 40:
            raise Invalid(f"tag {name!r}: 1 to 40 characters", field="tags")
        if name not in out:
            out.append(name)
    return out


def check_color(value: str) -> str:
    """A colour as ``#rrggbb`` (``#rgb`` is widened), the form queues use and a terminal can show."""
    value = value.strip().lower()
    if re.fullmatch(r"#[0-9a-f]{3}", value):
        value = "#" + "".join(ch * 2 for ch in value[1:])
    if not re.fullmatch(r"#[0-9a-f]{6}", value):
        raise Invalid(f"color {value!r}: use #rrggbb or #rgb, like #1c7ed6", field="color")
    return value


def _emit(tx: Tx, tenant_id: int, tag_id: int, type_: str) -> dict[str, Any]:
    row = tx.one("SELECT * FROM tags WHERE id = ?", (tag_id,))
    tx.emit(tenant_id, type_, {"tag": row})
    return row


def ensure(tx: Tx, tenant_id: int, names: list[str]) -> list[int]:
    """The ids of ``names``, creating the missing ones (a supervisor's or an import's)."""
    ids = []
    for name in _clean(names):
        made = tx.execute("INSERT OR IGNORE INTO tags (tenant_id, name) VALUES (?, ?)", (tenant_id, name)).rowcount
        ids.append(tx.value("SELECT id FROM tags WHERE tenant_id = ? AND name = ?", (tenant_id, name)))
        if made:
            _emit(tx, tenant_id, ids[-1], "tag.created")
    return ids


def existing(tx: Tx, tenant_id: int, names: list[str]) -> list[int]:
    """The ids of the tags ``names``; an unknown one is ``not_found``, named, never created."""
    names = _clean(names)
    found = {r["name"]: r["id"] for r in tx.all(
        f"SELECT id, name FROM tags WHERE tenant_id = ? AND name IN {in_list(names)}", (tenant_id, *names))}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise NotFound(f"no tag {', '.join(map(repr, unknown))}: pick existing ones (tag.list); a supervisor "
                       "creates tags (tag.create, zingctl tags create NAME)", field="tags", unknown=unknown)
    return [found[n] for n in names]


def attachable(tx: Tx, actor: Actor, names: list[str]) -> list[int]:
    """The ids of the tags ``names`` an actor may put on a contact: a supervisor's new names are
    created (as ``tag.create`` would), an agent's must exist already."""
    if actor.at_least("supervisor"):
        return ensure(tx, actor.tenant_id, names)
    return existing(tx, actor.tenant_id, names)


def set_ticket_tags(tx: Tx, actor: Actor, ticket_id: int, names: list[str], mode: str = "replace") -> dict[str, Any]:
    """``replace`` the ticket's tags with ``names``, ``add`` them to its tags or ``remove`` them;
    every name must be an existing tag, whoever asks."""
    t = require_visible(tx, actor, ticket_id)
    ids = existing(tx, actor.tenant_id, names)
    if mode == "replace":
        tx.execute("DELETE FROM ticket_tags WHERE ticket_id = ?", (ticket_id,))
    if mode == "remove":
        tx.execute(f"DELETE FROM ticket_tags WHERE ticket_id = ? AND tag_id IN {in_list(ids)}", (ticket_id, *ids))
    else:
        tx.conn.executemany("INSERT OR IGNORE INTO ticket_tags (ticket_id, tag_id) VALUES (?, ?)",
                            [(ticket_id, i) for i in ids])
    now = [r["name"] for r in tx.all("SELECT g.name FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id "
                                     "WHERE tt.ticket_id = ? ORDER BY g.name", (ticket_id,))]
    T.log(tx, t, actor, "tags", tags=now)
    tx.audit(actor, "ticket.tag", "ticket", ticket_id, tags=now, mode=mode, names=_clean(names))
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
    """A new tag (``tag.created``), or a new colour for an existing one (``tag.updated``)."""
    color = check_color(color)
    [name] = _clean([name])
    tag_id = tx.value("SELECT id FROM tags WHERE tenant_id = ? AND name = ?", (actor.tenant_id, name))
    kind = "tag.updated" if tag_id is not None else "tag.created"
    if tag_id is None:
        tag_id = tx.insert("tags", {"tenant_id": actor.tenant_id, "name": name, "color": color})
    else:
        tx.execute("UPDATE tags SET color = ? WHERE id = ?", (color, tag_id))
    tx.audit(actor, "tag.create", "tag", tag_id, name=name)
    return _emit(tx, actor.tenant_id, tag_id, kind)


def delete(tx: Tx, actor: Actor, tag_id: int) -> dict[str, Any]:
    row = tx.one("SELECT * FROM tags WHERE id = ? AND tenant_id = ?", (tag_id, actor.tenant_id))
    if row is None:
        raise NotFound(f"no tag {tag_id}", id=tag_id)
    tx.execute("DELETE FROM tags WHERE id = ?", (tag_id,))
    tx.audit(actor, "tag.delete", "tag", tag_id, name=row["name"])
    tx.emit(actor.tenant_id, "tag.deleted", {"tag": row})
    return row


async def list_tags(db: Database, actor: Actor) -> list[dict[str, Any]]:
    return await db.all(
        "SELECT g.*, (SELECT count(*) FROM ticket_tags tt WHERE tt.tag_id = g.id) AS tickets, "
        "(SELECT count(*) FROM contact_tags ct WHERE ct.tag_id = g.id) AS contacts "
        "FROM tags g WHERE g.tenant_id = ? ORDER BY g.name", (actor.tenant_id,))
