"""Inbound flow: a channel event becomes a contact, a ticket and a message.

This is the ChannelSink every channel reports to. ``message`` returns only
after the message is committed, which is what lets a channel acknowledge it to
the network; a redelivered WhatsApp id changes nothing.
"""

from __future__ import annotations

import base64
import logging
import math
import time
from typing import TYPE_CHECKING, Any

from zingd.channels.base import AccountNotice, InboundMessage, Receipt, StateChange
from zingd.services import routing, sla
from zingd.services.tickets import RATING_PROMPT
from zingd.store import contacts as C
from zingd.store import messages as M
from zingd.store import tickets as T
from zingd.store.db import Tx
from zingd.store.rows import dumps, loads

if TYPE_CHECKING:
    from zingd.config import TicketSettings
    from zingd.metrics import Metrics
    from zingd.store.db import Database

log = logging.getLogger(__name__)
RATING_THANKS = "Obrigado pela avaliação! / Thanks for your rating!"
OPT_OUT_KEYWORDS = ("SAIR", "STOP", "PARAR", "CANCELAR", "UNSUBSCRIBE")
OPT_OUT_REPLY = ("Pronto: você não receberá mais mensagens automáticas. / "
                 "Done: you won't receive automated messages anymore.")
CAMPAIGN_REPLY_WINDOW_S = 7 * 86400


def _preview(msg: InboundMessage) -> str:
    return (msg.body or f"[{msg.type}]")[:200]


def _open_ticket(tx: Tx, tenant_id: int, connection_id: int, contact: dict[str, Any],
                 reopen_window_s: float) -> tuple[dict[str, Any], bool]:
    """The contact has no active ticket: reopen a recently closed one, or start one (True)."""
    if reopen_window_s > 0:
        last = tx.one("SELECT * FROM tickets WHERE connection_id = ? AND contact_id = ? AND status = 'closed' "
                      "AND closed_at >= ? ORDER BY closed_at DESC LIMIT 1",
                      (connection_id, contact["id"], tx.now - reopen_window_s))
        if last is not None:
            status = "open" if last["user_id"] else "pending"
            tx.execute("UPDATE tickets SET status = ?, closed_at = NULL, updated_at = ? WHERE id = ?",
                       (status, tx.now, last["id"]))
            T.log(tx, last, None, "reopen", by="customer")
            sla.reopened(tx, last["id"])
            last["status"] = status
            return last, False
    # A reply to a campaign opens a ticket linked to it (the latest campaign that reached this contact).
    campaign_id = tx.value(
        "SELECT r.campaign_id FROM campaign_recipients r WHERE r.contact_id = ? AND r.state IN "
        "('sent', 'delivered', 'read') AND r.updated_at >= ? ORDER BY r.id DESC LIMIT 1",
        (contact["id"], tx.now - CAMPAIGN_REPLY_WINDOW_S))
    tid = tx.insert("tickets", {
        "tenant_id": tenant_id, "connection_id": connection_id, "contact_id": contact["id"], "status": "pending",
        "is_group": contact["is_group"], "last_message_at": tx.now, "created_at": tx.now, "updated_at": tx.now,
        "campaign_id": campaign_id,
    })
    return tx.one("SELECT * FROM tickets WHERE id = ?", (tid,)), True


def _upgrade(tx: Tx, stored: dict[str, Any], msg: InboundMessage) -> None:
    media = msg.media
    tx.execute("UPDATE messages SET type = ?, body = ?, media_path = ?, media_mime = ?, media_size = ?, "
               "media_error = ?, updated_at = ? WHERE id = ?",
               (msg.type, msg.body, media and media.path, media and media.mime, media and media.size,
                media and media.error, tx.now, stored["id"]))
    tx.emit(stored["tenant_id"], "message.updated",
            {"message": M.get(tx, stored["id"]), "ticket": T.get(tx, stored["tenant_id"], stored["ticket_id"])},
            ticket_id=stored["ticket_id"])


