"""Voice notes a customer sends get a transcript (``messages.transcript``), from the tenant's
transcription model through the hub (``/v1/audio/transcriptions``).

The worker hears every committed ``message.created``/``message.updated`` (a bus tap: it costs ingest
one dict lookup and a ``put_nowait``) and queues the inbound audio that has a file and no
transcript. A few workers send the daemon's own stored file, never a path anyone named: it must
resolve inside that tenant's media dir, be a regular file (opened with O_NOFOLLOW) and be at most
``max_bytes`` (what OpenAI accepts; a bigger one is not sent, and the log says why). The transcript
is stored in a unit that also emits ``message.updated`` with the message and its ticket, as
inbound's ``_upgrade`` does, so the console redraws the line and the bot reads the text.

Bounded everywhere: the queue holds ``QUEUE_MAX`` messages (more are dropped, counted and logged:
the next start or a ``wait`` picks them up), ``CONCURRENCY`` requests at once, a failing server is
tried ``len(RETRY_DELAYS) + 1`` times per note, then the note is left without a transcript. The
voice notes of the last ``BACKFILL_S`` that have none yet are queued again at start (zingd was down,
or the server failed), and a tenant's when an admin changes its model, server or key (the notes
that came while it was off), looking at the newest ``BACKFILL_ROWS`` messages at most.

The bot reads a voice note by its transcript: ``await transcriber.wait(message_id, timeout)``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zingd.assistant.hub import AssistantOff, LimitReached
from zingd.assistant.provider import ProviderError
from zingd.bus import Bus, Event
from zingd.services.media import media_dir
from zingd.store import messages as M
from zingd.store import tickets as T
from zingd.store.db import Database, Tx

if TYPE_CHECKING:
    from zingd.assistant.hub import Assistant

log = logging.getLogger(__name__)

MAX_BYTES = 25_000_000          # OpenAI's limit for one file; most servers take less than they say
CONCURRENCY = 2                 # notes transcribed at once (the hub also bounds each server)
QUEUE_MAX = 500
RETRY_DELAYS = (0.5, 2.0)       # after a transient failure (server, timeout, rate limit, unreachable)
TRANSIENT = ("server", "timeout", "rate_limited", "unreachable")
BACKFILL_S = 3600.0
BACKFILL_ROWS = 50_000
GIVEN_UP_MAX = 1024             # notes recently given up on, so ``wait`` answers at once
RETRY_ON = {"transcription", "base_url", "api_key"}  # assistant.update fields that may turn transcripts on
FIELDS = "id, tenant_id, ticket_id, direction, type, media_path, media_mime, deleted, transcript"


class Skip(Exception):
    """The note's file can't be sent (gone, too big, outside the media dir): said once, not retried."""


def wanted(m: dict[str, Any]) -> bool:
    """A customer's voice note (or audio file) with a stored file and no transcript yet."""
    return (m.get("direction") == "in" and m.get("type") == "audio" and bool(m.get("media_path"))
            and m.get("transcript") is None and not m.get("deleted"))


