"""A cloud number's webhook changes into committed messages, receipts and notices; files after commit.

``handle(field, value)`` returns once everything the change says is committed (the webhook answers
Meta only then, so a crash means redelivery, never loss; a redelivered message id changes nothing).

A media message is committed at once with ``Media(error="downloading…")`` — the customer's next
text is not held up behind a file — and its Meta media id is kept first, durably, in the channel's
own SQLite (``store_path``, ``synchronous=FULL``), together with the message as handed over. After
the webhook's commits a few workers fetch id → URL → bytes (Graph's limits and timeouts; at most
``max_media_bytes``), write the file atomically under the tenant's media dir and hand the message
over again with the file: the daemon's ``ingest`` puts it on the stored message (``message.updated``).
A failure hands over a clear error instead; ``fetch_media`` (``media.fetch``) tries again. Downloads
still pending when zingd stopped (or died) resume at the next start; the file arrives then. The
token goes only where ``Graph`` sends it (Graph's host, and file URLs Graph itself named).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zingd.channels.base import AccountNotice, ChannelSink, InboundMessage, Media, SendError
from zingd.channels.cloud import payloads
from zingd.channels.cloud.account import CloudAccount
from zingd.channels.cloud.graph import Graph, GraphError
from zingd.channels.whatsapp.inbound import media_path
from zingd.durable import write_atomic

log = logging.getLogger(__name__)

DOWNLOADING = "downloading…"
EXPIRED = "Meta no longer has this file (media ids last 30 days): ask the customer to send it again"
MAX_MEDIA_BYTES = 64 << 20
WORKERS = 2                   # files fetched at once per number
KEEP_SECONDS = 30 * 86400     # Meta keeps a received file's id this long: past it a fetch can only fail
NUMBER_TIMEOUT_S = 5.0        # asking Graph for the number's rating after a quality webhook

_SCHEMA = """
CREATE TABLE IF NOT EXISTS media (
    wa_id TEXT PRIMARY KEY,
    media_id TEXT NOT NULL,
    message TEXT NOT NULL,          -- the InboundMessage as handed over (JSON, without its media)
    mime TEXT NOT NULL,
    filename TEXT NOT NULL,
    state TEXT NOT NULL,            -- pending | done | failed
    path TEXT,
    size INTEGER,
    error TEXT NOT NULL DEFAULT '',
    retryable INTEGER NOT NULL DEFAULT 0,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_media_state ON media(state);
"""


class MediaStore:
    """The received files of one number: waiting for their download, fetched, or failed. One small
    SQLite file, fsync'ed on every commit (a pending row must outlive a power cut: its message was
    already acknowledged to Meta). Used from worker threads, one connection behind a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            os.chmod(self.path, 0o600)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            db.execute("DELETE FROM media WHERE ts < ?", (time.time() - KEEP_SECONDS,))
            self._db = db
        return self._db

    def _rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._conn().execute(sql, args)
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def claim(self, incoming: payloads.Incoming) -> dict[str, Any]:
        """The message's row, kept now if it is new: a redelivery finds the first one's state."""
        msg = dataclasses.asdict(incoming.msg)
        for key in ("media", "waveform"):
            msg.pop(key)
        self._rows("INSERT OR IGNORE INTO media (wa_id, media_id, message, mime, filename, state, ts) "
                   "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                   (incoming.msg.wa_id, incoming.media_id, json.dumps(msg), incoming.mime, incoming.filename,
                    time.time()))
        return self.get(incoming.msg.wa_id)

    def get(self, wa_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM media WHERE wa_id = ?", (wa_id,))
        return rows[0] if rows else None

    def pending(self) -> list[str]:
        return [r["wa_id"] for r in self._rows("SELECT wa_id FROM media WHERE state = 'pending' ORDER BY ts")]

    def settle(self, wa_id: str, media: Media) -> None:
        """The download's outcome, after the message carrying it was committed."""
        if media.path:
            self._rows("UPDATE media SET state = 'done', path = ?, size = ?, mime = ?, error = '' WHERE wa_id = ?",
                       (media.path, media.size, media.mime, wa_id))
        else:
            self._rows("UPDATE media SET state = 'failed', error = ?, retryable = ? WHERE wa_id = ?",
                       (media.error or "", int(media.retryable), wa_id))

    def again(self, wa_id: str) -> None:
        self._rows("UPDATE media SET state = 'pending' WHERE wa_id = ?", (wa_id,))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def media_of(row: dict[str, Any]) -> Media:
    """What the stored message should show for this row's file."""
    if row["state"] == "done":
        return Media(mime=row["mime"], path=row["path"], size=row["size"], filename=row["filename"])
    if row["state"] == "failed":
        return Media(mime=row["mime"], filename=row["filename"], error=row["error"], retryable=bool(row["retryable"]))
    return Media(mime=row["mime"], filename=row["filename"], error=DOWNLOADING, retryable=True)


def failure(exc: BaseException) -> Media:
    """A failed download as the agent reads it (and whether ``media.fetch`` may help)."""
    if isinstance(exc, GraphError):
        if exc.kind == "invalid" and (exc.code == 100 or exc.http_status in (404, 410)):
            return Media(error=EXPIRED)
        if exc.kind == "invalid":
            return Media(error=f"not downloaded: {exc}")
        if exc.kind == "auth":
            return Media(error=f"not downloaded: Meta refused the access token ({exc}); set a new one "
                               "(zingctl connections update <id> --access-token -), then fetch it again",
                         retryable=True)
        return Media(error=f"download failed: {exc}", retryable=True)
    if isinstance(exc, OSError):
        return Media(error=f"could not save the file: {exc.strerror or exc}", retryable=True)
    return Media(error=f"download failed: {exc}", retryable=True)


class CloudInbound:
    def __init__(self, connection_id: int, sink: ChannelSink, graph_getter: Callable[[], Graph | None],
                 media_dir: Path, store_path: Path, account: CloudAccount,
                 max_media_bytes: int = MAX_MEDIA_BYTES) -> None:
        self.connection_id, self.sink, self.media_dir = connection_id, sink, media_dir
        self._graph, self.account, self.max_media_bytes = graph_getter, account, max_media_bytes
        self.store = MediaStore(store_path)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._busy: dict[str, asyncio.Event] = {}
        self._workers: list[asyncio.Task] = []
        self._stopped = True  # until start()

    async def start(self) -> None:
        """Open the store and resume the downloads that were pending."""
        self._stopped = False
        for wa_id in await asyncio.to_thread(self.store.pending):
            self._enqueue(wa_id)
        self._workers = [asyncio.create_task(self._work(), name=f"cloud-{self.connection_id}-media-{i}")
                         for i in range(WORKERS)]

    async def stop(self) -> None:
        """A download cut short stays pending: the next start fetches it."""
        self._stopped = True
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        self._queued.clear()
        self._queue = asyncio.Queue()
        await asyncio.to_thread(self.store.close)

    # -- webhook changes -------------------------------------------------------
    async def handle(self, field: str, value: dict[str, Any]) -> None:
        """One change of a webhook; returns when all of it is committed."""
        if self._stopped:  # a delivery that raced the number's stop: refused, so Meta delivers it again
            raise RuntimeError(f"cloud connection {self.connection_id} is stopped")
        parsed = payloads.parse(field, value)
        for why in parsed.skipped:
            log.info("cloud number %s (connection %s): skipped %s", self.account.phone_number_id,
                     self.connection_id, why)
        fetch = []
        for incoming in parsed.messages:
            if incoming.media_id:
                row = await asyncio.to_thread(self.store.claim, incoming)  # on disk before the commit
                incoming.msg.media = media_of(row)
                if row["state"] == "pending":
                    fetch.append(incoming.msg.wa_id)
        # Handed over together: the writer takes them in this order and commits them in groups, instead
        # of one round trip each; the call returns once every one is committed (or raises).
        await asyncio.gather(*(self.sink.message(self.connection_id, i.msg) for i in parsed.messages))
        if parsed.learned:
            await self.sink.learn_ids(self.connection_id, parsed.learned)
        for old, new in parsed.changed:
            await self.sink.number_changed(self.connection_id, old, new)
        await asyncio.gather(*(self.sink.receipt(self.connection_id, r) for r in parsed.receipts))
        for notice in parsed.notices:
            if field == "phone_number_quality_update":
                notice = await self._rated(notice)
            await self.sink.notice(self.connection_id, notice)
        for wa_id in fetch:
            self._enqueue(wa_id)

    async def _rated(self, notice: AccountNotice) -> AccountNotice:
        """Meta's quality webhook names the event and the limit, not the rating: ask Graph for both."""
        graph = self._graph()
        if graph is None:
            return notice
        try:
            number = await asyncio.wait_for(graph.number(), NUMBER_TIMEOUT_S)
        except (GraphError, TimeoutError) as e:
            log.info("connection %s: the number's rating after a quality change is unknown: %s", self.connection_id, e)
            return notice
        data = dict(notice.data)
        data["quality_rating"] = number.get("quality_rating") or data.get("quality_rating")
        data["messaging_limit"] = number.get("messaging_limit_tier") or data.get("messaging_limit")
        return AccountNotice(notice.kind, data)

    # -- files -----------------------------------------------------------------
    def _enqueue(self, wa_id: str) -> None:
        if wa_id not in self._queued:
            self._queued.add(wa_id)
            self._queue.put_nowait(wa_id)

    async def _work(self) -> None:
        while True:
            wa_id = await self._queue.get()
            self._queued.discard(wa_id)
            try:
                await self._download(wa_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the daemon refused the handover (its database): pending, fetched at next start
                log.exception("connection %s: the file of %s could not be handed over", self.connection_id, wa_id)

    async def _download(self, wa_id: str) -> None:
        """Fetch one pending file and hand its message over again, with the file or the reason not.
        The store hears the outcome only after that commit: a crash in between fetches it again."""
        while (busy := self._busy.get(wa_id)) is not None:  # one download of a file at a time
            await busy.wait()
        done = self._busy[wa_id] = asyncio.Event()
        try:
            row = await asyncio.to_thread(self.store.get, wa_id)
            if row is None or row["state"] != "pending":
                return
            graph = self._graph()
            if graph is None:
                return  # the number is stopping: still pending, fetched at its next start
            msg = InboundMessage(**json.loads(row["message"]))
            try:
                media = await self._fetch(graph, row, msg)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                media = failure(e)
                media.mime, media.filename = row["mime"], row["filename"]
                log.warning("connection %s: file of %s: %s", self.connection_id, wa_id, media.error)
            msg.media = media
            await self.sink.message(self.connection_id, msg)
            await asyncio.to_thread(self.store.settle, wa_id, media)
        finally:
            del self._busy[wa_id]
            done.set()

    async def _fetch(self, graph: Graph, row: dict[str, Any], msg: InboundMessage) -> Media:
        info = await graph.media_info(row["media_id"])
        declared = info.get("file_size")
        if isinstance(declared, int | str) and str(declared).isdigit() and int(declared) > self.max_media_bytes:
            return Media(mime=row["mime"], filename=row["filename"], size=int(declared),
                         error=f"not downloaded: {declared} bytes is over the {self.max_media_bytes}-byte limit")
        data = await graph.download(info["url"], self.max_media_bytes)
        mime = str(info.get("mime_type") or row["mime"])
        path = media_path(self.media_dir, msg.wa_id, msg.ts, mime, row["filename"])
        await asyncio.to_thread(write_atomic, path, data)  # on disk before the row that points at it
        return Media(mime=mime, path=str(path), size=len(data), filename=row["filename"])

    async def fetch_media(self, wa_id: str) -> None:
        """Try a failed (or still pending) download again, now; the message gets the file or the new error."""
        row = await asyncio.to_thread(self.store.get, wa_id)
        if row is None or row["state"] == "done":
            raise LookupError("this cloud number has no failed download of that message to try again (it was "
                              "fetched already, or it is over 30 days old: Meta no longer keeps its file)")
        if self._graph() is None:
            raise SendError("the cloud number is not running", retryable=True)
        await asyncio.to_thread(self.store.again, wa_id)
        await self._download(wa_id)