def _apply_change(tx: Tx, connection_id: int, msg: InboundMessage) -> bool:
    """Edits and deletes touch the message they name; False if that message is unknown."""
    target = M.by_wa_id(tx, connection_id, msg.edit_of or msg.revoke_of)
    if target is None:
        return False
    if msg.edit_of:
        tx.execute("UPDATE messages SET body = ?, edited = 1, updated_at = ? WHERE id = ?",
                   (msg.body, tx.now, target["id"]))
    else:
        tx.execute("UPDATE messages SET deleted = 1, updated_at = ? WHERE id = ?", (tx.now, target["id"]))
    tx.emit(target["tenant_id"], "message.updated",
            {"message": M.get(tx, target["id"]), "ticket": T.get(tx, target["tenant_id"], target["ticket_id"])},
            ticket_id=target["ticket_id"])
    return True


RATING_WINDOW_S = 24 * 3600


def _rating_ticket(tx: Tx, connection_id: int, contact_id: int) -> dict[str, Any] | None:
    """A recently closed ticket of this contact that asked for a 1-5 rating and got none yet."""
    return tx.one(
        "SELECT * FROM tickets WHERE connection_id = ? AND contact_id = ? AND status = 'closed' "
        "AND json_extract(chatbot_state, '$.stage') = 'rating' AND closed_at >= ? ORDER BY closed_at DESC LIMIT 1",
        (connection_id, contact_id, tx.now - RATING_WINDOW_S))


def _rating_answer(body: str) -> int | None:
    """The 1-5 a survey answer gives (any script's decimal digits), or None."""
    answer = body.strip()
    return int(answer) if answer.isdecimal() and len(answer) == 1 and 1 <= int(answer) <= 5 else None


def _take_rating(tx: Tx, ticket: dict[str, Any], msg: InboundMessage, backlog: bool) -> str | None:
    """A message while the survey waits: a 1-5 answer is stored on the closed ticket ("rated"). The
    first thing else is asked again, once, and kept on that ticket too ("asked"): a stray "7" or
    "ok" must not open a ticket and meet the menu. After that, or on an opt-out keyword, the survey
    lets go (None): the message opens a ticket as any other."""
    state = loads(ticket["chatbot_state"])
    rating = _rating_answer(msg.body) if msg.type == "text" else None
    if rating is not None:
        tx.execute("UPDATE tickets SET rating = ?, chatbot_state = '{}', updated_at = ? WHERE id = ?",
                   (rating, tx.now, ticket["id"]))
        T.log(tx, ticket, None, "rated", rating=rating)
        return "rated"
    if state.get("asked_again") or msg.call or _opt_out_word(tx, ticket["tenant_id"], msg.body) is not None:
        tx.execute("UPDATE tickets SET chatbot_state = '{}' WHERE id = ?", (ticket["id"],))
        return None
    tx.execute("UPDATE tickets SET chatbot_state = ? WHERE id = ?",
               (dumps({"stage": "rating", "asked_again": True}), ticket["id"]))
    if not backlog:
        prompt = routing.tenant_settings(tx, ticket["tenant_id"]).get("rating_prompt", RATING_PROMPT)
        routing.send_bot(tx, ticket, prompt)
    return "asked"


def _opt_out_word(tx: Tx, tenant_id: int, body: str) -> dict[str, Any] | None:
    """The tenant's settings when ``body`` is one of its opt-out keywords, else None."""
    word = body.strip().upper()
    if not word or len(word) > 40 or " " in word:  # keywords are one word: skip the settings read
        return None
    settings = routing.tenant_settings(tx, tenant_id)
    if word not in [k.upper() for k in settings.get("opt_out_keywords", OPT_OUT_KEYWORDS)]:
        return None
    return settings


def _opts_out(tx: Tx, contact: dict[str, Any], body: str) -> str | None:
    """The customer answered with an opt-out keyword: no more automated messages to them.
    Returns the confirmation to send, or None."""
    settings = _opt_out_word(tx, contact["tenant_id"], body)
    if settings is None:
        return None
    tx.execute("UPDATE contacts SET opted_out = 1, updated_at = ? WHERE id = ?", (tx.now, contact["id"]))
    tx.audit(None, "contact.opt_out", "contact", contact["id"], keyword=body.strip(), tenant_id=contact["tenant_id"])
    return settings.get("opt_out_reply", OPT_OUT_REPLY)


def _call_reply(tx: Tx, ticket: dict[str, Any]) -> str:
    """The answer to a call zing can't take: the connection's ``call_reply`` ("" for none)."""
    return routing.connection_settings(tx, ticket["connection_id"])[1].get("call_reply", "")