def read_audio(data_dir: Path, tenant_id: int, media_path: str, max_bytes: int) -> bytes:
    """The file of a message, only if it is the tenant's own media: its real path (every symlink
    followed) must be inside ``<data dir>/media/<tenant>``, and what is opened there is a regular
    file no bigger than ``max_bytes``."""
    root = os.path.realpath(media_dir(data_dir, tenant_id))
    path = os.path.realpath(media_path)
    if os.path.commonpath([root, path]) != root or path == root:
        raise Skip(f"its file {media_path} is not in the tenant's media dir {root}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise Skip(f"its file {media_path} can't be opened: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Skip(f"its file {media_path} is not a regular file")
        if st.st_size > max_bytes:
            raise Skip(f"its file is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit for a transcript")
        if st.st_size == 0:
            raise Skip(f"its file {media_path} is empty")
        chunks, left = [], max_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # it grew since fstat
        raise Skip(f"its file is over the {max_bytes:,}-byte limit for a transcript")
    return data


def store_unit(tx: Tx, message_id: int, text: str) -> dict[str, Any] | None:
    """Put the transcript on the message (unless one got there first) and tell everyone who sees it."""
    if not tx.execute("UPDATE messages SET transcript = ?, updated_at = ? WHERE id = ? AND transcript IS NULL",
                      (text, tx.now, message_id)).rowcount:
        return None
    message = M.get(tx, message_id)
    tx.emit(message["tenant_id"], "message.updated",
            {"message": message, "ticket": T.get(tx, message["tenant_id"], message["ticket_id"])},
            ticket_id=message["ticket_id"])
    return message


class Transcriber:
    def __init__(self, db: Database, bus: Bus, assistant: Assistant, data_dir: Path,
                 max_bytes: int = MAX_BYTES) -> None:
        self.db, self.bus, self.assistant, self.data_dir, self.max_bytes = db, bus, assistant, data_dir, max_bytes
        self._queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_MAX)
        self._pending: set[int] = set()                     # queued or being transcribed
        self._waiters: dict[int, asyncio.Future[str | None]] = {}
        self._given_up: OrderedDict[int, None] = OrderedDict()  # failed or unsendable: not asked again
        self._workers: list[asyncio.Task] = []
        self._backfills: set[asyncio.Task] = set()
        self._tapped = False
        self.running = False
        # notes transcribed; given up on after a failure; not sent (file, limit); not queued (queue full)
        self.transcribed = self.failed = self.skipped = self.dropped = 0

    async def start(self) -> None:
        if not self._tapped:  # the bus has no untap: one tap for the process, idle while stopped
            self.bus.tap(self._on_event)
            self._tapped = True
        self.running = True
        self._workers = [asyncio.create_task(self._work()) for _ in range(CONCURRENCY)]
        self._backfill_soon(None)

    async def stop(self) -> None:
        self.running = False
        tasks = [*self._workers, *self._backfills]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        while not self._queue.empty():
            self._queue.get_nowait()
        for message_id in list(self._pending):
            self._settle(message_id, None)

    async def wait(self, message_id: int, timeout: float) -> str | None:
        """The voice note's transcript, once there (at once if it is already); None if it won't be
        (not a voice note, no transcription model, its file can't be sent, the server failed) or
        not within ``timeout`` seconds. For the bot, which reads a voice note by its transcript."""
        row = await self.db.one(f"SELECT {FIELDS} FROM messages WHERE id = ?", (message_id,))
        if row is None or not wanted(row):
            return row["transcript"] if row is not None else None
        if not self.running or (message_id not in self._pending
                                and (message_id in self._given_up or not self._enqueue(message_id))):
            return None
        future = self._waiters.get(message_id)
        if future is None:
            future = self._waiters[message_id] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None

    # -- queueing ------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if not self.running:
            return
        if event.type in ("message.created", "message.updated"):
            message = event.data.get("message")
            if isinstance(message, dict) and wanted(message):
                self._given_up.pop(message["id"], None)  # a new file (fetched again): worth another try
                self._enqueue(message["id"])
        elif event.type == "assistant.updated" and set(event.data.get("changed", ())) & RETRY_ON:
            self._backfill_soon(event.tenant_id)  # a model (or key) set now: the notes it missed too

    def _enqueue(self, message_id: int) -> bool:
        if message_id in self._pending:
            return True
        try:
            self._queue.put_nowait(message_id)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("voice note %s not transcribed: %d notes are waiting already", message_id, QUEUE_MAX)
            return False
        self._pending.add(message_id)
        return True

    def _settle(self, message_id: int, text: str | None) -> None:
        self._pending.discard(message_id)
        future = self._waiters.pop(message_id, None)
        if future is not None and not future.done():
            future.set_result(text)

    def _give_up(self, message_id: int) -> None:
        self._given_up[message_id] = None
        if len(self._given_up) > GIVEN_UP_MAX:
            self._given_up.popitem(last=False)

    def _backfill_soon(self, tenant_id: int | None) -> None:
        task = asyncio.create_task(self._backfill(tenant_id))
        self._backfills.add(task)
        task.add_done_callback(self._backfills.discard)

    async def _backfill(self, tenant_id: int | None) -> None:
        """Queue the recent voice notes still without a transcript: all tenants' at start (zingd was
        down, or busy), one tenant's when its settings change."""
        if tenant_id is not None:
            self.assistant.forget(tenant_id)  # its new settings may not have reached the hub yet
        try:
            rows = await self.db.all(
                f"SELECT {FIELDS} FROM (SELECT {FIELDS}, created_at FROM messages ORDER BY id DESC LIMIT ?) "
                "WHERE created_at >= ? AND direction = 'in' AND type = 'audio' AND media_path IS NOT NULL "
                "AND transcript IS NULL AND deleted = 0 AND (? IS NULL OR tenant_id = ?) ORDER BY id",
                (BACKFILL_ROWS, self.db.clock() - BACKFILL_S, tenant_id, tenant_id))
            on: dict[int, bool] = {}
            for row in rows:
                if row["tenant_id"] not in on:
                    on[row["tenant_id"]] = not await self.assistant.available(row["tenant_id"], "transcription")
                if on[row["tenant_id"]]:
                    self._given_up.pop(row["id"], None)
                    if not self._enqueue(row["id"]):
                        break
        except Exception:
            log.exception("could not look for voice notes left without a transcript")

    # -- transcribing --------------------------------------------------------
    async def _work(self) -> None:
        while True:
            message_id = await self._queue.get()
            text = None
            try:
                text = await self._transcribe(message_id)
            except Exception:
                self.failed += 1
                self._give_up(message_id)
                log.exception("voice note %s: transcribing failed", message_id)
            finally:
                self._settle(message_id, text)

    async def _transcribe(self, message_id: int) -> str | None:
        row = await self.db.one(f"SELECT {FIELDS} FROM messages WHERE id = ?", (message_id,))
        if row is None or not wanted(row):
            return row["transcript"] if row is not None else None
        tenant_id = row["tenant_id"]
        if reason := await self.assistant.available(tenant_id, "transcription"):
            log.debug("voice note %s not transcribed: %s", message_id, reason)
            return None
        try:
            audio = await asyncio.to_thread(read_audio, self.data_dir, tenant_id, row["media_path"], self.max_bytes)
        except Skip as e:
            self.skipped += 1
            self._give_up(message_id)
            log.warning("voice note %s (tenant %s) not transcribed: %s", message_id, tenant_id, e)
            return None
        mime = (row["media_mime"] or "audio/ogg").split(";")[0].strip()
        text = await self._ask(message_id, tenant_id, audio, os.path.basename(row["media_path"]), mime)
        if text is None:
            return None
        if await self.db.write(store_unit, message_id, text) is not None:
            self.transcribed += 1
        return text

    async def _ask(self, message_id: int, tenant_id: int, audio: bytes, filename: str, mime: str) -> str | None:
        """The server's transcript, a transient failure retried; None when there is none to have."""
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                return await self.assistant.transcribe(tenant_id, audio, filename, mime)
            except AssistantOff:
                return None  # turned off meanwhile
            except LimitReached as e:
                self.skipped += 1
                log.info("voice note %s not transcribed: %s", message_id, e.message)
                return None
            except ProviderError as e:
                if e.failure in TRANSIENT and attempt < len(RETRY_DELAYS):
                    await asyncio.sleep(RETRY_DELAYS[attempt])
                    continue
                self.failed += 1
                self._give_up(message_id)
                log.warning("voice note %s (tenant %s) not transcribed after %d attempt(s): %s", message_id,
                            tenant_id, attempt + 1, e.message)
                return None
        return None
