"""Contacts: list and search, details with their WhatsApp ids, edits.

Contacts are the tenant's address book: every user reads and edits them. Two fields are not an
agent's to undo (``may_change``): the opt-out a customer asked for, and a colleague's wallet. A
contact's tickets are listed as ``ticket.list`` would show them to the caller."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from zingd.actor import Actor
from zingd.errors import Conflict, Forbidden, Invalid, NotFound
from zingd.services.contact_import import Parsed, as_typed, normalize_number
from zingd.services.messages import fts_query
from zingd.services.tags import ensure, set_contact_tags
from zingd.store import contacts as C
from zingd.store import tickets as T
from zingd.store.db import Database, Tx
from zingd.store.rows import dumps, in_list, loads, with_json

if TYPE_CHECKING:
    from zingd.channels.manager import Channels

log = logging.getLogger(__name__)


async def list_contacts(db: Database, actor: Actor, query: str | None, after_id: int | None,
                        limit: int, tag: str | None = None) -> list[dict[str, Any]]:
    """Contacts by id, or matching a search; with ``tag``, only those tagged so (an unknown tag is
    an error, not an empty page: a typo must not look like nobody)."""
    limit = max(1, min(limit, 500))
    where, args = "", []
    if tag is not None:
        tag_id = await db.value("SELECT id FROM tags WHERE tenant_id = ? AND name = ?", (actor.tenant_id, tag.strip()))
        if tag_id is None:
            raise NotFound(f"no tag {tag.strip()!r}", field="tag")
        where, args = " AND c.id IN (SELECT contact_id FROM contact_tags WHERE tag_id = ?)", [tag_id]
    if query:
        rows = await db.all(
            "SELECT c.* FROM contacts_fts f JOIN contacts c ON c.id = f.rowid "
            f"WHERE contacts_fts MATCH ? AND c.tenant_id = ? AND c.id > ?{where} ORDER BY c.id LIMIT ?",
            (fts_query(query), actor.tenant_id, after_id or 0, *args, limit))
    else:
        rows = await db.all(f"SELECT c.* FROM contacts c WHERE c.tenant_id = ? AND c.id > ?{where} "
                            "ORDER BY c.id LIMIT ?", (actor.tenant_id, after_id or 0, *args, limit))
    return [C.view(r) for r in rows]


def _set_profile(tx: Tx, contact_id: int, push_name: str, avatar_url: str) -> None:
    tx.execute("UPDATE contacts SET push_name = ?, avatar_url = ?, updated_at = ? WHERE id = ?",
               (push_name, avatar_url, tx.now, contact_id))


async def refresh_profile(db: Database, channels: Channels, row: dict[str, Any], jids: list[str]) -> None:
    """Lazily refresh push name and picture from the number the contact last wrote to."""
    cid = await db.value("SELECT connection_id FROM tickets WHERE contact_id = ? ORDER BY id DESC LIMIT 1",
                         (row["id"],))
    channel = channels.get(cid) if cid is not None else None
    if channel is None or channel.state != "connected" or not jids:
        return
    try:
        info = await asyncio.wait_for(channel.profile(jids[0]), 3.0)
    except Exception as e:  # a profile is a nicety: never fail the read for it
        log.debug("profile of %s unavailable: %s", jids[0], e)
        return
    push, url = info.get("push_name") or row["push_name"], info.get("picture_url") or row["avatar_url"]
    if (push, url) != (row["push_name"], row["avatar_url"]):
        await db.write(_set_profile, row["id"], push, url)
        row.update(push_name=push, avatar_url=url)


async def get(db: Database, channels: Channels, actor: Actor, contact_id: int) -> dict[str, Any]:
    """A contact with its WhatsApp ids, tags, wallet owner, what was merged into it, and its tickets."""
    row = C.view(await db.one("SELECT * FROM contacts WHERE id = ? AND tenant_id = ?",
                              (contact_id, actor.tenant_id)))
    if row is None:
        raise NotFound(f"no contact {contact_id}", id=contact_id)
    row["ids"] = [r["jid"] for r in await db.all(
        "SELECT jid FROM contact_ids WHERE contact_id = ? ORDER BY jid", (contact_id,))]
    await refresh_profile(db, channels, row, [j for j in row["ids"] if not j.endswith("@lid")])
    row["tags"] = [r["name"] for r in await db.all(
        "SELECT g.name FROM contact_tags ct JOIN tags g ON g.id = ct.tag_id WHERE ct.contact_id = ? ORDER BY g.name",
        (contact_id,))]
    row["owner"] = await db.one("SELECT id, name FROM users WHERE id = ?", (row["owner_user_id"],)) \
        if row["owner_user_id"] else None
    row["merges"] = [with_json(m, "tickets_joined") for m in await db.all(
        "SELECT m.merged_id, m.merged_number, m.user_id, u.name AS user_name, m.reason, m.tickets_joined, "
        "m.created_at FROM contact_merges m LEFT JOIN users u ON u.id = m.user_id WHERE m.contact_id = ? "
        "ORDER BY m.id", (contact_id,))]
    cond, params = T.visibility(actor)
    row["tickets"] = await db.all(
        "SELECT t.id, t.status, t.connection_id, t.user_id, t.created_at, t.closed_at, t.last_message "
        f"FROM tickets t WHERE t.contact_id = ? AND {cond} ORDER BY t.created_at DESC LIMIT 50",
        (contact_id, *params))
    return row


def may_change(actor: Actor, row: dict[str, Any], changes: dict[str, Any]) -> None:
    """What an agent may not change of a contact (supervisors and up may): opting a customer back
    in (opting one out, on their request, is anyone's), and the wallet owner, except putting an
    unowned contact in their own wallet or taking their own out of it."""
    if actor.at_least("supervisor"):
        return
    if "opted_out" in changes and row["opted_out"] and not changes["opted_out"]:
        raise Forbidden("the customer opted out; only a supervisor can opt them back in", field="opted_out")
    owner = changes.get("owner_user_id", row["owner_user_id"])
    if owner != row["owner_user_id"]:
        if row["owner_user_id"] not in (None, actor.user_id):
            raise Forbidden(f"contact {row['id']} is in a colleague's wallet; only a supervisor can change "
                            "its owner", field="owner_user_id")
        if owner not in (None, actor.user_id):
            raise Forbidden("an agent can put a contact only in their own wallet (owner_user_id: your id, "
                            "or null)", field="owner_user_id")


def update(tx: Tx, actor: Actor, contact_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    row = C.get(tx, actor.tenant_id, contact_id)
    if row is None:
        raise NotFound(f"no contact {contact_id}", id=contact_id)
    may_change(actor, row, changes)
    if isinstance(changes.get("name"), str):
        changes["name"] = changes["name"].strip()
    if "custom_fields" in changes:
        fields = changes["custom_fields"]
        if any(v is not None and not isinstance(v, (str, int, float, bool)) for v in fields.values()):
            raise Invalid("custom field values must be text, numbers or booleans", field="custom_fields")
        merged = {**row["custom_fields"], **fields}  # a null value removes the field
        changes["custom_fields"] = dumps({k: v for k, v in merged.items() if v is not None})
    if "opted_out" in changes:
        changes["opted_out"] = int(changes["opted_out"])
    if changes.get("owner_user_id") is not None and not tx.value(  # None clears the wallet owner
            "SELECT 1 FROM users WHERE id = ? AND tenant_id = ?", (changes["owner_user_id"], actor.tenant_id)):
        raise NotFound(f"no user {changes['owner_user_id']}", id=changes["owner_user_id"])
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE contacts SET {sets}, updated_at = ? WHERE id = ?", (*changes.values(), tx.now, contact_id))
    tx.audit(actor, "contact.update", "contact", contact_id, **{k: v for k, v in changes.items()})
    updated = C.get(tx, actor.tenant_id, contact_id)
    tx.emit(actor.tenant_id, "contact.updated", {"contact": updated})
    return with_json(updated, "custom_fields")


async def tenant_region(db: Database, tenant_id: int) -> str:
    """The region local phone numbers are read in (tenant setting, default BR)."""
    return loads(await db.value("SELECT settings FROM tenants WHERE id = ?", (tenant_id,))).get("region", "BR")


async def resolve_number(db: Database, tenant_id: int, raw: str) -> str:
    """The number a person or script means: bare digits that are a contact's number already (zing's
    own output, passed back) are that contact; anything else is normalized in the tenant's region."""
    typed = as_typed(raw)
    if typed and await db.value("SELECT 1 FROM contacts WHERE tenant_id = ? AND number = ?", (tenant_id, typed)):
        return typed
    try:
        return normalize_number(raw, await tenant_region(db, tenant_id))
    except Invalid as e:
        raise Invalid(e.message, field="number") from None


