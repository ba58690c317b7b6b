"""Meta's webhook payloads as the tests build them, in the shapes of Meta's own examples (the
``messages`` webhook reference, its status, system and group pages, and the business-scoped user id
page) and of the real deliveries pywa keeps in ``tests/data/updates``: ``value(...)`` is one
``messages`` change, ``envelope(...)`` wraps changes into the body Meta POSTs.

Ids are Meta-shaped (``wamid.HBgM…``, 13-16 digit numeric ids, ``BR.<digits>`` user ids); the
default phone-number and business-account ids are FakeGraph's, so a payload built here reaches
the fake's number unless a test names another."""

from __future__ import annotations

import itertools
import time
from typing import Any

PHONE_NUMBER_ID = "1090000000001"
WABA_ID = "2090000000001"
DISPLAY_PHONE = "5511400000001"
_ids = itertools.count(1)


def wamid() -> str:
    """A fresh inbound message id shaped like Meta's (base64 of the chat and a hex id)."""
    return f"wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYIDNBQjk{next(_ids):08X}AA=="


def contact(wa_id: str | None = None, name: str = "", user_id: str | None = None,
            username: str | None = None) -> dict[str, Any]:
    """One ``contacts`` entry: profile name, phone (``wa_id``) and BSUID (``user_id``) when Meta shares them."""
    profile: dict[str, Any] = {"name": name}
    if username:
        profile["username"] = username
    out: dict[str, Any] = {"profile": profile}
    if wa_id:
        out["wa_id"] = wa_id
    if user_id:
        out["user_id"] = user_id
    return out


def message(kind: str, content: Any = None, *, sender: str | None = "5511987654321", user_id: str | None = None,
            id: str | None = None, ts: float | None = None, context: dict | None = None, **extra: Any) -> dict:
    """One ``messages[]`` object: ``from`` (left out when ``sender`` is None: a username-only customer),
    ``from_user_id``, the type and its object."""
    m: dict[str, Any] = {"id": id or wamid(), "timestamp": str(int(ts or time.time())), "type": kind}
    if sender:
        m["from"] = sender
    if user_id:
        m["from_user_id"] = user_id
    if context:
        m["context"] = context
    if content is not None:
        m[kind] = content
    m.update(extra)
    return m


def text(body: str, **kw: Any) -> dict:
    return message("text", {"body": body}, **kw)


def media(kind: str, media_id: str, mime: str, caption: str | None = None, filename: str | None = None,
          **kw: Any) -> dict:
    """image/video/document/sticker/audio: Meta sends the media id, mime type and sha256, never the file."""
    obj: dict[str, Any] = {"mime_type": mime, "sha256": "rQ9X5kFQWcQ1Y1bV0xq2m9ZyB3Qe9sT2yZc5p3wL8aA=", "id": media_id}
    if caption is not None:
        obj["caption"] = caption
    if filename is not None:
        obj["filename"] = filename
    if kind == "audio":
        obj["voice"] = kw.pop("voice", True)
    if kind == "sticker":
        obj["animated"] = False
    return message(kind, obj, **kw)


def location(lat: float, lng: float, name: str | None = None, address: str | None = None,
             url: str | None = None, **kw: Any) -> dict:
    obj: dict[str, Any] = {"latitude": lat, "longitude": lng}
    obj.update({k: v for k, v in (("name", name), ("address", address), ("url", url)) if v})
    return message("location", obj, **kw)


def shared_contacts(*cards: tuple[str, str], **kw: Any) -> dict:
    """(formatted name, phone) cards."""
    return message("contacts", None, contacts=[
        {"name": {"formatted_name": name, "first_name": name.split()[0]},
         "phones": [{"phone": phone, "type": "CELL"}]} for name, phone in cards], **kw)


def reaction(to: str, emoji: str, **kw: Any) -> dict:
    return message("reaction", {"message_id": to, "emoji": emoji}, **kw)


