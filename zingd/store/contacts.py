"""Contacts and their WhatsApp addresses: phone JIDs, and the ids that hide a phone: neonize's LIDs
(``<id>@lid``) and the Cloud API's business-scoped user ids (``<bsuid>@bsuid``, Meta's usernames).
A hidden id is joined to its phone the same way, whichever kind of number learned it."""

from __future__ import annotations

from typing import Any

from zingd.store import tickets as T
from zingd.store.db import Tx
from zingd.store.rows import dumps, with_json

SELECT = "SELECT * FROM contacts"
HIDDEN = ("@lid", "@bsuid")  # addresses that stand for a person whose phone may not be known


def number_of(jid: str) -> str:
    """The contact number for a JID: digits for phones, the raw id for groups, LIDs and BSUIDs."""
    user, _, server = jid.partition("@")
    if server == "bsuid":  # "BR.1502576394655843": its dot is part of the id, not a device suffix
        return jid
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


def is_placeholder(contact: dict[str, Any]) -> bool:
    """A contact known only by a hidden id (LID, BSUID): no phone number yet, waiting for the network
    to say whose it is."""
    return contact["number"].endswith(HIDDEN)


def _phone_and_lid(jid: str, alt_jid: str) -> tuple[str, str] | None:
    """(phone, hidden id) when the two addresses are one of each: the network telling who a LID (or a
    BSUID) is."""
    pair = sorted((jid, alt_jid), key=lambda j: j.endswith(HIDDEN))
    return (pair[0], pair[1]) if pair[0].endswith("@s.whatsapp.net") and pair[1].endswith(HIDDEN) else None


def learn(tx: Tx, tenant_id: int, phone_jid: str, lid_jid: str) -> None:
    """WhatsApp said this LID is this phone (a message's SenderAlt, a lookup, a history sync).

    A placeholder made for the LID before anyone knew this becomes the person's one contact, in
    this same unit of work: folded into the contact of that phone if there is one, else given the
    number. Learning a mapping already known changes nothing. A LID already on a contact that has
    a number is never folded into another contact with a number: that is a number change or
    WhatsApp's mistake, not a placeholder, and only a person can tell (``contact.merge``)."""
    by_lid = by_jid(tx, tenant_id, lid_jid)
    number = number_of(phone_jid)
    by_phone = by_jid(tx, tenant_id, phone_jid) or tx.one(
        f"{SELECT} WHERE tenant_id = ? AND number = ?", (tenant_id, number))
    if by_lid is None:  # no placeholder: the LID only needs to point at the person, if known
        if by_phone is not None:
            map_jid(tx, tenant_id, lid_jid, by_phone["id"])
        return
    if by_phone is not None and by_phone["id"] == by_lid["id"]:
        return
    if not is_placeholder(by_lid):
        if by_phone is None:
            map_jid(tx, tenant_id, phone_jid, by_lid["id"])
        return
    hidden = number_of(lid_jid).rsplit("@", 1)[0]
    why = (f"Meta said user id {hidden} is +{number}" if lid_jid.endswith("@bsuid")
           else f"WhatsApp said LID {hidden} is +{number}")
    if by_phone is None:
        tx.execute("UPDATE contacts SET number = ?, updated_at = ? WHERE id = ?", (number, tx.now, by_lid["id"]))
        map_jid(tx, tenant_id, phone_jid, by_lid["id"])
        tx.audit(None, "contact.number_learned", "contact", by_lid["id"], tenant_id=tenant_id,
                 was=by_lid["number"], number=number)
        tx.emit(tenant_id, "contact.updated", {"contact": get(tx, tenant_id, by_lid["id"])})
        for ticket in tx.all("SELECT id FROM tickets WHERE contact_id = ? AND status != 'closed'", (by_lid["id"],)):
            T.emit_updated(tx, ticket["id"], tenant_id)  # its rows showed the LID: now the number
        return
    fold(tx, tenant_id, view(by_lid), view(by_phone), None, why)


def learn_number(tx: Tx, tenant_id: int, typed_jid: str, account_jid: str) -> None:
    """WhatsApp's lookup said the number zing was given is this account's (Brazil's ninth digit: a
    mobile registered before it was added is known to WhatsApp without it, so +55 11 98765-4321 is
    551187654321). The customer's replies come from the account: they must reach the same contact.
    The account's address joins the contact; a contact already made for the account (the customer
    wrote first) is the same person by WhatsApp's word, and the typed one folds into it."""
    typed = by_jid(tx, tenant_id, typed_jid) or tx.one(
        f"{SELECT} WHERE tenant_id = ? AND number = ?", (tenant_id, number_of(typed_jid)))
    if typed is None:
        return
    account = by_jid(tx, tenant_id, account_jid) or tx.one(
        f"{SELECT} WHERE tenant_id = ? AND number = ?", (tenant_id, number_of(account_jid)))
    if account is None:
        map_jid(tx, tenant_id, account_jid, typed["id"])
    elif account["id"] != typed["id"]:
        fold(tx, tenant_id, view(typed), view(account), None,
             f"WhatsApp said +{number_of(typed_jid)} is +{number_of(account_jid)}")