def _insert(tx: Tx, tenant_id: int, row: dict[str, Any]) -> int:
    cid = tx.insert("contacts", {
        "tenant_id": tenant_id, "number": row["number"], "name": row.get("name", ""), "email": row.get("email", ""),
        "custom_fields": dumps(row.get("custom_fields") or {}), "created_at": tx.now, "updated_at": tx.now,
    })
    C.map_jid(tx, tenant_id, f"{row['number']}@s.whatsapp.net", cid)
    return cid


def create(tx: Tx, actor: Actor, row: dict[str, Any]) -> dict[str, Any]:
    if tx.value("SELECT 1 FROM contacts WHERE tenant_id = ? AND number = ?", (actor.tenant_id, row["number"])):
        raise Conflict(f"a contact with number {row['number']} exists", field="number")
    cid = _insert(tx, actor.tenant_id, row)
    if row.get("tags"):
        set_contact_tags(tx, actor, cid, row["tags"])
    tx.audit(actor, "contact.create", "contact", cid, number=row["number"])
    return C.get(tx, actor.tenant_id, cid)


def import_rows(tx: Tx, actor: Actor, parsed: Parsed, dry_run: bool, skip_invalid: bool) -> dict[str, Any]:
    """Create or merge every valid row in one transaction; with invalid rows, nothing unless skip_invalid."""
    # a row is the contact whose number it was typed as (zing's own export), else its normalized number
    numbers = sorted({n for r in parsed.rows for n in (r["number"], r.get("as_typed")) if n})
    existing: dict[str, dict[str, Any]] = {}
    for at in range(0, len(numbers), 500):  # per IN (...): far below any SQLite variable limit
        chunk = numbers[at:at + 500]
        existing.update((r["number"], r) for r in tx.all(
            f"SELECT * FROM contacts WHERE tenant_id = ? AND number IN {in_list(chunk)}", (actor.tenant_id, *chunk)))
    matches = [existing.get(r.get("as_typed") or "") or existing.get(r["number"]) for r in parsed.rows]
    report = {
        "rows": parsed.total, "valid": len(parsed.rows) + parsed.duplicates, "invalid": parsed.errors,
        "merged_in_file": parsed.duplicates, "to_create": matches.count(None),
        "to_update": len(matches) - matches.count(None), "dry_run": dry_run, "imported": False,
    }
    if dry_run:
        return report
    if parsed.errors and not skip_invalid:
        raise Invalid(f"{len(parsed.errors)} invalid row(s); nothing imported (fix them, or skip_invalid)",
                      report=report)
    for row, current in zip(parsed.rows, matches):
        if current is None:
            cid = _insert(tx, actor.tenant_id, row)
        else:
            cid = current["id"]
            fields = {**loads(current["custom_fields"]), **row["custom_fields"]}
            tx.execute("UPDATE contacts SET name = ?, email = ?, custom_fields = ?, updated_at = ? WHERE id = ?",
                       (row["name"] or current["name"], row["email"] or current["email"], dumps(fields), tx.now, cid))
        if row["tags"]:
            for tag_id in ensure(tx, actor.tenant_id, row["tags"]):
                tx.execute("INSERT OR IGNORE INTO contact_tags (contact_id, tag_id) VALUES (?, ?)", (cid, tag_id))
    tx.audit(actor, "contact.import", "contact", None, created=report["to_create"], updated=report["to_update"],
             skipped=len(parsed.errors))
    report["imported"] = True
    return report


