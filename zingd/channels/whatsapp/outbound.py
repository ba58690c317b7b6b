"""Build the waE2E messages zing sends, and decide which send failures to retry.

A failed ``send_message`` is one of three things (whatsmeow's send.go):
refused before the message node left (not connected, not logged in, the
device list or encryption failed, the server answered with an error code):
"not sent", retried; a permanent refusal (invalid or unknown recipient); or
ambiguous: the node was written but no answer came ("timed out waiting for
message send response", the socket dropped while waiting, an unknown error).
An ambiguous send is ``unconfirmed`` and never retried on its own: neonize
0.5.2 gives no way to resend under the same id, so a retry could show the
customer the message twice. Reactions are the exception: sending one again
replaces it, so it shows once. Every other message carries a ``messageSecret``
zing chose, by which the id of an ambiguous attempt is found afterwards
(``whatsapp.store``), so a receipt can still prove it arrived.

Runs on an executor thread: uploads and the ffmpeg conversion block.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zingd.channels.base import OutboundMessage, SendError
from zingd.channels.whatsapp.inbound import seconds
from zingd.channels.whatsapp.store import ChannelStore

log = logging.getLogger(__name__)

OPUS_MIME = "audio/ogg; codecs=opus"
UPLOAD_KINDS = {"image": "MediaImage", "video": "MediaVideo", "audio": "MediaAudio", "document": "MediaDocument"}
# Failures another attempt cannot fix. Anything else (timeouts, "websocket not
# connected", 5xx, 429 rate-overlimit, unknown errors) is retried by the outbox.
_PERMANENT = re.compile(
    r"invalid jid|not on whatsapp|no such file|too large"
    r"|bad-request|not-authorized|forbidden|item-not-found|not-acceptable|not-allowed"
    r"|status 4(?!08|29)\d\d",
    re.IGNORECASE,
)
# Refusals that happen before the message node is written (or the server's own error answer).
_NOT_SENT = re.compile(
    r"websocket not connected|not connected|not logged in|doesn't contain a device jid"
    r"|failed to get device list|failed to get group members|failed to get (lid|pn|privacy token)"
    r"|failed to (encrypt|marshal)|failed to send usync|server returned error|rate-overlimit|status 429"
    r"|media upload failed",
    re.IGNORECASE,
)
_RATE_LIMITED = re.compile(r"rate-overlimit|status 429", re.IGNORECASE)
RATE_LIMIT_HOLD_S = 60.0
FFMPEG_TIMEOUT = 120


def send_error(exc: BaseException) -> SendError:
    """Classify a neonize/whatsmeow failure for the outbox (commands other than send_message)."""
    if isinstance(exc, SendError):
        return exc
    text = str(exc) or type(exc).__name__
    return SendError(text, retryable=_PERMANENT.search(text) is None)


def message_send_error(exc: BaseException, msg: OutboundMessage) -> SendError:
    """Classify a failure of building or sending ``msg``: not sent, permanent, or unconfirmed."""
    if isinstance(exc, SendError):
        return exc
    text = str(exc) or type(exc).__name__
    if _PERMANENT.search(text):
        return SendError(text, retryable=False)
    if _RATE_LIMITED.search(text):  # WhatsApp says the number sends too fast: slow it down
        return SendError(text, retryable=True, throttle_s=RATE_LIMIT_HOLD_S)
    if _NOT_SENT.search(text) or msg.type == "reaction":
        return SendError(text, retryable=True)
    return SendError(text, unconfirmed=True)


def to_opus(ffmpeg: str, source: Path) -> bytes:
    """WhatsApp plays voice notes only as mono Opus in Ogg."""
    with tempfile.TemporaryDirectory(prefix="zing-voice-") as tmp:
        out = Path(tmp) / "voice.ogg"
        subprocess.run(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-vn", "-ac", "1",
             "-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-application", "voip", str(out)],
            check=True, capture_output=True, timeout=FFMPEG_TIMEOUT,
        )
        return out.read_bytes()


@dataclass
class Outbound:
    """Builds one connection's outgoing messages."""

    lib: Any                                   # whatsapp.lib.load()
    upload: Callable[[bytes, Any], Any]        # (data, MediaType) -> UploadResponse
    remote_id: Callable[[str], str | None]     # daemon id -> WhatsApp id, for messages zing sent
    own_jid: Callable[[], str]
    max_media_bytes: int

    def send(self, send_message: Callable[[Any, Any], Any], jid: Any, msg: OutboundMessage,
             store: ChannelStore) -> float:
        """Build and send ``msg``, recording WhatsApp's id for it: on success as sent, after an
        ambiguous failure as unconfirmed (found by its secret). Returns WhatsApp's timestamp."""
        message = self.build(msg)
        secret = None
        if msg.type != "reaction":
            secret = os.urandom(32)
            message.messageContextInfo.messageSecret = secret
        try:
            response = send_message(jid, message)
        except Exception as exc:
            error = message_send_error(exc, msg)
            remote = store.id_for_secret(secret) if error.unconfirmed and secret else None
            if remote:
                store.record_unconfirmed(msg.wa_id, remote, msg.chat, time.time())
            raise error from exc
        ts = seconds(response.Timestamp)
        store.record(msg.wa_id, response.ID, msg.chat, ts)
        return ts

    def build(self, msg: OutboundMessage) -> Any:
        if msg.type == "text":
            return self._text(msg)
        if msg.type == "reaction":
            return self._reaction(msg)
        if msg.type in UPLOAD_KINDS:
            return self._media(msg)
        raise SendError(f"cannot send {msg.type!r} messages over WhatsApp", retryable=False)

    def _context(self, msg: OutboundMessage) -> Any:
        """The quote shown above a reply; participant is whoever wrote the quoted message.

        Without ``quoted_sender``: the company if zing sent it, else the chat
        (right for 1:1 chats; in a group only ``quoted_sender`` can say who).
        """
        if not msg.quoted_wa_id:
            return None
        remote = self.remote_id(msg.quoted_wa_id)
        e = self.lib.waE2E
        return e.ContextInfo(
            stanzaID=remote or msg.quoted_wa_id,
            participant=msg.quoted_sender or (self.own_jid() if remote else msg.chat),
            quotedMessage=e.Message(conversation=msg.quoted_body),
        )

    def _text(self, msg: OutboundMessage) -> Any:
        e = self.lib.waE2E
        if not msg.body:
            raise SendError("cannot send an empty text", retryable=False)
        if msg.quoted_wa_id:
            return e.Message(extendedTextMessage=e.ExtendedTextMessage(text=msg.body, contextInfo=self._context(msg)))
        return e.Message(conversation=msg.body)

    def _reaction(self, msg: OutboundMessage) -> Any:
        """An empty body removes zing's reaction."""
        if not msg.reaction_to:
            raise SendError("a reaction needs reaction_to", retryable=False)
        remote = self.remote_id(msg.reaction_to)
        key = self.lib.MessageKey(remoteJID=msg.chat, fromMe=remote is not None, ID=remote or msg.reaction_to)
        if msg.chat.endswith("@g.us") and remote is None and msg.quoted_sender:
            key.participant = msg.quoted_sender
        reaction = self.lib.waE2E.ReactionMessage(key=key, text=msg.body, senderTimestampMS=int(time.time() * 1000))
        return self.lib.waE2E.Message(reactionMessage=reaction)

    def _media(self, msg: OutboundMessage) -> Any:
        path = Path(msg.media_path or "")
        if not msg.media_path or not path.is_file():
            raise SendError(f"media file not found: {path}", retryable=False)
        size = path.stat().st_size
        if size > self.max_media_bytes:
            raise SendError(f"media too large: {size} bytes (limit {self.max_media_bytes})", retryable=False)
        mime = msg.media_mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        kind, data, mime = self._payload(msg.type, path, mime)
        try:
            uploaded = self.upload(data, self.lib.MediaType[UPLOAD_KINDS[kind]])
        except Exception as exc:  # the message itself was not sent yet
            raise SendError(f"media upload failed: {exc}", retryable=_PERMANENT.search(str(exc)) is None) from exc
        return self._media_message(msg, kind, mime, uploaded, path)

    def _payload(self, kind: str, path: Path, mime: str) -> tuple[str, bytes, str]:
        """Voice notes must be Opus; without ffmpeg the audio still goes out, as a file."""
        if kind != "audio" or mime.startswith("audio/ogg"):
            return kind, path.read_bytes(), OPUS_MIME if kind == "audio" else mime
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            log.info("ffmpeg not found: sending %s as a document, not a voice note", path.name)
            return "document", path.read_bytes(), mime
        try:
            return "audio", to_opus(ffmpeg, path), OPUS_MIME
        except (subprocess.SubprocessError, OSError) as exc:
            log.warning("voice note conversion of %s failed (%s): sending it as a document", path.name, exc)
            return "document", path.read_bytes(), mime

    def _media_message(self, msg: OutboundMessage, kind: str, mime: str, up: Any, path: Path) -> Any:
        e = self.lib.waE2E
        common = dict(
            URL=up.url, directPath=up.DirectPath, mediaKey=up.MediaKey, fileEncSHA256=up.FileEncSHA256,
            fileSHA256=up.FileSHA256, fileLength=up.FileLength, mimetype=mime,
            mediaKeyTimestamp=int(time.time()), contextInfo=self._context(msg),
        )
        caption = msg.body or None
        if kind == "image":
            return e.Message(imageMessage=e.ImageMessage(caption=caption, **common))
        if kind == "video":
            return e.Message(videoMessage=e.VideoMessage(caption=caption, **common))
        if kind == "audio":
            return e.Message(audioMessage=e.AudioMessage(PTT=True, **common))
        filename = msg.filename or path.name
        document = e.DocumentMessage(caption=caption, fileName=filename, title=filename, **common)
        return e.Message(documentMessage=document)