def change_number(tx: Tx, tenant_id: int, old_jid: str, new_jid: str) -> None:
    """The customer changed phone number (Meta said so): the new number becomes their contact's, and
    replies go there. Unless the new number is already another contact's (a recycled number, its last
    owner's): one person is never folded into another on that word alone; the agent can merge them."""
    person = by_jid(tx, tenant_id, old_jid)
    if person is None:
        return
    number = number_of(new_jid)
    other = by_jid(tx, tenant_id, new_jid) or tx.one(f"{SELECT} WHERE tenant_id = ? AND number = ?",
                                                     (tenant_id, number))
    if other is not None and other["id"] != person["id"]:
        return
    map_jid(tx, tenant_id, new_jid, person["id"])
    tx.execute("UPDATE contacts SET number = ?, updated_at = ? WHERE id = ?", (number, tx.now, person["id"]))


def _join(tx: Tx, keep: dict[str, Any], drop: dict[str, Any]) -> None:
    """Two active tickets of one person on one number become the older one: the other's messages,
    notes, tags and schedules move in (message ids keep their order), its agent and queue too if
    the older had none; the other is closed, both logs saying so. Closed before its contact
    changes, so "one active ticket per (number, contact)" holds at every step."""
    lead = keep if keep["user_id"] or not drop["user_id"] else drop
    newer = max(keep, drop, key=lambda t: (t["last_message_at"], t["id"]))
    heard = max(keep, drop, key=lambda t: (t["last_inbound_at"] or 0, t["id"]))  # the customer's last word
    for table in ("messages", "notes", "schedules"):
        tx.execute(f"UPDATE {table} SET ticket_id = ? WHERE ticket_id = ?", (keep["id"], drop["id"]))
    tx.execute("INSERT OR IGNORE INTO ticket_tags (ticket_id, tag_id) SELECT ?, tag_id FROM ticket_tags "
               "WHERE ticket_id = ?", (keep["id"], drop["id"]))
    tx.execute("UPDATE tickets SET status = 'closed', closed_at = ?, unread = 0, chatbot_state = '{}', "
               "updated_at = ? WHERE id = ?", (tx.now, tx.now, drop["id"]))
    firsts = [t["first_response_at"] for t in (keep, drop) if t["first_response_at"]]
    tx.execute(
        "UPDATE tickets SET status = ?, user_id = ?, queue_id = ?, accepted_at = ?, chatbot_state = ?, "
        "unread = ?, last_message = ?, last_message_at = ?, last_inbound_at = ?, last_inbound = ?, "
        "first_response_at = ?, updated_at = ? WHERE id = ?",
        (lead["status"], lead["user_id"], lead["queue_id"] or keep["queue_id"] or drop["queue_id"],
         lead["accepted_at"], lead["chatbot_state"], keep["unread"] + drop["unread"], newer["last_message"],
         newer["last_message_at"], max(keep["last_inbound_at"] or 0, drop["last_inbound_at"] or 0) or None,
         heard["last_inbound"],
         min(firsts) if firsts else None, tx.now, keep["id"]))
    T.log(tx, drop, None, "merged", into=keep["id"])
    T.log(tx, keep, None, "merged", ticket_id=drop["id"])


