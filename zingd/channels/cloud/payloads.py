"""Meta's webhook JSON (one change of one entry) into zing's normalized events. Pure functions: no
I/O, no clock but a message's missing timestamp; ``inbound`` hands the result to the daemon.

Who wrote: ``from`` (the phone's digits) and, since Meta's usernames, the business-scoped user id
(BSUID: ``from_user_id`` on the message, ``user_id`` on its ``contacts`` entry), which may arrive
without a phone. A known phone is the chat (``<digits>@s.whatsapp.net``) with the BSUID beside it
as ``sender_alt`` (``<bsuid>@bsuid``), so the contact store joins the two as it joins a neonize LID
to its phone; a BSUID alone is the chat, a placeholder until a message carries both.

Formats follow neonize's (``zingd/channels/whatsapp/inbound.py``) so the console shows a cloud
message as it shows the same kind from the other kind of number. Choices:
- interactive replies (buttons, lists) and template quick replies: the body is what the customer
  tapped (its title), as if typed, so menus and keywords work on it; a Flow's answer keeps its JSON;
- an ad's context (``referral``, click-to-WhatsApp) is kept as a last line of the body: it is the
  only place the agent would see which ad brought the customer;
- a kind zing does not know, Meta's ``unsupported`` and an order become ``unsupported`` with a
  readable body, never dropped; ``request_welcome`` (a chat opened, nothing written) is skipped;
- media carry Meta's media id: the file is fetched after the message is committed (``inbound``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from zingd.channels.base import AccountNotice, InboundMessage, Receipt

PHONE_SERVER = "@s.whatsapp.net"
BSUID_SERVER = "@bsuid"
GROUP_SERVER = "@g.us"
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
RECEIPT_TYPES = {"sent": "sent", "delivered": "delivered", "read": "read", "played": "played", "failed": "failed"}
# A BSUID is a country code, a dot and up to 128 letters and digits (a parent one has ".ENT."):
# anything else (an "@", spaces) is not one and could forge another address.
_BSUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,159}$")
_GROUP = re.compile(r"^[A-Za-z0-9+/=_-]{1,200}$")
# quality events that say the rating itself (the others say the limit moved: GET the number for it)
QUALITY_EVENTS = {"FLAGGED": "RED"}


@dataclass(slots=True)
class Incoming:
    """A message to store, and where its file is (Meta's media id, fetched after the commit)."""

    msg: InboundMessage
    media_id: str = ""
    mime: str = ""
    filename: str = ""


@dataclass(slots=True)
class Parsed:
    messages: list[Incoming] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    notices: list[AccountNotice] = field(default_factory=list)
    learned: list[tuple[str, str]] = field(default_factory=list)  # (phone, its new user id)
    changed: list[tuple[str, str]] = field(default_factory=list)  # (old phone, new phone): number changes
    skipped: list[str] = field(default_factory=list)             # what was left out, and why (for the log)


def digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def phone_jid(value: Any) -> str:
    number = digits(value)
    return f"{number}{PHONE_SERVER}" if number else ""


def bsuid_jid(value: Any) -> str:
    user_id = str(value or "").strip()
    return f"{user_id}{BSUID_SERVER}" if _BSUID.match(user_id) else ""


def address(phone: Any, user_id: Any) -> tuple[str, str]:
    """(chat, sender_alt): the phone when known, with the BSUID beside it; else the BSUID alone."""
    by_phone, by_id = phone_jid(phone), bsuid_jid(user_id)
    return (by_phone, by_id) if by_phone else (by_id, "")


def seconds(value: Any) -> float:
    try:
        ts = float(value)
    except (TypeError, ValueError):
        return time.time()
    return ts if ts > 0 else time.time()


def error_text(errors: Any) -> str:
    """"Title (code): details" of Meta's first error, "" for none."""
    if not errors or not isinstance(errors, list) or not isinstance(errors[0], dict):
        return ""
    e = errors[0]
    title = str(e.get("title") or e.get("message") or "error")
    details = str((e.get("error_data") or {}).get("details") or "")
    text = f"{title} ({e['code']})" if e.get("code") is not None else title
    return f"{text}: {details}" if details and details != title else text


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse(field_name: str, value: dict[str, Any]) -> Parsed:
    """One change (``entry[].changes[]``): its ``field`` and ``value``."""
    out = Parsed()
    value = _obj(value)
    if field_name == "messages":
        contacts = Contacts([_obj(c) for c in _list(value.get("contacts"))])
        for raw in _list(value.get("messages")):
            _message(out, _obj(raw), contacts, value.get("errors"))
        for raw in _list(value.get("statuses")):
            _status(out, _obj(raw))
        if not value.get("messages") and not value.get("statuses") and value.get("errors"):
            out.skipped.append(f"errors from Meta: {error_text(value.get('errors'))}")
    elif field_name == "smb_message_echoes":  # written in the WhatsApp Business app on the same number
        for raw in _list(value.get("message_echoes")):
            _message(out, _obj(raw), Contacts([]), None, echo=True)
    elif field_name == "message_template_status_update":
        out.notices.append(template_notice(value))
    elif field_name == "phone_number_quality_update":
        out.notices.append(quality_notice(value))
    elif field_name == "account_update":
        out.notices.append(AccountNotice("quality", {"event": str(value.get("event") or ""), **value}))
    else:
        out.skipped.append(f"field {field_name!r} (not one zing reads)")
    return out


def template_notice(value: dict[str, Any]) -> AccountNotice:
    """Approved, rejected, paused, disabled…: keyed by Meta's template id (and name + language)."""
    reason = value.get("reason")
    reason = "" if reason in (None, "NONE") else str(reason)
    info = _obj(value.get("other_info"))
    if not reason and info:
        reason = str(info.get("description") or info.get("title") or "")
    return AccountNotice("template", {
        "remote_id": str(value.get("message_template_id") or ""),
        "name": str(value.get("message_template_name") or ""),
        "language": str(value.get("message_template_language") or "").replace("-", "_"),
        "status": str(value.get("event") or "UNKNOWN").upper(),
        "reason": reason,
    })


def quality_notice(value: dict[str, Any]) -> AccountNotice:
    """The number's messaging limit (and, when FLAGGED, its rating) moved; the raw keys stay."""
    event = str(value.get("event") or "").upper()
    limit = value.get("max_daily_conversations_per_business") or value.get("current_limit")
    return AccountNotice("quality", {**value, "event": event, "quality_rating": QUALITY_EVENTS.get(event),
                                     "messaging_limit": str(limit) if limit not in (None, "") else None})


class Contacts:
    """A change's ``contacts``, indexed once by phone and by user id (a batch of many senders would
    otherwise scan them all for each message)."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.only = entries[0] if len(entries) == 1 else {}
        self.by_phone = {digits(c.get("wa_id")): c for c in reversed(entries) if c.get("wa_id")}
        self.by_user = {str(c["user_id"]): c for c in reversed(entries) if c.get("user_id")}

    def of(self, phone: str, user_id: str) -> dict[str, Any]:
        """The entry of a message's sender (the one with its ids, or the only one)."""
        return (phone and self.by_phone.get(phone)) or (user_id and self.by_user.get(user_id)) or self.only


def _message(out: Parsed, m: dict[str, Any], contacts: Contacts, change_errors: Any,
             echo: bool = False) -> None:
    wa_id = str(m.get("id") or "")
    kind = str(m.get("type") or "")
    if not wa_id:
        out.skipped.append(f"a {kind or 'message'} without an id")
        return
    if kind == "request_welcome":
        out.skipped.append(f"{wa_id}: the customer opened the chat (nothing written)")
        return
    system = _obj(m.get("system"))
    phone = digits(m.get("to") if echo else m.get("from"))
    user_id = str((m.get("to_user_id") if echo else m.get("from_user_id")) or "")
    contact = contacts.of(phone, user_id)
    phone = phone or digits(contact.get("wa_id"))
    user_id = user_id or str(contact.get("user_id") or "") or str(system.get("previous_user_id") or "")
    chat, alt = address(phone, user_id)
    if not chat:
        out.skipped.append(f"{wa_id}: no phone number or user id says who wrote it")
        return
    profile = _obj(contact.get("profile"))
    msg = InboundMessage(wa_id=wa_id, chat=chat, sender=chat, ts=seconds(m.get("timestamp")), sender_alt=alt,
                         push_name=str(profile.get("name") or profile.get("username") or contact.get("username")
                                       or ""),
                         from_me=echo)
    group = str(m.get("group_id") or "")
    if group and _GROUP.match(group):
        msg.chat, msg.is_group, msg.sender_alt = f"{group}{GROUP_SERVER}", True, ""
    context = _obj(m.get("context"))
    if context.get("id") and kind != "reaction":
        msg.quoted_wa_id = str(context["id"])
    incoming = Incoming(msg)
    _fill(out, incoming, kind, m, change_errors)
    referral = _obj(m.get("referral"))
    if referral and msg.type not in ("reaction", "system"):
        ad = " — ".join(str(referral[k]) for k in ("headline", "body", "source_url") if referral.get(k))
        msg.body = f"{msg.body}\n↪ ad: {ad}" if msg.body else f"↪ ad: {ad}"
    out.messages.append(incoming)


def _fill(out: Parsed, incoming: Incoming, kind: str, m: dict[str, Any], change_errors: Any) -> None:
    msg = incoming.msg
    content = _obj(m.get(kind))
    if kind == "text":
        msg.body = str(content.get("body") or "")
    elif kind in MEDIA_TYPES:
        msg.type, msg.body = kind, str(content.get("caption") or "")
        incoming.media_id = str(content.get("id") or "")
        incoming.mime = str(content.get("mime_type") or "")
        incoming.filename = str(content.get("filename") or "")
        if not incoming.media_id.isdigit():
            msg.type, msg.body = "unsupported", f"{kind} without a usable media id"
            incoming.media_id = ""
    elif kind == "location":
        msg.type, msg.body = "location", location_text(content)
    elif kind == "contacts":
        msg.type = "contact"
        msg.body = "\n".join(contact_card(_obj(c)) for c in _list(m.get("contacts")))
    elif kind == "reaction":  # an empty emoji: the reaction was removed (as neonize hands it over)
        msg.type, msg.body = "reaction", str(content.get("emoji") or "")
        msg.reaction_to = str(content.get("message_id") or "") or None
    elif kind == "interactive":
        _interactive(msg, content, m, change_errors)
    elif kind == "button":  # a template's quick-reply button
        msg.body = str(content.get("text") or content.get("payload") or "")
    elif kind == "edit":
        original = _obj(content.get("message"))
        msg.edit_of = str(content.get("original_message_id") or "") or None
        msg.type, msg.body = edited_content(original)
    elif kind in ("revoke", "deleted"):
        msg.type = "system"
        msg.revoke_of = str(content.get("original_message_id") or msg.quoted_wa_id or "") or None
        msg.quoted_wa_id = None
    elif kind == "system":
        _system(out, msg, _obj(m.get("system")))
    elif kind == "order":
        msg.type, msg.body = "unsupported", order_text(content)
    else:
        msg.type = "unsupported"
        what = _obj(m.get("unsupported")).get("type") or kind or "message"
        msg.body = error_text(m.get("errors")) or error_text(change_errors) or f"{what} (not supported)"


def _interactive(msg: InboundMessage, content: dict[str, Any], m: dict[str, Any], change_errors: Any) -> None:
    reply = _obj(content.get(str(content.get("type") or "")))
    if content.get("type") in ("button_reply", "list_reply"):
        msg.body = str(reply.get("title") or reply.get("id") or "")
    elif content.get("type") == "nfm_reply":  # a Flow's answer: its JSON is what the customer filled in
        msg.body = "\n".join(filter(None, (str(reply.get("body") or reply.get("name") or "flow"),
                                           str(reply.get("response_json") or ""))))
    else:
        msg.type = "unsupported"
        msg.body = error_text(m.get("errors")) or error_text(change_errors) or "interactive reply (not supported)"


def _system(out: Parsed, msg: InboundMessage, system: dict[str, Any]) -> None:
    """A number or user id change: said in the ticket, and the new address joins the contact."""
    msg.type, msg.body = "system", str(system.get("body") or system.get("type") or "")
    if system.get("type") == "user_changed_number" and (new := phone_jid(system.get("wa_id"))):
        if msg.chat.endswith(PHONE_SERVER) and new != msg.chat:
            out.changed.append((msg.chat, new))
    elif system.get("type") == "user_changed_user_id" and (new := bsuid_jid(system.get("user_id"))):
        old = bsuid_jid(system.get("previous_user_id")) or msg.sender_alt or msg.chat
        if old.endswith(BSUID_SERVER) and new != old:
            out.learned.append((msg.chat if msg.chat.endswith(PHONE_SERVER) else old, new))


def location_text(loc: dict[str, Any]) -> str:
    """"📍 lat,lng name address url", as neonize writes a location."""
    try:
        lat, lng = round(float(loc.get("latitude")), 6), round(float(loc.get("longitude")), 6)
    except (TypeError, ValueError):
        return "📍 (no coordinates)"
    labels = [str(loc.get(k) or "") for k in ("name", "address", "url")]
    return " ".join([f"📍 {lat},{lng}", *filter(None, labels)])


def contact_card(card: dict[str, Any]) -> str:
    """"👤 Name: +55 11 …", as neonize writes a shared contact."""
    name = _obj(card.get("name"))
    full = str(name.get("formatted_name") or " ".join(filter(None, (name.get("first_name"), name.get("last_name"))))
               or "")
    numbers = ", ".join(str(p.get("phone") or p.get("wa_id") or "") for p in map(_obj, _list(card.get("phones")))
                        if p.get("phone") or p.get("wa_id"))
    return f"👤 {full}: {numbers}" if numbers else f"👤 {full}"


def order_text(order: dict[str, Any]) -> str:
    items = [f"{i.get('quantity', 1)} × {i.get('product_retailer_id', '?')}"
             + (f" ({i['item_price']} {i.get('currency', '')})".rstrip() if i.get("item_price") is not None else "")
             for i in map(_obj, _list(order.get("product_items")))]
    lines = [f"🛒 order: {', '.join(items) or 'no items'}", str(order.get("text") or "")]
    return "\n".join(filter(None, lines))


def edited_content(message: dict[str, Any]) -> tuple[str, str]:
    """(type, new text) of an edit: edits change text or a caption, never media (as neonize's)."""
    kind = str(message.get("type") or "text")
    content = _obj(message.get(kind))
    if kind == "text":
        return "text", str(content.get("body") or "")
    return (kind if kind in MEDIA_TYPES else "unsupported"), str(content.get("caption") or "")


def _status(out: Parsed, s: dict[str, Any]) -> None:
    kind = RECEIPT_TYPES.get(str(s.get("status") or ""))
    wamid = str(s.get("id") or "")
    if kind is None or not wamid:
        out.skipped.append(f"status {s.get('status')!r} of {wamid or 'no message'}")
        return
    if s.get("recipient_type") == "group" and _GROUP.match(str(s.get("recipient_id") or "")):
        chat = f"{s['recipient_id']}{GROUP_SERVER}"
    else:
        chat = address(s.get("recipient_id"), s.get("recipient_user_id"))[0]
    error = ""
    if kind == "failed":
        error = error_text(s.get("errors")) or "Meta could not deliver it (no reason given)"
    out.receipts.append(Receipt(chat=chat, wa_ids=[wamid], type=kind, ts=seconds(s.get("timestamp")),
                                ours=[str(s.get("biz_opaque_callback_data") or "")], error=error))

