"""Translate neonize events into the daemon's normalized events.

This runs on neonize's callback thread, so the blocking calls it makes (media
download, the LID -> phone lookup) never touch the daemon's event loop. It reads
protos by field name only and imports nothing from neonize.

Deliberate choices:
- nothing is filtered by age: offline messages that whatsmeow replays on
  reconnect are ordinary message events and flow through like live ones;
- a kind of message zing does not know becomes ``unsupported`` with the proto
  field as its body, never dropped;
- skipped on purpose (logged at debug): status updates (``status@broadcast``),
  key-distribution-only messages and protocol messages other than revoke, edit
  and disappearing-timer changes (history sync, app-state keys…): they are
  transport plumbing, not something a customer wrote;
- an undecryptable message WhatsApp itself hides (DECRYPT_FAIL_HIDE, e.g. a
  failed reaction) is skipped too; the shown kind becomes ``undecryptable``.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zingd.channels.base import InboundMessage, Media, Receipt
from zingd.durable import write_atomic

log = logging.getLogger(__name__)

STATUS_CHAT = "status@broadcast"
# Set alongside real content (or alone, as plumbing); never the content itself.
METADATA_FIELDS = frozenset({
    "senderKeyDistributionMessage", "fastRatchetKeySenderKeyDistributionMessage", "messageContextInfo",
})
MEDIA_TYPES = {
    "imageMessage": "image", "videoMessage": "video", "ptvMessage": "video",
    "audioMessage": "audio", "documentMessage": "document", "stickerMessage": "sticker",
}
RECEIPT_TYPES = {"DELIVERED": "delivered", "READ": "read", "PLAYED": "played"}
# whatsmeow's "download failed with status code 404/410": the CDN no longer has the file.
EXPIRED = re.compile(r"status code (404|410)\b")
_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/webp": ".webp", "audio/ogg": ".ogg", "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a", "video/mp4": ".mp4", "application/pdf": ".pdf",
}
_TEL = re.compile(r"^(?:item\d+\.)?TEL[^:\n]*:(.+)$", re.MULTILINE | re.IGNORECASE)
_FN = re.compile(r"^FN[^:\n]*:(.+)$", re.MULTILINE | re.IGNORECASE)


def jid_str(jid: Any) -> str:
    """``user@server`` without device or agent; "" for an empty JID."""
    if jid.User:
        return f"{jid.User}@{jid.Server}"
    return jid.Server


def seconds(ts: int) -> float:
    """Epoch seconds from neonize times: messages come in ms, receipts in s, some in ns."""
    if ts <= 0:
        return time.time()
    if ts > 10**15:
        return ts / 1e9
    if ts > 10**11:
        return ts / 1e3
    return float(ts)


def enum_name(message: Any, field: str) -> str:
    """The symbolic name of an enum field's value ("" when unknown)."""
    enum = message.DESCRIPTOR.fields_by_name[field].enum_type
    value = enum.values_by_number.get(getattr(message, field))
    return value.name if value else ""


def content_fields(message: Any) -> list[tuple[str, Any]]:
    """The fields that carry content, in proto order (metadata left out)."""
    return [(f.name, v) for f, v in message.ListFields() if f.name not in METADATA_FIELDS]


def _is_wrapper(field: Any) -> bool:
    inner = field.message_type.fields_by_name.get("message") if field.message_type else None
    return inner is not None and inner.message_type is field.containing_type


def unwrap(message: Any) -> Any:
    """Peel ephemeral/view-once/edited/device-sent… envelopes down to the content.

    Any field whose type holds a ``message: Message`` is an envelope, so new
    envelope kinds are handled without a list to maintain.
    """
    for _ in range(8):
        fields = message.ListFields()
        wrapper = next((f for f, _ in fields if f.name not in METADATA_FIELDS and _is_wrapper(f)), None)
        if wrapper is None or not getattr(message, wrapper.name).HasField("message"):
            return message
        message = getattr(message, wrapper.name).message
    return message


def vcard_summary(display_name: str, vcard: str) -> str:
    """"👤 Name: +55 11 …" from a contact card."""
    name = display_name or next(iter(_FN.findall(vcard)), "").strip()
    numbers = ", ".join(n.strip() for n in _TEL.findall(vcard))
    return f"👤 {name}: {numbers}" if numbers else f"👤 {name}"


def media_extension(mime: str, filename: str) -> str:
    suffix = Path(filename).suffix
    if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix):
        return suffix.lower()
    base = mime.split(";")[0].strip().lower()
    return _EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ".bin"