def button_reply(reply_id: str, title: str, to: str, **kw: Any) -> dict:
    return message("interactive", {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
                   context={"from": DISPLAY_PHONE, "id": to}, **kw)


def list_reply(reply_id: str, title: str, description: str, to: str, **kw: Any) -> dict:
    return message("interactive", {"type": "list_reply", "list_reply": {
        "id": reply_id, "title": title, "description": description}}, context={"from": DISPLAY_PHONE, "id": to}, **kw)


def flow_reply(response_json: str, **kw: Any) -> dict:
    return message("interactive", {"type": "nfm_reply", "nfm_reply": {
        "name": "flow", "body": "Sent", "response_json": response_json}}, **kw)


def quick_reply(text_: str, payload: str, to: str, **kw: Any) -> dict:
    """A template's quick-reply button (type ``button``)."""
    return message("button", {"payload": payload, "text": text_}, context={"from": DISPLAY_PHONE, "id": to}, **kw)


def edit(original: str, body: str, **kw: Any) -> dict:
    return message("edit", {"original_message_id": original,
                            "message": {"type": "text", "text": {"body": body}}}, **kw)


def revoke(original: str, **kw: Any) -> dict:
    return message("revoke", {"original_message_id": original}, **kw)


def unsupported(**kw: Any) -> dict:
    return message("unsupported", None, errors=[{
        "code": 131051, "title": "Message type unknown", "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."}}], **kw)


def changed_number(old: str, new: str, name: str = "Cliente") -> dict:
    """Meta's system message: no ``contacts`` array, ``from`` is the old number."""
    return message("system", {"body": f"User {name} changed from {old} to {new}", "wa_id": new,
                              "type": "user_changed_number"}, sender=old)


def order(*items: tuple[str, int, float], currency: str = "BRL", **kw: Any) -> dict:
    return message("order", {"catalog_id": "354160437058781", "text": "", "product_items": [
        {"product_retailer_id": sku, "quantity": qty, "item_price": price, "currency": currency}
        for sku, qty, price in items]}, **kw)


def value(*messages: dict, contacts: list[dict] | None = None, statuses: list[dict] | None = None,
          phone_number_id: str = PHONE_NUMBER_ID, display_phone: str = DISPLAY_PHONE, **extra: Any) -> dict:
    """A ``messages`` change value; ``contacts`` defaults to one entry per distinct sender."""
    v: dict[str, Any] = {"messaging_product": "whatsapp",
                         "metadata": {"display_phone_number": display_phone, "phone_number_id": phone_number_id}}
    if messages:
        if contacts is None:
            seen: dict[tuple, dict] = {}
            for m in messages:
                key = (m.get("from"), m.get("from_user_id"))
                if m["type"] != "system" and key not in seen:
                    seen[key] = contact(m.get("from"), "Cliente", m.get("from_user_id"))
            contacts = list(seen.values())
        if contacts:
            v["contacts"] = contacts
        v["messages"] = list(messages)
    if statuses:
        v["statuses"] = statuses
    v.update(extra)
    return v


def status(wamid_: str, state: str, recipient: str | None = "5511987654321", ours: str | None = None,
           errors: list[dict] | None = None, user_id: str | None = None, ts: float | None = None) -> dict:
    """One ``statuses[]`` object, with the conversation and pricing Meta adds to sent ones."""
    s: dict[str, Any] = {"id": wamid_, "status": state, "timestamp": str(int(ts or time.time()))}
    if recipient:
        s["recipient_id"] = recipient
    if user_id:
        s["recipient_user_id"] = user_id
    if ours:
        s["biz_opaque_callback_data"] = ours
    if state == "sent":
        s["conversation"] = {"id": "7270432eae37498234f4444b35ffc5", "expiration_timestamp": str(int(time.time()) + 86400),
                             "origin": {"type": "service"}}
        s["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if errors:
        s["errors"] = errors
    return s


def meta_error(code: int, title: str, details: str = "") -> dict:
    e: dict[str, Any] = {"code": code, "title": title, "message": title,
                         "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}
    if details:
        e["error_data"] = {"details": details}
    return e


def template_status(template_id: str, name: str, language: str, event: str, reason: str | None = None) -> dict:
    return {"event": event, "message_template_id": int(template_id), "message_template_name": name,
            "message_template_language": language, "reason": reason}


def quality(event: str, limit: str | None = None, display_phone: str = DISPLAY_PHONE) -> dict:
    v: dict[str, Any] = {"display_phone_number": display_phone, "event": event}
    if limit:
        v["max_daily_conversations_per_business"] = limit
    return v


def envelope(*changes: tuple[str, dict], waba_id: str = WABA_ID, entries: list[dict] | None = None) -> dict:
    """The POST body: one entry (the business account) with one change per (field, value); or the
    given ``entries`` (``entry(...)``) for a batch of several."""
    return {"object": "whatsapp_business_account",
            "entry": entries if entries is not None else [entry(*changes, waba_id=waba_id)]}


def entry(*changes: tuple[str, dict], waba_id: str = WABA_ID) -> dict:
    return {"id": waba_id, "time": int(time.time()),
            "changes": [{"value": v, "field": f} for f, v in changes]}
