"""Backups: a consistent copy of the live database (SQLite's online backup, through
aiosqlite), and an offline restore that refuses to run beside a live daemon."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zingd.durable import fsync_dir, sync_file
from zingd.errors import Conflict, Invalid
from zingd.store.migrations import SCHEMA_VERSION

if TYPE_CHECKING:
    from zingd.store.db import Database


async def backup(db: Database, path: str) -> dict[str, Any]:
    target = Path(path).expanduser()
    if target.exists():
        raise Conflict(f"{target} exists; choose a new file", field="path")
    if not target.parent.is_dir():
        raise Invalid(f"no directory {target.parent}", field="path")
    started = time.monotonic()
    part = target.with_name(f".{target.name}.part")
    part.unlink(missing_ok=True)
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
        os.close(fd)
        dest = sqlite3.connect(part, check_same_thread=False)
        try:
            await db.reader.backup(dest)
        finally:
            dest.close()
        await asyncio.to_thread(_publish, part, target)
    finally:
        part.unlink(missing_ok=True)
    return {"path": str(target), "bytes": target.stat().st_size, "seconds": round(time.monotonic() - started, 3),
            "schema_version": SCHEMA_VERSION}


def restore(source: Path, db_path: Path) -> Path | None:
    """Replace the database with a backup (the daemon must be stopped: the caller holds its lock).
    Returns where the previous database was kept."""
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise ValueError(f"{source} fails SQLite's integrity check")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise ValueError(f"{source} is not a zing database: {e}") from None
    finally:
        conn.close()
    if not 1 <= version <= SCHEMA_VERSION:
        raise ValueError(f"{source} has schema v{version}; this zingd reads v1..v{SCHEMA_VERSION}")
    kept = None
    if db_path.exists():
        kept = db_path.with_name(f"{db_path.name}.before-restore-{int(time.time())}")
        db_path.rename(kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    part = db_path.with_name(f".{db_path.name}.restore.part")
    shutil.copyfile(source, part)
    os.chmod(part, 0o600)
    sync_file(part)
    os.replace(part, db_path)
    fsync_dir(db_path.parent)
    return kept


def _publish(part: Path, target: Path) -> None:
    """Give the finished backup its name only once it is on disk, and never over another file."""
    sync_file(part)
    try:
        os.link(part, target)
    except FileExistsError:
        raise Conflict(f"{target} exists; choose a new file", field="path") from None
    fsync_dir(target.parent)