def fold(tx: Tx, tenant_id: int, source: dict[str, Any], target: dict[str, Any], actor: Any,
         reason: str = "") -> dict[str, Any]:
    """The one merge: ``source`` is folded into ``target`` and deleted. Tickets (an active pair on
    one number joined), messages, WhatsApp ids, tags, custom fields, schedules, campaign recipients,
    the wallet owner and earlier merges follow; ``target`` keeps what it has. Recorded (who, or
    zing itself when ``actor`` is None, and why) for ``contact.get``, audited, and published: the
    source disappears (``merged``) and every ticket that moved is redrawn."""
    sid, tid = source["id"], target["id"]
    pairs = tx.all("SELECT a.id AS a, b.id AS b FROM tickets a JOIN tickets b ON a.connection_id = b.connection_id "
                   "WHERE a.contact_id = ? AND b.contact_id = ? AND a.status != 'closed' AND b.status != 'closed'",
                   (sid, tid))
    before = {t["id"]: t for t in tx.all("SELECT * FROM tickets WHERE contact_id IN (?, ?)", (sid, tid))}
    joined = []
    for pair in pairs:
        keep, drop = sorted((before[pair["a"]], before[pair["b"]]), key=lambda t: t["id"])
        _join(tx, keep, drop)
        joined.append([keep["id"], drop["id"]])
    moved = [i for i, t in before.items() if t["contact_id"] == sid]
    # a message is its ticket's contact's: found through the tickets (messages.contact_id has no index)
    tx.execute("UPDATE messages SET contact_id = ? WHERE ticket_id IN (SELECT id FROM tickets WHERE contact_id "
               "IN (?, ?)) AND contact_id = ?", (tid, sid, tid, sid))
    for table in ("tickets", "schedules"):
        tx.execute(f"UPDATE {table} SET contact_id = ? WHERE contact_id = ?", (tid, sid))
    # a campaign that reached both keeps the target's row
    tx.execute("UPDATE OR IGNORE campaign_recipients SET contact_id = ? WHERE contact_id = ?", (tid, sid))
    tx.execute("DELETE FROM campaign_recipients WHERE contact_id = ?", (sid,))
    tx.execute("UPDATE contact_ids SET contact_id = ? WHERE contact_id = ?", (tid, sid))
    tx.execute("UPDATE contact_merges SET contact_id = ? WHERE contact_id = ?", (tid, sid))
    tx.execute("INSERT OR IGNORE INTO contact_tags (contact_id, tag_id) SELECT ?, tag_id FROM contact_tags "
               "WHERE contact_id = ?", (tid, sid))
    fields = {**source["custom_fields"], **target["custom_fields"]}
    tx.execute("UPDATE contacts SET custom_fields = ?, name = CASE WHEN name = '' THEN ? ELSE name END, "
               "push_name = CASE WHEN push_name = '' THEN ? ELSE push_name END, "
               "email = CASE WHEN email = '' THEN ? ELSE email END, opted_out = max(opted_out, ?), "
               "owner_user_id = coalesce(owner_user_id, ?), updated_at = ? WHERE id = ?",
               (dumps(fields), source["name"], source["push_name"], source["email"], source["opted_out"],
                source["owner_user_id"], tx.now, tid))
    tx.execute("DELETE FROM contacts WHERE id = ?", (sid,))
    user_id = getattr(actor, "user_id", None)
    tx.insert("contact_merges", {"tenant_id": tenant_id, "contact_id": tid, "merged_id": sid,
                                 "merged_number": source["number"], "user_id": user_id, "reason": reason,
                                 "tickets_joined": dumps(joined), "created_at": tx.now})
    audit = {"merged": sid, "number": source["number"], "joined": joined}
    if actor is None:
        audit.update(tenant_id=tenant_id, reason=reason)
    tx.audit(actor, "contact.merge", "contact", tid, **audit)
    merged = get(tx, tenant_id, tid)
    tx.emit(tenant_id, "contact.updated", {"contact": merged, "merged": sid})
    into = {drop: keep for keep, drop in joined}
    for ticket_id in sorted({*moved, *into, *into.values()}):
        was = before[ticket_id]
        data: dict[str, Any] = {"ticket": T.get(tx, tenant_id, ticket_id),
                                "was": {k: was[k] for k in ("user_id", "queue_id", "status")}}
        if ticket_id in into:
            data["merged_into"] = into[ticket_id]  # a console showing it can follow the conversation there
        tx.emit(tenant_id, "ticket.updated", data, ticket_id=ticket_id)
    return merged


def resolve(tx: Tx, tenant_id: int, jid: str, alt_jid: str = "", push_name: str = "",
            is_group: bool = False) -> dict[str, Any]:
    """Find-or-create the one contact behind a JID (and its alternate address); a phone <-> LID
    pair first folds a placeholder of the LID into the person (``learn``)."""
    if alt_jid and (pair := _phone_and_lid(jid, alt_jid)):
        learn(tx, tenant_id, *pair)
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
    own = f"{contact['number']}@s.whatsapp.net"  # of several phones, the contact's number (a changed one)
    jids = sorted((r["jid"] for r in rows), key=lambda j: j != own)
    for suffix in ("@g.us", "@s.whatsapp.net", *HIDDEN):
        for jid in jids:
            if jid.endswith(suffix):
                return jid
    number = contact["number"]
    return number if "@" in number else f"{number}@s.whatsapp.net"
