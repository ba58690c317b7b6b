"""Contacts and their WhatsApp addresses (phone JIDs and hidden LIDs)."""

from __future__ import annotations

from typing import Any

from zingd.store.db import Tx
from zingd.store.rows import with_json

SELECT = "SELECT * FROM contacts"


def number_of(jid: str) -> str:
    """The contact number for a JID: digits for phones, the raw id for groups and LIDs."""
    user, _, server = jid.partition("@")
    user = user.split(":")[0].split(".")[0]
    if server in ("s.whatsapp.net", "c.us", ""):
        return user
    if server == "g.us":
        return f"{user}@g.us"
    return f"{user}@{server}"


def view(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return with_json(row, "custom_fields")


def get(tx: Tx, tenant_id: int, contact_id: int) -> dict[str, Any] | None:
    return view(tx.one(f"{SELECT} WHERE tenant_id = ? AND id = ?", (tenant_id, contact_id)))


def by_jid(tx: Tx, tenant_id: int, jid: str) -> dict[str, Any] | None:
    return tx.one(
        "SELECT c.* FROM contact_ids i JOIN contacts c ON c.id = i.contact_id WHERE i.tenant_id = ? AND i.jid = ?",
        (tenant_id, jid),
    )


def map_jid(tx: Tx, tenant_id: int, jid: str, contact_id: int) -> None:
    tx.execute("INSERT OR IGNORE INTO contact_ids (tenant_id, jid, contact_id) VALUES (?,?,?)",
               (tenant_id, jid, contact_id))


def resolve(tx: Tx, tenant_id: int, jid: str, alt_jid: str = "", push_name: str = "",
            is_group: bool = False) -> dict[str, Any]:
    """Find-or-create the one contact behind a JID (and its alternate address)."""
    row = by_jid(tx, tenant_id, jid)
    known = row is not None  # found by this address: nothing to map for it
    if row is None and alt_jid:
        row = by_jid(tx, tenant_id, alt_jid)
    if row is None:
        # Prefer the phone address for the number when one of the two is a phone JID.
        phone = next((j for j in (jid, alt_jid) if j.endswith("@s.whatsapp.net")), jid)
        number = number_of(phone)
        row = tx.one(f"{SELECT} WHERE tenant_id = ? AND number = ?", (tenant_id, number))
        if row is None:
            cid = tx.insert("contacts", {
                "tenant_id": tenant_id, "number": number, "push_name": push_name, "is_group": int(is_group),
                "created_at": tx.now, "updated_at": tx.now,
            })
            row = tx.one(f"{SELECT} WHERE id = ?", (cid,))
    elif push_name and push_name != row["push_name"] and not is_group:
        tx.execute("UPDATE contacts SET push_name = ?, updated_at = ? WHERE id = ?", (push_name, tx.now, row["id"]))
        row["push_name"] = push_name
    if not known:
        map_jid(tx, tenant_id, jid, row["id"])
    if alt_jid:
        map_jid(tx, tenant_id, alt_jid, row["id"])
    return row


def chat_jid(tx: Tx, contact: dict[str, Any]) -> str:
    """Where to send to reach a contact: a phone JID if known, else any mapped address."""
    rows = tx.all("SELECT jid FROM contact_ids WHERE contact_id = ?", (contact["id"],))
    jids = [r["jid"] for r in rows]
    for suffix in ("@g.us", "@s.whatsapp.net", "@lid"):
        for jid in jids:
            if jid.endswith(suffix):
                return jid
    number = contact["number"]
    return number if "@" in number else f"{number}@s.whatsapp.net"
