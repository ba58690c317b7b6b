"""A number on Meta's WhatsApp Business Cloud API, as a ``Channel``.

Nothing to pair and no session to hold: the number is "connected" once Graph answers for it with
the access token, and stays so until a call says otherwise. Messages come in through zing's webhook
(``on_change``, handed to ``CloudInbound``); this module sends, marks read, lists templates and keeps
the number's health.

Every message carries zing's own id in ``biz_opaque_callback_data``, which Meta hands back on each
status: a status still finds its message when the send's answer, with Meta's id, was lost.

Graph's errors become what the outbox and the admin need (``_send_error``): the token refused →
logged_out with the fix; too fast → a throttled retry; the spam limit → degraded and an hour's pause;
outside the 24-hour window → a clear failure naming templates; no answer → unconfirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from zingd.channels.backoff import Backoff
from zingd.channels.base import Channel, ChannelSink, OutboundMessage, SendError, SendResult
from zingd.channels.cloud.account import CloudAccount
from zingd.channels.cloud.graph import Graph, GraphError, Timeouts
from zingd.channels.cloud.inbound import CloudInbound
from zingd.errors import ChannelDown

log = logging.getLogger(__name__)

THROTTLE_S = 60.0        # a rate limit without Meta's word on how long
SPAM_PAUSE_S = 3600.0    # the spam rate limit (131048): Meta's advice is to stop for a while
TEXT_LIMIT = 4096
# What Meta takes per media type (the Cloud API's supported media): the mimes and the largest file.
# Anything else goes as a document, which takes any type up to 100 MB.
MEDIA = {
    "image": ({"image/jpeg", "image/png"}, 5 << 20),
    "video": ({"video/mp4", "video/3gpp"}, 16 << 20),
    "audio": ({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}, 16 << 20),
    "sticker": ({"image/webp"}, 500 << 10),
    "document": (None, 100 << 20),
}
CAPTIONED = ("image", "video", "document")  # Meta refuses a caption on audio and stickers
_UPLOADS_KEPT = 256


def recipient(chat: str) -> dict[str, str]:
    """Graph's addressing of a zing chat: ``to`` a phone's digits, or ``recipient`` a BSUID (a
    customer known only by the user id Meta gives people who hide their number)."""
    local, _, server = chat.partition("@")
    if server == "s.whatsapp.net" and local.isdigit():
        return {"to": local}
    if server == "bsuid" and local:
        return {"recipient": local}
    if server == "g.us":
        raise SendError("cloud numbers can't write to WhatsApp groups", retryable=False)
    raise SendError(f"a cloud number can't address {chat!r}: it needs a phone number or a WhatsApp user id",
                    retryable=False)


def template_payload(template: dict[str, Any]) -> dict[str, Any]:
    """``messages.template`` ({"name","language","params":[...], "components"?}) as Graph's template
    object: ``components`` as given, else the params, in order, as the body's parameters (a param
    ``{"name", "text"}`` for a template with named variables)."""
    components = template.get("components")
    if components is None:
        params = []
        for param in template.get("params") or []:
            if isinstance(param, dict):
                entry = {"type": "text", "text": str(param.get("text", ""))}
                if param.get("name"):
                    entry["parameter_name"] = str(param["name"])
                params.append(entry)
            else:
                params.append({"type": "text", "text": str(param)})
        components = [{"type": "body", "parameters": params}] if params else []
    if not template.get("name") or not template.get("language"):
        raise SendError("the template message names no template or language", retryable=False)
    return {"name": template["name"], "language": {"code": template["language"]}, "components": components}


class CloudChannel(Channel):
    kind = "cloud"
    resend_is_safe = False  # Meta gives every send a new wamid: a resend is a second message

    def __init__(self, connection_id: int, sink: ChannelSink, account: CloudAccount, media_dir: Path,
                 store_path: Path, *, timeouts: Timeouts | None = None, retry_initial: float = 1.0,
                 retry_max: float = 60.0, check_every: float = 600.0) -> None:
        super().__init__(connection_id, sink)
        self.account = account
        self.media_dir = Path(media_dir)
        self.store_path = Path(store_path)
        self.timeouts = timeouts or Timeouts()
        self.check_every = check_every  # how often a connected number's health is asked again
        self.graph: Graph | None = None
        self.number: dict[str, Any] = {}
        self.phone = ""
        self.throttled_until = 0.0      # wall-clock time Meta's last rate limit ends
        self.throttle_reason = ""
        self._backoff = Backoff(retry_initial, retry_max, 0.2)
        self._runner: asyncio.Task | None = None
        self._resume: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._uploaded: OrderedDict[tuple[str, str], str] = OrderedDict()  # (wa_id, file) → media id
        self.inbound = CloudInbound(connection_id, sink, lambda: self.graph, self.media_dir, self.store_path,
                                    account)

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Return at once: checking the number with Graph, and retrying it, run in a task."""
        if self._runner is not None and not self._runner.done():
            return
        self._stopping = False
        self._wake = asyncio.Event()
        if self.graph is None:
            self.graph = Graph(self.account, self.timeouts)
        await self.graph.open()
        await self.inbound.start()
        await self._report("connecting", "asking Meta about the number")
        self._runner = asyncio.create_task(self._run(), name=f"cloud-{self.connection_id}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in (self._runner, self._resume):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._runner = self._resume = None
        await self.inbound.stop()
        if self.graph is not None:
            await self.graph.close()
            self.graph = None
        await self._report("disconnected", "stopped")

    async def _run(self) -> None:
        """Ask Graph for the number until it answers (backing off), then again every ``check_every``
        (the quality and limit fresh, a revoked token found while nothing is sent); a final answer ends it."""
        while not self._stopping:
            self._wake.clear()  # a wake from here on (a quality webhook, Graph out of reach) asks again
            try:
                try:
                    await self._check()
                except GraphError as e:
                    if await self._final(e):
                        return
                    delay = self._backoff.next()
                    await self._report("disconnected", f"{e}; retrying in {delay:g}s")
                else:
                    self._backoff.reset()
                    delay = self.check_every
            except Exception:  # the daemon could not store the state (its database): try again later
                log.exception("cloud connection %s: checking the number failed", self.connection_id)
                delay = self._backoff.next()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _check(self) -> None:
        number = await self.graph.number()
        self.number = number
        phone = str(number.get("display_phone_number") or self.phone)
        if self.state in ("connecting", "disconnected", "connected"):
            await self._report("connected", "", phone=phone if phone != self.phone else None)
        self.phone = phone

    async def _final(self, e: GraphError) -> bool:
        """A Graph error that only an admin can clear: the state says so (with what to do); True."""
        if e.kind == "auth":
            await self._report("logged_out", self._auth_advice(e))
        elif e.kind == "blocked":
            state = "locked" if e.code == 131031 else "banned"
            await self._report(state, f"Meta {'locked' if state == 'locked' else 'blocked'} the account "
                                      f"({e}): see WhatsApp Manager > Account tools > Account quality")
        else:
            return False
        self._stopping = True
        self._wake.set()
        return True

    def _auth_advice(self, e: GraphError) -> str:
        fix = f"zingctl connections update {self.connection_id} --access-token -"
        if e.code == 190 or e.http_status == 401:
            return f"Meta refused the access token (code {e.code}: {e.message}): set a new one with {fix}"
        return (f"Meta says the access token lacks a permission (code {e.code}: {e.message}): give its system "
                f"user whatsapp_business_messaging and whatsapp_business_management, then {fix}")

    def _reconnect(self) -> None:
        """Graph went out of reach mid-work: ask for the number again (the runner's backoff)."""
        if self._stopping:
            return
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name=f"cloud-{self.connection_id}")
        self._wake.set()

    async def _report(self, state: str, reason: str = "", **extra: str | None) -> None:
        if (state, reason) == (self.state, self.reason) and not any(extra.values()):
            return
        log.info("cloud connection %s: %s%s", self.connection_id, state, f" ({reason})" if reason else "")
        await self._set_state(state, reason, **extra)

    # --------------------------------------------------------------- inbound

    async def on_change(self, field: str, value: dict) -> None:
        """One change of a verified webhook (``field``, its ``value``): committed on return."""
        await self.inbound.handle(field, value)
        if field == "phone_number_quality_update" and self.state == "connected":
            self._wake.set()  # ask Graph for the number again now: health() shows the new rating and limit

    async def fetch_media(self, wa_id: str) -> None:
        await self.inbound.fetch_media(wa_id)

    # --------------------------------------------------------------- outbound

    async def send(self, msg: OutboundMessage) -> SendResult:
        graph = self._graph()
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", **recipient(msg.chat)}
        try:
            payload.update(await self._content(graph, msg))
        except GraphError as e:  # the upload: nothing reached the customer yet, whatever the error
            raise await self._send_error(e, sent=False) from None
        payload["biz_opaque_callback_data"] = msg.wa_id
        try:
            wamid = await graph.send(payload)
        except GraphError as e:
            raise await self._send_error(e, sent=True) from None
        return SendResult(wamid, time.time())

    async def _content(self, graph: Graph, msg: OutboundMessage) -> dict[str, Any]:
        """The type-specific part of the message (uploading its file first)."""
        if msg.template:
            return {"type": "template", "template": template_payload(msg.template)}
        quote = ({"context": {"message_id": msg.quoted_wa_id}}
                 if msg.quoted_wa_id and msg.quoted_wa_id.startswith("wamid.") else {})  # ids Meta named only
        if msg.type == "text":
            if len(msg.body) > TEXT_LIMIT:
                raise SendError(f"WhatsApp takes texts of up to {TEXT_LIMIT} characters", retryable=False)
            return {"type": "text", "text": {"body": msg.body, "preview_url": False}, **quote}
        if msg.type == "reaction":
            if not msg.reaction_to:
                raise SendError("a reaction needs the message it reacts to", retryable=False)
            return {"type": "reaction", "reaction": {"message_id": msg.reaction_to, "emoji": msg.body}}
        if msg.type in MEDIA:
            kind, media_id, filename = await self._upload(graph, msg)
            media: dict[str, Any] = {"id": media_id}
            if msg.body and kind in CAPTIONED:
                media["caption"] = msg.body
            if kind == "document":
                media["filename"] = filename
            return {"type": kind, kind: media, **quote}
        raise SendError(f"cloud numbers don't send {msg.type} messages", retryable=False)

    async def _upload(self, graph: Graph, msg: OutboundMessage) -> tuple[str, str, str]:
        """Upload the daemon's file (once per message: a retry reuses the media id); the media type it
        goes as (a document when Meta's type doesn't take that file), its media id and file name."""
        if not msg.media_path:
            raise SendError(f"the {msg.type} message has no file", retryable=False)
        path = Path(msg.media_path)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as e:
            raise SendError(f"the file to send is gone: {e.strerror}", retryable=False) from None
        mime = msg.media_mime or mimetypes.guess_type(msg.filename or path.name)[0] or "application/octet-stream"
        mime = mime.split(";")[0].strip().lower()
        kind = msg.type
        mimes, largest = MEDIA[kind]
        if kind != "document" and (mime not in mimes or len(data) > largest):
            kind = "document"
            largest = MEDIA["document"][1]
        if len(data) > largest:
            raise SendError(f"the file is {len(data) >> 20} MB; WhatsApp takes up to {largest >> 20} MB",
                            retryable=False)
        filename = msg.filename or path.name
        key = (msg.wa_id, str(path))
        media_id = self._uploaded.get(key)
        if media_id is None:
            media_id = await graph.upload(data, mime, filename)
            self._uploaded[key] = media_id
            while len(self._uploaded) > _UPLOADS_KEPT:
                self._uploaded.popitem(last=False)
        return kind, media_id, filename

    async def _send_error(self, e: GraphError, sent: bool) -> SendError:
        """A Graph error as the outbox's SendError (and the state it puts the number in). ``sent``: the
        message itself was posted (a timeout then may have reached the customer)."""
        if await self._final(e):
            return SendError(self.reason, retryable=False)
        if e.kind == "throttle":
            seconds = e.retry_after or THROTTLE_S
            self._throttled(seconds, f"Meta's rate limit ({e})")
            return SendError(f"Meta says the number sends too fast ({e})", throttle_s=seconds)
        if e.kind == "spam":
            seconds = max(e.retry_after or 0.0, SPAM_PAUSE_S)
            reason = f"Meta's spam rate limit ({e}): sends paused for {seconds / 60:.0f} min"
            self._throttled(seconds, reason)
            await self._report("degraded", reason)
            self._resume_after(seconds)
            return SendError(reason, throttle_s=seconds)
        if e.kind == "window":
            return SendError(f"outside the 24-hour window: send an approved template ({e})", retryable=False)
        if e.kind == "template":
            return SendError(f"Meta refused the template ({e})", retryable=False)
        if e.kind == "invalid":
            return SendError(f"Meta refused the message ({e})", retryable=False)
        if e.kind == "server":
            return SendError(f"Meta's servers failed ({e})")
        if e.kind == "unreachable":
            self._reconnect()
            return SendError(str(e))
        if sent:  # timeout, a dropped connection or an answer without an id: it may be with the customer
            return SendError(str(e), unconfirmed=True)
        return SendError(str(e))

    def _throttled(self, seconds: float, reason: str) -> None:
        self.throttled_until = max(self.throttled_until, time.time() + seconds)
        self.throttle_reason = reason

    def _resume_after(self, seconds: float) -> None:
        """Back to connected when the spam pause ends (the outbox then goes on)."""
        if self._resume is not None and not self._resume.done():
            self._resume.cancel()

        async def resume() -> None:
            await asyncio.sleep(seconds)
            if self.state == "degraded":
                await self._report("connected", "")

        self._resume = asyncio.create_task(resume(), name=f"cloud-{self.connection_id}-resume")

    async def mark_read(self, chat: str, wa_ids: list[str], sender: str = "") -> None:
        """Mark the newest message read (the first: the daemon lists them newest first); Meta marks the
        earlier ones of the conversation read with it."""
        graph = self._graph()
        for wa_id in wa_ids:
            if wa_id.startswith("wamid."):
                try:
                    await graph.mark_read(wa_id)
                except GraphError as e:
                    await self._final(e)
                    raise SendError(str(e), retryable=e.kind in ("server", "timeout", "unreachable")) from None
                return

    async def templates(self) -> list[dict[str, Any]]:
        """The business account's message templates, as Graph lists them."""
        graph = self._graph(ChannelDown)
        try:
            return await graph.templates()
        except GraphError as e:
            if await self._final(e):
                raise ChannelDown(self.reason, id=self.connection_id) from None
            raise ChannelDown(f"could not list the templates: {e}", id=self.connection_id) from None

    def _graph(self, error: type[Exception] = SendError) -> Graph:
        if self.graph is None or self.state in ("logged_out", "locked", "banned"):
            text = self.reason or f"cloud connection {self.connection_id} is not running"
            raise error(text, retryable=False) if error is SendError else error(text, id=self.connection_id)
        return self.graph

    def health(self) -> dict:
        throttled = None
        if self.throttled_until > time.time():
            throttled = {"until": round(self.throttled_until, 3), "reason": self.throttle_reason}
        return {
            **super().health(), "phone": self.phone, "display_phone": self.number.get("display_phone_number"),
            "verified_name": self.number.get("verified_name"), "quality_rating": self.number.get("quality_rating"),
            "messaging_limit": self.number.get("messaging_limit_tier"), "throttled": throttled,
            "next_retry_delay": self._backoff.current,
            "graph_calls": self.graph.calls if self.graph is not None else 0,
            "graph_latency": round(self.graph.last_latency, 3) if self.graph and self.graph.last_latency else None,
        }
