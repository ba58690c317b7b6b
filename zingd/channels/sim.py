"""The embedded WhatsApp simulator: scripted or random customers, receipts, faults.

Like WhatsApp's servers, its "network side" lives outside the daemon's database:
an append-only JSONL journal of what customers sent (``in``), what zing
acknowledged (``ack``), what customers received (``out``; ``dup`` when the same
id arrives again and, as on WhatsApp, is shown once). On start it redelivers
every ``in`` that has no ``ack``. Crash tests compare the database against it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from zingd.channels.base import (
    Channel, ChannelSink, InboundMessage, Media, OutboundMessage, Receipt, SendError, SendResult,
)
from zingd.config import SimSettings
from zingd.durable import write_atomic

log = logging.getLogger(__name__)

CUSTOMERS = [
    ("5511999990001", "Ana Souza"), ("5511999990002", "Bruno Lima"), ("5521988880003", "Carla Dias"),
    ("5531977770004", "Diego Alves"), ("14155550105", "Emily Carter"), ("447700900106", "Frank Moore"),
    ("5511966660007", "Gabriela Rocha"), ("5541955550008", "Heitor Nunes"),
]
LINES = [
    "oi, preciso de ajuda", "bom dia! meu pedido ainda não chegou", "qual o horário de atendimento?",
    "quero cancelar minha assinatura", "o boleto venceu, como faço?", "obrigado!", "alguém aí?",
    "hi, I need help with my order", "can I change my delivery address?", "my payment failed twice",
    "thanks, that solved it", "is there a discount for annual plans?", "ok", "👍",
]
# A 1x1 PNG: enough to exercise the media path without shipping images.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000"
    "0500010d0a2db40000000049454e44ae426082"
)
# An Ogg page header: a voice note's file without shipping audio (players won't play it).
_OGG = b"OggS\x00\x02" + bytes(20)

_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder()


def jid(number: str) -> str:
    return number if "@" in number else f"{number}@s.whatsapp.net"


class Journal:
    """Append-only record of the simulated network; each line one os.write (survives kill -9)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sent: dict[str, dict[str, Any]] = {}
        self.acked: set[str] = set()
        self.received: dict[str, dict[str, Any]] = {}
        self.failed_media: set[str] = set()  # messages whose file failed to download, not fetched since
        self.duplicates = 0
        if path.exists():
            for line in path.read_bytes().splitlines():
                try:
                    self._index(_dec.decode(line))
                except msgspec.DecodeError:  # a line cut short by a crash: it never happened
                    continue
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _index(self, rec: dict[str, Any]) -> None:
        kind, wa_id = rec["k"], rec["id"]
        if kind == "in":
            self.sent[wa_id] = rec
        elif kind == "ack":
            self.acked.add(wa_id)
        elif kind == "out":
            self.received[wa_id] = rec
        elif kind == "dup":
            self.duplicates += 1
        elif kind == "nomedia":
            self.failed_media.add(wa_id)
        elif kind == "media":
            self.failed_media.discard(wa_id)

    def append(self, rec: dict[str, Any]) -> None:
        os.write(self._fd, _enc.encode(rec) + b"\n")
        self._index(rec)

    def unacked(self) -> list[dict[str, Any]]:
        return [rec for wa_id, rec in self.sent.items() if wa_id not in self.acked]

    def close(self) -> None:
        os.close(self._fd)


@dataclass
class Faults:
    send_failure_rate: float = 0.0
    duplicate_inbound: bool = False
    # The next N sends reach the customer but their answer is lost (the daemon can't know they
    # arrived); their receipts wait in ``held`` until released (the customer's phone comes online).
    lose_answers: int = 0
    held: list[tuple[str, str]] = field(default_factory=list)
    # The next N files customers send fail to download (a stalled CDN); media.fetch gets them later.
    failed_downloads: int = 0