def _name_group(tx: Tx, contact: dict[str, Any], name: str) -> None:
    """A group is named after its subject (from group info), never after whoever wrote first."""
    if name and name != contact["push_name"]:
        tx.execute("UPDATE contacts SET push_name = ?, updated_at = ? WHERE id = ?", (name, tx.now, contact["id"]))
        contact["push_name"] = name


def ingest(tx: Tx, tenant_id: int, connection_id: int, msg: InboundMessage,
           reopen_window_s: float, backlog_age_s: float = math.inf) -> dict[str, Any] | None:
    """One inbound message, one unit of work. None when it was already stored (or ignored).

    A message WhatsApp timestamped more than ``backlog_age_s`` ago (the daemon passes ``[tickets]
    backlog_age_s``; left out, nothing is) is backlog: zing was offline or reconnecting. It is
    stored with ``offline`` set and routed without a word to the customer (no menu, greeting,
    out-of-hours, call or rating reply: hours late they would answer nothing). Only an opt-out is
    still confirmed: it changes what zing may send. Wall time, not the daemon's clock: WhatsApp's
    timestamp is wall time too.
    """
    if M.exists(tx, connection_id, msg.wa_id):
        stored = M.by_wa_id(tx, connection_id, msg.wa_id)
        if stored["type"] == "undecryptable" and msg.type != "undecryptable":
            _upgrade(tx, stored, msg)  # WhatsApp resent what it couldn't decrypt the first time
        elif stored["media_error"] and msg.media is not None and msg.media.error != stored["media_error"]:
            _upgrade(tx, stored, msg)  # its file fetched again after a failed download (or the new error)
        return None
    if (msg.edit_of or msg.revoke_of) and _apply_change(tx, connection_id, msg):
        return None
    groups = routing.connection_settings(tx, connection_id)[1].get("groups", "route") if msg.is_group else None
    if groups == "ignore":
        return None
    alt = "" if msg.is_group else msg.sender_alt
    name = msg.group_name if msg.is_group else "" if msg.from_me else msg.push_name
    contact = C.resolve(tx, tenant_id, msg.chat, alt, name, msg.is_group)
    if msg.is_group:
        _name_group(tx, contact, msg.group_name)
    backlog = time.time() - msg.ts > backlog_age_s
    # a group hears zing's chatbot, greetings and out-of-hours notes only if its number says "chatbot":
    # its members talk to each other, and every one of their messages would get an answer
    quiet = backlog or groups == "route"
    rated = survey = None
    ticket = T.active(tx, connection_id, contact["id"])
    if ticket is None and not msg.from_me:  # a survey is only pending once the ticket is closed
        pending = _rating_ticket(tx, connection_id, contact["id"])
        if pending is not None and (survey := _take_rating(tx, pending, msg, backlog)):
            rated = pending
    if rated is not None:
        ticket, created = rated, False
    elif ticket is not None:
        created = False
    else:
        ticket, created = _open_ticket(tx, tenant_id, connection_id, contact, reopen_window_s)
    quoted = M.by_wa_id(tx, connection_id, msg.quoted_wa_id) if msg.quoted_wa_id else None
    reacted = M.by_wa_id(tx, connection_id, msg.reaction_to) if msg.reaction_to else None
    media = msg.media
    row = M.insert(tx, {
        "tenant_id": tenant_id, "ticket_id": ticket["id"], "connection_id": connection_id,
        "contact_id": contact["id"], "wa_id": msg.wa_id, "direction": "out" if msg.from_me else "in",
        "from_device": int(msg.from_me), "type": msg.type, "body": msg.body,
        "media_path": media.path if media else None, "media_mime": media.mime if media else None,
        "media_size": media.size if media else None, "media_error": media.error if media else None,
        "quoted_id": quoted["id"] if quoted else None, "reaction_to": reacted["id"] if reacted else None,
        "participant": msg.sender if msg.is_group else None, "ack": "sent" if msg.from_me else "received",
        "edited": int(bool(msg.edit_of)), "deleted": int(bool(msg.revoke_of)),
        "wa_ts": msg.ts, "offline": int(backlog), "media_seconds": msg.media_seconds,
        "media_waveform": base64.b64encode(msg.waveform).decode() if msg.waveform else None,
    })
    unread = 0 if msg.from_me or rated else 1
    tx.execute(
        "UPDATE tickets SET last_message = ?, last_message_at = ?, unread = unread + ?, updated_at = ?, "
        "last_inbound_at = CASE WHEN ? THEN ? ELSE last_inbound_at END, "
        "last_inbound = CASE WHEN ? THEN ? ELSE last_inbound END WHERE id = ?",
        (_preview(msg), tx.now, unread, tx.now, unread, tx.now, not msg.from_me, _preview(msg), ticket["id"]))
    view = T.get(tx, tenant_id, ticket["id"])
    if created:
        tx.emit(tenant_id, "ticket.created", {"ticket": view}, ticket_id=ticket["id"])
    tx.emit(tenant_id, "message.created", {"message": row, "ticket": view}, ticket_id=ticket["id"])
    if rated is not None:
        if not backlog and survey == "rated":
            routing.send_bot(tx, ticket, routing.tenant_settings(tx, tenant_id).get("rating_thanks", RATING_THANKS))
        T.emit_updated(tx, ticket["id"], tenant_id)
    elif msg.call:
        if not quiet and (reply := _call_reply(tx, ticket)):
            routing.send_bot(tx, ticket, reply)
            T.emit_updated(tx, ticket["id"], tenant_id)
    elif not msg.from_me and groups != "route" and (reply := _opts_out(tx, contact, msg.body)):
        routing.send_bot(tx, ticket, reply)
        T.emit_updated(tx, ticket["id"], tenant_id)
    elif not msg.from_me and routing.route(tx, ticket, contact, msg.body, created, quiet=quiet):
        T.emit_updated(tx, ticket["id"], tenant_id)
    return row