def delete(tx: Tx, actor: Actor, contact_id: int) -> dict[str, Any]:
    row = C.get(tx, actor.tenant_id, contact_id)
    if row is None:
        raise NotFound(f"no contact {contact_id}", id=contact_id)
    if tx.value("SELECT 1 FROM tickets WHERE contact_id = ? LIMIT 1", (contact_id,)):
        raise Conflict("this contact has conversations; merge it into another instead of deleting it")
    tx.execute("DELETE FROM campaign_recipients WHERE contact_id = ?", (contact_id,))
    tx.execute("DELETE FROM schedules WHERE contact_id = ?", (contact_id,))
    tx.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
    tx.audit(actor, "contact.delete", "contact", contact_id, number=row["number"])
    return row


def merge(tx: Tx, actor: Actor, source_id: int, target_id: int) -> dict[str, Any]:
    """Fold one contact into another: tickets, messages, WhatsApp ids and tags follow (``C.fold``,
    the merge zing also makes by itself when WhatsApp maps a LID placeholder to a phone). Two
    active tickets on one number are refused here: a person chose to merge two addresses, and
    which conversation goes on is theirs to say."""
    source, target = _mergeable(tx, actor, source_id, target_id)
    return C.fold(tx, actor.tenant_id, source, target, actor)