class SimChannel(Channel):
    kind = "sim"

    def __init__(self, connection_id: int, sink: ChannelSink, journal_path: Path, media_dir: Path,
                 settings: SimSettings) -> None:
        super().__init__(connection_id, sink)
        self.journal_path = journal_path
        self.media_dir = media_dir
        self.settings = settings
        self.faults = Faults(send_failure_rate=settings.send_failure_rate)
        self.journal: Journal | None = None
        self._tasks: set[asyncio.Task] = set()
        self._deliver_lock = asyncio.Lock()
        self._rng = random.Random()

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        if self.journal is None:
            self.journal = Journal(self.journal_path)
        await self._set_state("connecting")
        await self._set_state("connected")
        self._spawn(self._redeliver())
        if self.settings.random_customers:
            self._spawn(self._random_customers())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.state == "connected":
            await self._set_state("disconnected", "stopped")

    # -- the customers' side -------------------------------------------------
    async def say(self, number: str, body: str = "", push_name: str = "", type_: str = "text",
                  quoted_wa_id: str | None = None, group: str | None = None,
                  lid: str | None = None, hide_phone: bool = False, *, ts: float | None = None,
                  call: str = "", seconds: int | None = None, group_name: str = "",
                  ptt: bool = True, from_me: bool = False) -> dict[str, Any]:
        """A customer writes (in a group, named ``group_name``, or addressed by a hidden LID: with ``hide_phone`` WhatsApp
        does not say whose LID it is, as before it shares the mapping). Journaled first;
        delivered now if connected, else on reconnect. ``ts``: WhatsApp's time of the message when
        it is not now (backlog from while zing was away); ``call``: "voice" or "video", a call instead
        of a message; ``seconds``: a voice note's length (type audio; ``ptt`` False: an audio file,
        which WhatsApp sends without a waveform)."""
        if self.journal is None:
            raise SendError("the sim connection is stopped", retryable=False)
        rec: dict[str, Any] = {"k": "in", "id": "SIM" + secrets.token_hex(8).upper(), "from": jid(number),
                               "push": push_name, "body": body, "type": type_, "ts": time.time() if ts is None else ts}
        for key, value in (("quoted", quoted_wa_id), ("group", group and f"{group}@g.us"),
                           ("lid", lid and f"{lid}@lid"), ("hidden", bool(lid and hide_phone)), ("call", call),
                           ("seconds", seconds), ("gname", group and group_name),
                           ("file", type_ == "audio" and not ptt), ("me", from_me)):
            if value:
                rec[key] = value
        self.journal.append(rec)
        delivered = False
        if self.state == "connected":
            await self._deliver(rec)
            delivered = True
            if self.faults.duplicate_inbound:  # the network delivers it twice
                await self._deliver(rec, journal_ack=False)
        return {"wa_id": rec["id"], "delivered": delivered}

    async def _deliver(self, rec: dict[str, Any], journal_ack: bool = True, refetch: bool = False) -> None:
        media = None
        if rec["type"] in ("image", "audio") and self.faults.failed_downloads and not refetch:
            self.faults.failed_downloads -= 1
            if self.journal is not None:
                self.journal.append({"k": "nomedia", "id": rec["id"]})
            media = Media(mime="image/png" if rec["type"] == "image" else "audio/ogg",
                          error="download failed: (sim) the media server did not answer", retryable=True)
        elif rec["type"] == "image":
            media = await asyncio.to_thread(self._placeholder_image, rec["id"])
        elif rec["type"] == "audio":
            media = await asyncio.to_thread(self._placeholder_voice, rec["id"])
        sender = rec.get("lid") or rec["from"]  # WhatsApp may hide the phone behind a LID
        msg = InboundMessage(
            wa_id=rec["id"], chat=rec.get("group") or sender, sender=sender, ts=rec["ts"], type=rec["type"],
            body=rec["body"], push_name=rec.get("push", ""), media=media, quoted_wa_id=rec.get("quoted"),
            from_me=rec.get("me", False),
            is_group="group" in rec, sender_alt=rec["from"] if "lid" in rec and "hidden" not in rec else "",
            call=rec.get("call", ""), media_seconds=rec.get("seconds"), group_name=rec.get("gname", ""),
            waveform=bytes(i * 100 // 63 for i in range(64)) if rec["type"] == "audio" and "file" not in rec
            else b"",
        )
        await self.sink.message(self.connection_id, msg)
        if journal_ack and self.journal is not None:
            self.journal.append({"k": "ack", "id": rec["id"]})

    async def fetch_media(self, wa_id: str) -> None:
        """The file of a message whose download failed (``failed_downloads``), delivered again with it."""
        if self.journal is None or wa_id not in self.journal.failed_media:
            raise LookupError("this sim number has no failed download of that message to try again")
        if self.state != "connected":
            raise SendError(f"the sim number is {self.state}", retryable=True)
        await self._deliver(self.journal.sent[wa_id], journal_ack=False, refetch=True)
        self.journal.append({"k": "media", "id": wa_id})

    def _placeholder_image(self, wa_id: str) -> Media:
        path = self.media_dir / time.strftime("%Y-%m") / f"{wa_id}.png"
        try:
            write_atomic(path, _PNG)  # on disk before the message row that points at it commits
        except OSError as e:  # broken media fails the media, never the message
            return Media(mime="image/png", error=f"could not save media: {e.strerror}")
        return Media(mime="image/png", path=str(path), size=len(_PNG), filename=path.name)

    def _placeholder_voice(self, wa_id: str) -> Media:
        path = self.media_dir / time.strftime("%Y-%m") / f"{wa_id}.ogg"
        try:
            write_atomic(path, _OGG)
        except OSError as e:
            return Media(mime="audio/ogg", error=f"could not save media: {e.strerror}")
        return Media(mime="audio/ogg; codecs=opus", path=str(path), size=len(_OGG), filename=path.name)

    async def _redeliver(self) -> None:
        """Deliver what customers sent while zing was away, once, in order."""
        async with self._deliver_lock:
            for rec in list(self.journal.unacked() if self.journal else []):
                if self.state != "connected":
                    return
                try:
                    await self._deliver(rec)
                except Exception:
                    log.exception("sim redelivery of %s failed; will retry on reconnect", rec["id"])
                    return

    async def _random_customers(self) -> None:
        while True:
            base = self.settings.inbound_interval_s
            await asyncio.sleep(self._rng.uniform(base * 0.5, base * 1.5))
            if self.state != "connected":
                continue
            number, name = self._rng.choice(CUSTOMERS)
            if self._rng.random() < 0.1:
                await self.say(number, "", name, type_="image")
            else:
                await self.say(number, self._rng.choice(LINES), name)

    # -- the daemon's side ------------------------------------------------------
    async def send(self, msg: OutboundMessage) -> SendResult:
        if self.journal is None or self.state != "connected":
            raise SendError(f"sim connection is {self.state}", retryable=True)
        if self.faults.send_failure_rate and self._rng.random() < self.faults.send_failure_rate:
            raise SendError("simulated network failure", retryable=True)
        if msg.wa_id in self.journal.received:
            self.journal.append({"k": "dup", "id": msg.wa_id})  # same id again: the customer sees it once
        else:
            self.journal.append({"k": "out", "id": msg.wa_id, "to": msg.chat, "type": msg.type,
                                 "body": msg.body, "ts": time.time()})
            if self.faults.lose_answers:
                self.faults.held.append((msg.chat, msg.wa_id))
            else:
                self._spawn(self._receipts(msg.chat, msg.wa_id))
        if self.faults.lose_answers:
            self.faults.lose_answers -= 1
            raise SendError("simulated lost answer: the send timed out after the network took it", unconfirmed=True)
        return SendResult(msg.wa_id, time.time())

    def release_receipts(self) -> int:
        """The held receipts arrive (delivered, then read); how many messages they cover."""
        held, self.faults.held = self.faults.held, []
        for chat, wa_id in held:
            self._spawn(self._receipts(chat, wa_id))
        return len(held)

    async def _receipts(self, chat: str, wa_id: str) -> None:
        await asyncio.sleep(self.settings.delivery_delay_s)
        await self.sink.receipt(self.connection_id, Receipt(chat, [wa_id], "delivered", time.time()))
        await asyncio.sleep(max(0.0, self.settings.read_delay_s - self.settings.delivery_delay_s))
        await self.sink.receipt(self.connection_id, Receipt(chat, [wa_id], "read", time.time()))

    async def mark_read(self, chat: str, wa_ids: list[str], sender: str = "") -> None:
        """Nothing to tell a simulated customer."""

    # -- faults on demand -----------------------------------------------------
    async def disconnect(self, seconds: float, state: str = "disconnected",
                         reason: str = "simulated network outage") -> None:
        """Drop the connection for a while (or ban the number: state 'banned'); unacknowledged
        messages come back on reconnect."""
        await self._set_state(state, reason)

        async def back() -> None:
            await asyncio.sleep(seconds)
            await self._set_state("connected")
            await self._redeliver()

        self._spawn(back())

    def health(self) -> dict[str, Any]:
        out = super().health()
        if self.journal is not None:
            out.update(customer_sent=len(self.journal.sent), acked=len(self.journal.acked),
                       customer_received=len(self.journal.received), duplicate_sends=self.journal.duplicates)
        return out