def _receipted(tx: Tx, connection_id: int, wa_id: str, ours: str) -> dict[str, Any] | None:
    """The outbound message a receipt names: by the network's id, else by zing's own id that travelled
    in the message, which then takes the network's id (so quotes and reactions to it match)."""
    msg = M.by_wa_id(tx, connection_id, wa_id)
    if msg is None and ours and (msg := M.by_wa_id(tx, connection_id, ours)) is not None \
            and msg["direction"] == "out":
        tx.execute("UPDATE messages SET wa_id = ? WHERE id = ?", (wa_id, msg["id"]))
        msg["wa_id"] = wa_id
    return msg if msg is not None and msg["direction"] == "out" else None


def apply_receipt(tx: Tx, connection_id: int, receipt: Receipt) -> int:
    moved = 0
    ours = receipt.ours or [""] * len(receipt.wa_ids)
    for wa_id, own in zip(receipt.wa_ids, ours, strict=True):
        msg = _receipted(tx, connection_id, wa_id, own)
        if msg is None:
            continue
        if receipt.type == "failed":
            if msg["ack"] in ("read", "played", "failed"):
                continue
            tx.execute("DELETE FROM outbox WHERE message_id = ?", (msg["id"],))  # the network gave up on it
            moved += M.advance_ack(tx, msg, "failed", receipt.error or "the network could not deliver it")
        else:
            if msg["ack"] in ("queued", "unconfirmed"):  # proof it left: never send it again
                tx.execute("DELETE FROM outbox WHERE message_id = ?", (msg["id"],))
                tx.execute("UPDATE messages SET sent_at = ifnull(sent_at, ?) WHERE id = ?", (tx.now, msg["id"]))
            moved += M.advance_ack(tx, msg, receipt.type)
    return moved


def _text(value: Any) -> str | None:
    """A notice's field as text (None when absent): what Meta sends is not trusted to be a string."""
    return None if value is None or isinstance(value, (dict, list)) else str(value)


# Meta's template-status events that name a status by another word (a reinstated template is approved again).
TEMPLATE_EVENTS = {"REINSTATED": "APPROVED"}


