"""Reacting to a message: an agent puts one emoji on a customer's message (or on zing's own), or takes it off.

A reaction is a message of its own (type ``reaction``, ``reaction_to`` = the message, body = the emoji,
"" = taken off), queued through the outbox like any other so it goes out once, in order, after the message
it names (the outbox sends a number's messages by id, so a reaction to a queued message leaves after it,
under the id the network gave it). A number has one reaction per message on WhatsApp: a new one replaces
it, the same one again changes nothing. It is not an answer: it doesn't take a pending ticket, count as the
first response, clear unread or become the ticket's last message.

On a cloud number a reaction is a free-form message, so it follows WhatsApp's 24-hour window
(``zingd/services/window.py``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from zingd.actor import Actor
from zingd.errors import Conflict, Invalid, NotFound
from zingd.services import window
from zingd.services.tickets import require_owner
from zingd.store import messages as M
from zingd.store import tickets as T
from zingd.store.db import Tx

ZWJ = "\u200d"
MAX_CODEPOINTS = 32  # the longest emoji sequences (families, flags of regions) are well under this
# What may follow an emoji's base: presentation selectors, skin tones, the keycap, a subdivision flag's tags.
MODIFIERS = frozenset({0xFE0E, 0xFE0F, 0x20E3, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)})
KEYCAP_BASES = frozenset("0123456789#*")
REGIONAL = range(0x1F1E6, 0x1F200)
# Emoji that Unicode files under punctuation or letters-like symbols rather than "So".
OTHER_BASES = frozenset({0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D})


def _base(ch: str) -> bool:
    cp = ord(ch)
    return (unicodedata.category(ch) == "So" and cp >= 0xA9) or cp in OTHER_BASES or 0x1F000 <= cp <= 0x1FAFF


def is_one_emoji(text: str) -> bool:
    """One emoji as WhatsApp shows one: a base with its modifiers, a keycap, a flag, or such pieces joined
    by zero-width joiners (👩‍💻). Words, several emoji or a bare modifier are not."""
    if not text or len(text) > MAX_CODEPOINTS:
        return False
    parts = text.split(ZWJ)
    for part in parts:
        core = part.rstrip("".join(map(chr, MODIFIERS)))
        keycap = part.endswith("\u20e3")
        if keycap and len(parts) == 1 and core in KEYCAP_BASES:
            continue
        if len(parts) == 1 and len(core) == 2 and all(ord(c) in REGIONAL for c in core):
            continue  # a country flag: two regional indicators
        if len(core) != 1 or not _base(core) or keycap:
            return False
    return True


def _standing(tx: Tx, message_id: int) -> dict[str, Any] | None:
    """The number's reaction on a message now: its latest own reaction row that did not fail."""
    return tx.one(f"SELECT {M.COLUMNS} FROM messages WHERE reaction_to = ? AND direction = 'out' "
                  "AND ack != 'failed' ORDER BY id DESC LIMIT 1", (message_id,))


def react_unit(tx: Tx, actor: Actor, message_id: int, emoji: str) -> dict[str, Any]:
    """Queue the reaction (or its removal, emoji "") and return its message; the standing one when it says
    the same already (a repeat after a lost answer sends nothing twice)."""
    emoji = unicodedata.normalize("NFC", emoji.strip())
    if emoji and not is_one_emoji(emoji):
        raise Invalid("emoji must be one emoji (e.g. 👍), or \"\" to take the reaction off", field="emoji")
    target = M.get(tx, message_id)
    t = T.get_visible(tx, actor, target["ticket_id"]) if target is not None else None
    if t is None or target["tenant_id"] != actor.tenant_id:  # a message of a ticket the caller can't see
        raise NotFound(f"no message {message_id}", id=message_id)
    if t["status"] == "closed":
        raise Conflict(f"ticket {t['id']} is closed; reopen it to react", status="closed")
    require_owner(actor, t, "react in")
    if target["reaction_to"] is not None or target["type"] in ("reaction", "system") or target["deleted"]:
        raise Conflict(f"message {message_id} is {_what(target)}: there is nothing to react to", id=message_id)
    if target["direction"] == "out" and target["ack"] == "failed":
        raise Conflict(f"message {message_id} never reached WhatsApp (it failed): retry it first", id=message_id)
    window.require_open(tx, t["connection_id"], t["contact_id"])  # a reaction is no template
    standing = _standing(tx, message_id)
    current = standing["body"] if standing is not None else ""
    if standing is None and not emoji:
        raise Conflict(f"message {message_id} has no reaction to take off", id=message_id)
    if emoji == current:
        return standing
    msg = M.insert(tx, {
        "tenant_id": t["tenant_id"], "ticket_id": t["id"], "connection_id": t["connection_id"],
        "contact_id": t["contact_id"], "wa_id": M.new_wa_id(), "direction": "out", "type": "reaction",
        "body": emoji, "reaction_to": message_id, "user_id": actor.user_id, "ack": "queued",
    })
    tx.insert("outbox", {"message_id": msg["id"], "tenant_id": t["tenant_id"], "connection_id": t["connection_id"],
                         "next_attempt_at": tx.now})
    tx.emit(t["tenant_id"], "message.created", {"message": msg, "ticket": t}, ticket_id=t["id"])
    tx.audit(actor, "message.react", "message", msg["id"], ticket_id=t["id"], reaction_to=message_id,
             removed=not emoji)
    return msg


def _what(message: dict[str, Any]) -> str:
    if message["deleted"]:
        return "deleted"
    return "a reaction" if message["reaction_to"] is not None or message["type"] == "reaction" else "a system line"