def merge_preview(tx: Tx, actor: Actor, source_id: int, target_id: int) -> dict[str, Any]:
    """What ``merge`` would move, checked as it would be, changing nothing: so a person sees the
    tickets, messages, tags and fields that follow (and the fields the target keeps) before saying yes."""
    source, target = _mergeable(tx, actor, source_id, target_id)
    tickets = [r["id"] for r in tx.all("SELECT id FROM tickets WHERE contact_id = ? ORDER BY id", (source_id,))]
    tags = tx.all("SELECT g.name FROM contact_tags ct JOIN tags g ON g.id = ct.tag_id WHERE ct.contact_id = ? "
                  "AND ct.tag_id NOT IN (SELECT tag_id FROM contact_tags WHERE contact_id = ?) ORDER BY g.name",
                  (source_id, target_id))
    fields, kept = source["custom_fields"], target["custom_fields"]
    return {
        "dry_run": True, "id": source_id, "into_id": target_id,
        "tickets": tickets,
        "messages": tx.value(f"SELECT count(*) FROM messages WHERE ticket_id IN {in_list(tickets)}", tuple(tickets)),
        "tags": [r["name"] for r in tags],
        "fields": {k: v for k, v in fields.items() if k not in kept},
        "fields_kept": {k: kept[k] for k in fields if k in kept and kept[k] != fields[k]},
        "ids": [r["jid"] for r in tx.all("SELECT jid FROM contact_ids WHERE contact_id = ? ORDER BY jid",
                                         (source_id,))],
        "schedules": tx.value("SELECT count(*) FROM schedules WHERE contact_id = ?", (source_id,)),
    }


def _mergeable(tx: Tx, actor: Actor, source_id: int, target_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two contacts of a merge, refused as the merge would refuse them."""
    if source_id == target_id:
        raise Invalid("a contact can't be merged into itself")
    source, target = C.get(tx, actor.tenant_id, source_id), C.get(tx, actor.tenant_id, target_id)
    if source is None or target is None:
        missing = source_id if source is None else target_id
        raise NotFound(f"no contact {missing}", id=missing)
    clash = tx.one("SELECT a.id AS a, b.id AS b FROM tickets a JOIN tickets b ON a.connection_id = b.connection_id "
                   "WHERE a.contact_id = ? AND b.contact_id = ? AND a.status != 'closed' AND b.status != 'closed'",
                   (source_id, target_id))
    if clash:
        raise Conflict(f"both contacts have an active ticket on the same number ({clash['a']}, {clash['b']}); "
                       "close one first", tickets=[clash["a"], clash["b"]])
    return source, target


async def export(db: Database, actor: Actor) -> list[dict[str, Any]]:
    rows = await db.all(
        "SELECT c.id, c.number, c.name, c.push_name, c.email, c.opted_out, c.custom_fields, c.created_at, "
        "(SELECT group_concat(g.name, ';') FROM contact_tags ct JOIN tags g ON g.id = ct.tag_id "
        " WHERE ct.contact_id = c.id) AS tags FROM contacts c WHERE c.tenant_id = ? ORDER BY c.id",
        (actor.tenant_id,))
    return [{**C.view(r), "tags": sorted(r["tags"].split(";")) if r["tags"] else []} for r in rows]
