"""Files callers hand over, so the daemon never opens a path a caller names.

The caller reads its file with its own rights and sends the bytes (``media.upload``: base64
chunks over the socket; ``POST /api/v1/media``: a raw body over HTTP). The daemon stages them at
``<data dir>/uploads/<tenant id>/<id>`` (0600, in 0700 directories of its own) and answers an id;
a send, a contact import or a campaign takes that id and consumes the upload in its own
transaction. Nothing here ever resolves a name the caller chose into a path.

- An upload is its uploader's: another user, even of the same tenant, gets ``not_found``.
- Limits are checked on what arrives: a chunk that would take the upload past MAX_MEDIA is
  refused and the whole upload discarded; the mime type is sniffed from the content (libmagic)
  when the upload is finished, the name's extension counting only where the content is generic.
- A chunk is written at the offset the database says was received, inside the unit that records
  it (units run one at a time, so two chunks of one upload never interleave). Bytes a chunk
  wrote past that offset, if its commit failed, are overwritten by the next chunk and cut off
  when the upload is finished.
- An upload not finished within UPLOAD_IDLE_S of its last chunk, or not used within
  UPLOAD_KEEP_S of its end, expires: lookups ignore it, and the next new upload sweeps its row
  and file (and files a crash left without a row).
- Used once: the first call that commits with an upload consumes it (a media file becomes the
  tenant's, a hard link in its media dir made before the commit); a call that fails, or a dry
  run, leaves it for a retry (``media.discard`` drops it at once).
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import magic

from zingd.actor import Actor
from zingd.durable import fsync_dir, make_dirs
from zingd.errors import Conflict, Invalid, NotFound
from zingd.services.media import media_dir
from zingd.store.db import Database, Tx

MAX_MEDIA = 64 << 20
UPLOAD_IDLE_S = 3600.0
UPLOAD_KEEP_S = 86400.0
MAX_OPEN = 20  # a user's uploads not yet used: bounds the disk one caller can hold
GENERIC = ("application/octet-stream", "text/plain", "application/x-empty")
T = TypeVar("T")


def uploads_dir(data_dir: Path, tenant_id: int) -> Path:
    return data_dir / "uploads" / str(tenant_id)


def staged_file(data_dir: Path, tenant_id: int, upload_id: int) -> Path:
    return uploads_dir(data_dir, tenant_id) / str(upload_id)


def plain_name(name: str) -> str:
    """The last part of what the caller calls its file: a label (and a media file's name), never a path."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base in ("", ".", ".."):
        raise Invalid("name the file, e.g. photo.jpg", field="name")
    return base[:200]


def sniff(head: bytes, name: str) -> str:
    """The content's type; the name's extension only where the content says nothing more specific."""
    found = magic.from_buffer(head, mime=True) if head else ""
    guessed = mimetypes.guess_type(name)[0]
    if found and found not in GENERIC:
        return found
    return guessed or found or "application/octet-stream"


# -- receiving ---------------------------------------------------------------------------
def _own(tx: Tx, actor: Actor, upload_id: int) -> dict[str, Any]:
    row = tx.one("SELECT * FROM uploads WHERE id = ? AND tenant_id = ? AND user_id = ? AND expires_at > ?",
                 (upload_id, actor.tenant_id, actor.user_id, tx.now))
    if row is None:
        raise NotFound(f"no upload {upload_id} of yours (or it expired)", id=upload_id, field="upload_id")
    return row


def _pwrite(path: Path, data: bytes, offset: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
    finally:
        os.close(fd)


def receive_unit(tx: Tx, actor: Actor, data_dir: Path, upload_id: int | None, name: str | None,
                 offset: int | None, data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start an upload (no id) or add a chunk at its end. Returns the row, and the expired uploads a
    start swept (their files are the caller's to remove). An upload a chunk would take past the
    limit is deleted here and returned with ``too_big`` set: refusing it must not roll that back."""
    expired: list[dict[str, Any]] = []
    if upload_id is None:
        if offset not in (None, 0):
            raise Invalid("a new upload starts at offset 0", field="offset")
        if name is None:
            raise Invalid("name the file (e.g. photo.jpg) in the first chunk", field="name")
        expired = tx.all("DELETE FROM uploads WHERE expires_at <= ? RETURNING id, tenant_id", (tx.now,))
        if tx.value("SELECT count(*) FROM uploads WHERE user_id = ?", (actor.user_id,)) >= MAX_OPEN:
            raise Conflict(f"you have {MAX_OPEN} uploads not yet used; use them or let them expire")
        upload_id = tx.insert("uploads", {"tenant_id": actor.tenant_id, "user_id": actor.user_id,
                                          "name": plain_name(name), "created_at": tx.now,
                                          "expires_at": tx.now + UPLOAD_IDLE_S})
    row = _own(tx, actor, upload_id)
    if row["state"] != "receiving":
        raise Conflict(f"upload {upload_id} is finished; start a new one", id=upload_id)
    if offset is not None and offset != row["size"]:
        raise Conflict(f"upload {upload_id} has {row['size']} bytes; send the chunk at offset {row['size']}",
                       id=upload_id, received=row["size"])
    size = row["size"] + len(data)
    if size > MAX_MEDIA:
        tx.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        return {**row, "too_big": True}, expired
    if data:
        _pwrite(staged_file(data_dir, actor.tenant_id, upload_id), data, row["size"])
    tx.execute("UPDATE uploads SET size = ?, expires_at = ? WHERE id = ?", (size, tx.now + UPLOAD_IDLE_S, upload_id))
    return {**row, "size": size, "expires_at": tx.now + UPLOAD_IDLE_S}, expired


def finish_unit(tx: Tx, actor: Actor, upload_id: int, size: int, mime: str) -> dict[str, Any]:
    row = _own(tx, actor, upload_id)
    if row["state"] != "receiving" or row["size"] != size:
        raise Conflict(f"upload {upload_id} changed while it was being finished; check it and retry", id=upload_id)
    tx.execute("UPDATE uploads SET state = 'ready', mime = ?, expires_at = ? WHERE id = ?",
               (mime, tx.now + UPLOAD_KEEP_S, upload_id))
    return {**row, "state": "ready", "mime": mime, "expires_at": tx.now + UPLOAD_KEEP_S}


def _seal(path: Path, size: int, name: str) -> str:
    """Cut off what a failed commit left past the end, make the file durable, sniff its type."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
        head = os.pread(fd, 4096, 0)
    finally:
        os.close(fd)
    fsync_dir(path.parent)
    return sniff(head, name)


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _orphans(folder: Path, known: set[int], older_than: float) -> list[Path]:
    """Files of this tenant's uploads dir whose row is gone (a crash between a commit and the unlink).
    Only old ones: a new upload's file is written before its row commits."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    return [Path(e.path) for e in entries if e.name.isdigit() and int(e.name) not in known
            and e.stat(follow_symlinks=False).st_mtime < older_than]


async def receive(db: Database, data_dir: Path, actor: Actor, data: bytes, upload_id: int | None = None,
                  name: str | None = None, offset: int | None = None, done: bool = False) -> dict[str, Any]:
    """One media.upload call: start and/or add a chunk and/or finish. Returns the upload as callers see it."""
    folder = uploads_dir(data_dir, actor.tenant_id)
    if upload_id is None:
        await asyncio.to_thread(make_dirs, folder, 0o700)
    row, expired = await db.write(receive_unit, actor, data_dir, upload_id, name, offset, data)
    path = staged_file(data_dir, actor.tenant_id, row["id"])
    if expired:
        await asyncio.to_thread(_unlink, [staged_file(data_dir, e["tenant_id"], e["id"]) for e in expired])
    if upload_id is None:
        known = {r["id"] for r in await db.all("SELECT id FROM uploads WHERE tenant_id = ?", (actor.tenant_id,))}
        stale = await asyncio.to_thread(_orphans, folder, known, time.time() - UPLOAD_IDLE_S)
        await asyncio.to_thread(_unlink, stale)
    if row.get("too_big"):
        await asyncio.to_thread(_unlink, [path])
        raise Invalid(f"{row['name']} is over the limit of {MAX_MEDIA} bytes; the upload was discarded",
                      field="data", limit=MAX_MEDIA, id=row["id"])
    if done:
        if row["size"] == 0:
            await discard(db, data_dir, actor, row["id"])
            raise Invalid(f"{row['name']} is empty: nothing to hand over; the upload was discarded", field="data")
        mime = await asyncio.to_thread(_seal, path, row["size"], row["name"])
        row = await db.write(finish_unit, actor, row["id"], row["size"], mime)
    return view(row)


def view(row: dict[str, Any]) -> dict[str, Any]:
    return {"upload_id": row["id"], "name": row["name"], "size": row["size"], "done": row["state"] == "ready",
            "mime": row["mime"] if row["state"] == "ready" else None, "expires_at": row["expires_at"]}


def discard_unit(tx: Tx, actor: Actor, upload_id: int) -> None:
    _own(tx, actor, upload_id)
    tx.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))


async def discard(db: Database, data_dir: Path, actor: Actor, upload_id: int) -> None:
    """Drop an upload of the caller's now (after a dry run, a failed send, an attachment taken back)."""
    await db.write(discard_unit, actor, upload_id)
    await asyncio.to_thread(_unlink, [staged_file(data_dir, actor.tenant_id, upload_id)])


# -- using ------------------------------------------------------------------------------
async def ready(db: Database, actor: Actor, upload_id: int, field: str) -> dict[str, Any]:
    """A finished upload of the caller's, for a call about to use it (``field``: the param that named it)."""
    row = await db.one("SELECT * FROM uploads WHERE id = ? AND tenant_id = ? AND user_id = ? AND expires_at > ?",
                       (upload_id, actor.tenant_id, actor.user_id, db.clock()))
    if row is None:
        raise NotFound(f"no upload {upload_id} of yours (or it expired)", id=upload_id, field=field)
    if row["state"] != "ready":
        raise Conflict(f"upload {upload_id} is not finished: send its last chunk with done: true",
                       id=upload_id, field=field)
    return row


def take(tx: Tx, actor: Actor, upload_id: int) -> None:
    """Consume an upload in the caller's transaction (gone if it rolls back, nothing taken)."""
    if not tx.execute("DELETE FROM uploads WHERE id = ? AND tenant_id = ? AND user_id = ? AND state = 'ready' "
                      "AND expires_at > ?", (upload_id, actor.tenant_id, actor.user_id, tx.now)).rowcount:
        raise NotFound(f"no upload {upload_id} of yours (it was used, or it expired)", id=upload_id)


def consuming(unit: Callable[..., T], *upload_ids: int | None) -> Callable[..., T]:
    """``unit(tx, actor, ...)`` that also consumes these uploads (None: none), all in one savepoint."""
    def consume(tx: Tx, actor: Actor, *args: Any) -> T:
        for upload_id in upload_ids:
            if upload_id is not None:
                take(tx, actor, upload_id)
        return unit(tx, actor, *args)
    return consume


@asynccontextmanager
async def spent(data_dir: Path, actor: Actor, *upload_ids: int | None) -> AsyncIterator[None]:
    """Around the write that consumes uploads: once it has committed, their staged files go too."""
    yield
    await asyncio.to_thread(_unlink, [staged_file(data_dir, actor.tenant_id, u) for u in upload_ids if u is not None])


async def read_text(db: Database, data_dir: Path, actor: Actor, upload_id: int, field: str) -> str:
    """A finished upload as text (CSV, vCard): UTF-8, a byte-order mark dropped."""
    ready_row = await ready(db, actor, upload_id, field)
    path = staged_file(data_dir, actor.tenant_id, ready_row["id"])
    try:
        return await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise Invalid(f"upload {upload_id} is not UTF-8 text (byte {e.start})", field=field) from None


def _link(source: Path, folder: Path, name: str) -> Path:
    make_dirs(folder, 0o700)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "file"
    for attempt in range(100):
        dest = folder / f"{int(time.time() * 1000) + attempt}-{safe}"
        try:
            os.link(source, dest, follow_symlinks=False)
        except FileExistsError:
            continue
        fsync_dir(folder)
        return dest
    raise Conflict(f"cannot name a media file for {name}; retry")


@asynccontextmanager
async def as_media(db: Database, data_dir: Path, actor: Actor, upload_id: int | None,
                   field: str = "upload_id") -> AsyncIterator[dict[str, Any] | None]:
    """A finished upload as the tenant's media file, for the length of the write that sends it: the
    file is in the media dir (and on disk) before the message row commits, as inbound media is.
    If the write commits, the upload's own name goes; if it fails, the media file goes and the
    upload stays for a retry. ``None`` (no upload) gives ``None``."""
    if upload_id is None:
        yield None
        return
    row = await ready(db, actor, upload_id, field)
    source = staged_file(data_dir, actor.tenant_id, upload_id)
    dest = await asyncio.to_thread(_link, source, media_dir(data_dir, actor.tenant_id), row["name"])
    try:
        yield {"media_path": str(dest), "media_mime": row["mime"], "media_size": row["size"]}
    except Exception:  # not on cancellation: the write may still commit, and its message needs the file
        await asyncio.to_thread(_unlink, [dest])
        raise
    await asyncio.to_thread(_unlink, [source])