def media_path(media_dir: Path, wa_id: str, ts: float, mime: str, filename: str) -> Path:
    """``media_dir/<yyyy-mm>/<wa_id>.<ext>``; the id is sanitized, it names a file."""
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", wa_id) or "media"
    month = time.strftime("%Y-%m", time.gmtime(ts))
    return media_dir / month / f"{safe_id}{media_extension(mime, filename)}"


@dataclass
class EventDecoder:
    """Turns one connection's message and receipt events into daemon events."""

    download: Callable[[str, Any], bytes]    # (field name, media proto) -> bytes
    pn_from_lid: Callable[[Any], Any]        # LID JID proto -> phone JID proto
    local_id: Callable[[str], str]           # WhatsApp id -> the daemon's id for it
    media_dir: Path
    max_media_bytes: int
    group_name: Callable[[Any], str] | None = None  # group JID proto -> subject (None: from group events only)

    def message(self, ev: Any) -> InboundMessage | None:
        if jid_str(ev.Info.MessageSource.Chat) == STATUS_CHAT:
            log.debug("skipping status update %s", ev.Info.ID)
            return None
        msg = self._base(ev.Info)
        content = unwrap(ev.Message)
        fields = content_fields(content)
        if not fields:
            return self._contentless(msg, content)
        name, value = fields[0]
        if name in MEDIA_TYPES:
            return self._media(msg, name, value)
        fill = self._fillers().get(name)
        if fill is None:
            msg.type, msg.body = "unsupported", name
            return msg
        return fill(msg, value)

    def undecryptable(self, ev: Any) -> InboundMessage | None:
        hidden = enum_name(ev, "DecryptFailMode") == "DECRYPT_FAIL_HIDE"
        if hidden or jid_str(ev.Info.MessageSource.Chat) == STATUS_CHAT:
            log.debug("skipping undecryptable %s", ev.Info.ID)
            return None
        msg = self._base(ev.Info)
        msg.type = "undecryptable"
        msg.body = ("waiting for this message from the sender's phone" if ev.IsUnavailable
                    else "this message could not be decrypted")
        return msg

    def receipt(self, ev: Any) -> Receipt | None:
        """delivered/read/played only; sender, retry, self and server receipts are not the customer's."""
        kind = RECEIPT_TYPES.get(enum_name(ev, "Type"))
        if kind is None:
            return None
        return Receipt(chat=jid_str(ev.MessageSource.Chat), wa_ids=[self.local_id(i) for i in ev.MessageIDs],
                       type=kind, ts=seconds(ev.Timestamp))

    def _fillers(self) -> dict[str, Callable[[InboundMessage, Any], InboundMessage | None]]:
        return {
            "conversation": self._conversation, "extendedTextMessage": self._extended_text,
            "locationMessage": self._location, "liveLocationMessage": self._location,
            "contactMessage": self._contact, "contactsArrayMessage": self._contacts,
            "reactionMessage": self._reaction, "protocolMessage": self._protocol,
        }

    def _base(self, info: Any) -> InboundMessage:
        src = info.MessageSource
        return InboundMessage(
            wa_id=info.ID, chat=jid_str(src.Chat), sender=jid_str(src.Sender), ts=seconds(info.Timestamp),
            push_name=info.Pushname, from_me=src.IsFromMe, is_group=src.IsGroup,
            sender_alt=self._sender_alt(src),
            group_name=self.group_name(src.Chat) if src.IsGroup and self.group_name is not None else "",
        )

    def _sender_alt(self, src: Any) -> str:
        """SenderAlt, or for a bare @lid sender the phone whatsmeow has mapped to it.

        For a message from the company's phone the sender is the company, whose
        other address is no use to the daemon (it files ``sender_alt`` under the
        chat's contact): the customer's, RecipientAlt, is given instead.
        """
        if src.IsFromMe:
            return jid_str(src.RecipientAlt)
        alt = jid_str(src.SenderAlt)
        if alt or src.Sender.Server != "lid":
            return alt
        lid = type(src.Sender)()
        lid.CopyFrom(src.Sender)
        lid.Device = lid.RawAgent = 0
        try:
            return jid_str(self.pn_from_lid(lid))
        except Exception as exc:  # an unknown mapping is normal, not a failure
            log.debug("no phone number for %s: %s", jid_str(lid), exc)
            return ""

    def _contentless(self, msg: InboundMessage, content: Any) -> InboundMessage | None:
        if content.ListFields():
            log.debug("skipping key-distribution-only message %s", msg.wa_id)
            return None
        msg.type, msg.body = "unsupported", "empty message"
        return msg

    def _quoted(self, value: Any) -> str | None:
        context = getattr(value, "contextInfo", None)
        stanza = context.stanzaID if context is not None else ""
        return self.local_id(stanza) if stanza else None

    def _conversation(self, msg: InboundMessage, text: str) -> InboundMessage:
        msg.body = text
        return msg

    def _extended_text(self, msg: InboundMessage, value: Any) -> InboundMessage:
        msg.body, msg.quoted_wa_id = value.text, self._quoted(value)
        return msg

    def _media(self, msg: InboundMessage, name: str, value: Any) -> InboundMessage:
        msg.type = MEDIA_TYPES[name]
        msg.body = getattr(value, "caption", "")
        msg.quoted_wa_id = self._quoted(value)
        msg.media_seconds = getattr(value, "seconds", 0) or None  # audio and video say how long they run
        msg.waveform = bytes(getattr(value, "waveform", b""))  # voice notes: 64 levels to draw
        msg.media = self._save_media(msg, "videoMessage" if name == "ptvMessage" else name, value)
        return msg

    def _save_media(self, msg: InboundMessage, field: str, value: Any) -> Media:
        """Download and store; any failure is recorded on the Media, never raised."""
        media = Media(mime=value.mimetype, filename=getattr(value, "fileName", ""), size=value.fileLength or None)
        if value.fileLength > self.max_media_bytes:
            media.error = f"not downloaded: {value.fileLength} bytes is over the {self.max_media_bytes}-byte limit"
            return media
        try:
            data = self.download(field, value)
        except Exception as exc:
            if EXPIRED.search(str(exc)):
                media.error = (f"expired on WhatsApp's servers ({exc}); ask the customer to send it again "
                               "(neonize 0.5.2 cannot ask their phone to upload it again)")
            else:
                media.error, media.retryable = f"download failed: {exc}", True
            log.warning("media of %s: %s", msg.wa_id, media.error)
            return media
        if len(data) > self.max_media_bytes:
            media.error = f"discarded: {len(data)} bytes is over the {self.max_media_bytes}-byte limit"
            return media
        path = media_path(self.media_dir, msg.wa_id, msg.ts, media.mime, media.filename)
        try:
            write_atomic(path, data)
        except OSError as exc:
            media.error, media.retryable = f"could not save: {exc}", True
            log.warning("media of %s: %s", msg.wa_id, media.error)
            return media
        media.path, media.size = str(path), len(data)
        return media

    def _location(self, msg: InboundMessage, value: Any) -> InboundMessage:
        lat, lng = round(value.degreesLatitude, 6), round(value.degreesLongitude, 6)
        labels = [getattr(value, f, "") for f in ("name", "address", "caption")]
        msg.type = "location"
        msg.body = " ".join([f"📍 {lat},{lng}", *filter(None, labels)])
        msg.quoted_wa_id = self._quoted(value)
        return msg

    def _contact(self, msg: InboundMessage, value: Any) -> InboundMessage:
        msg.type, msg.body = "contact", vcard_summary(value.displayName, value.vcard)
        msg.quoted_wa_id = self._quoted(value)
        return msg

    def _contacts(self, msg: InboundMessage, value: Any) -> InboundMessage:
        msg.type = "contact"
        msg.body = "\n".join(vcard_summary(c.displayName, c.vcard) for c in value.contacts)
        return msg

    def _reaction(self, msg: InboundMessage, value: Any) -> InboundMessage:
        """body is the emoji; an empty body means the reaction was removed."""
        msg.type, msg.body, msg.reaction_to = "reaction", value.text, self.local_id(value.key.ID)
        return msg

    def _protocol(self, msg: InboundMessage, value: Any) -> InboundMessage | None:
        kind = enum_name(value, "type")
        if kind == "REVOKE":
            msg.type, msg.revoke_of = "system", self.local_id(value.key.ID)
            return msg
        if kind == "MESSAGE_EDIT":
            msg.edit_of = self.local_id(value.key.ID)
            msg.type, msg.body = edited_content(unwrap(value.editedMessage))
            return msg
        if kind == "EPHEMERAL_SETTING":
            timer = value.ephemeralExpiration
            msg.type = "system"
            msg.body = f"disappearing messages: {timer}s" if timer else "disappearing messages: off"
            return msg
        log.debug("skipping protocol message %s (%s)", msg.wa_id, kind)
        return None


def edited_content(message: Any) -> tuple[str, str]:
    """(type, new text) of an edit: edits change text or a caption, never media."""
    fields = content_fields(message)
    if not fields:
        return "text", ""
    name, value = fields[0]
    if name == "conversation":
        return "text", value
    if name == "extendedTextMessage":
        return "text", value.text
    return MEDIA_TYPES.get(name, "unsupported"), getattr(value, "caption", "")