def apply_notice(tx: Tx, connection_id: int, notice: AccountNotice) -> None:
    """A cloud number's quality or messaging limit changed, or one of its templates' status: kept on
    the account (or the template) and told to the consoles."""
    tenant_id = tx.value("SELECT tenant_id FROM connections WHERE id = ?", (connection_id,))
    if tenant_id is None:
        return
    data = notice.data
    if notice.kind == "quality":
        tx.execute("UPDATE cloud_accounts SET quality_rating = ifnull(?, quality_rating), "
                   "messaging_limit = ifnull(?, messaging_limit), last_notice = ?, updated_at = ? "
                   "WHERE connection_id = ?",
                   (_text(data.get("quality_rating")), _text(data.get("messaging_limit")), dumps(data), tx.now,
                    connection_id))
        row = tx.one("SELECT status, status_reason FROM connections WHERE id = ?", (connection_id,))
        tx.emit(tenant_id, "connection.updated", {"id": connection_id, "status": row["status"],
                                                  "reason": row["status_reason"], "notice": data})
        return
    remote_id = _text(data.get("remote_id"))
    found = tx.one("SELECT id FROM templates WHERE connection_id = ? AND ((? != '' AND remote_id = ?) "
                   "OR (name = ? AND language = ?))",
                   (connection_id, remote_id or "", remote_id or "", _text(data.get("name")),
                    _text(data.get("language"))))
    if found is None:
        return  # not synced yet: the next template.sync brings it with its status
    status = _text(data.get("status")) or "UNKNOWN"
    status, reason = TEMPLATE_EVENTS.get(status, status), _text(data.get("reason")) or ""
    tx.execute("UPDATE templates SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
               (status, reason, tx.now, found["id"]))
    row = tx.one("SELECT name, language FROM templates WHERE id = ?", (found["id"],))
    tx.emit(tenant_id, "template.updated", {"id": found["id"], "connection_id": connection_id, **row,
                                            "status": status, "reason": reason})


def learn_ids(tx: Tx, tenant_id: int, pairs: list[tuple[str, str]]) -> None:
    """(address, the address WhatsApp knows it by) pairs: a phone's LID (a history sync) or Cloud API
    user id (a customer who changed number) folds a placeholder of it into its person (``C.learn``); a phone's account JID (a lookup before a send) joins the
    contact it was typed for (``C.learn_number``)."""
    for known, alias in pairs:
        if alias.endswith(C.HIDDEN) and known.endswith("@s.whatsapp.net"):
            C.learn(tx, tenant_id, known, alias)
        else:
            C.learn_number(tx, tenant_id, known, alias)


def apply_state(tx: Tx, connection_id: int, change: StateChange) -> None:
    row = tx.one("SELECT tenant_id, status, status_reason FROM connections WHERE id = ?", (connection_id,))
    if row is None:
        return
    if change.phone:
        tx.execute("UPDATE connections SET phone = ? WHERE id = ?", (change.phone, connection_id))
    if (row["status"], row["status_reason"]) != (change.state, change.reason):
        tx.execute("UPDATE connections SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
                   (change.state, change.reason, tx.now, connection_id))
    data = {"id": connection_id, "status": change.state, "reason": change.reason}
    if change.qr:
        data["qr"] = change.qr
    if change.pair_code:
        data["pair_code"] = change.pair_code
    tx.emit(row["tenant_id"], "connection.updated", data)


class Inbound:
    """Stores what the channels report (through ``Channels``, which knows each connection's tenant)."""

    def __init__(self, db: Database, tickets: TicketSettings, metrics: Metrics) -> None:
        self.db, self.tickets, self.metrics = db, tickets, metrics
        self.ingested = 0
        self.duplicates = 0

    async def message(self, tenant_id: int, connection_id: int, msg: InboundMessage) -> None:
        window = self.tickets.reopen_window_minutes * 60.0
        handed = time.perf_counter()
        row = await self.db.write(ingest, tenant_id, connection_id, msg, window, self.tickets.backlog_age_s)
        self.metrics.inbound_seconds.observe(time.perf_counter() - handed)
        if row is None:
            self.duplicates += 1
        else:
            self.ingested += 1

    async def receipt(self, connection_id: int, receipt: Receipt) -> None:
        await self.db.write(apply_receipt, connection_id, receipt)

    async def state(self, connection_id: int, change: StateChange) -> None:
        await self.db.write(apply_state, connection_id, change)

    async def learn_ids(self, tenant_id: int, pairs: list[tuple[str, str]]) -> None:
        await self.db.write(learn_ids, tenant_id, pairs)

    async def notice(self, connection_id: int, notice: AccountNotice) -> None:
        await self.db.write(apply_notice, connection_id, notice)

    async def number_changed(self, tenant_id: int, old: str, new: str) -> None:
        await self.db.write(C.change_number, tenant_id, old, new)
