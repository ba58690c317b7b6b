"""Backups: a consistent copy of the live database (SQLite's online backup, through
aiosqlite), and an offline restore that refuses to run beside a live daemon.

A backup is written only into the daemon's own ``<data dir>/backups/`` (0700), under a name the
daemon picks or a plain file name the caller gives (letters, digits, ``. _ -``; no leading dot,
no ``..``): never to a path a caller names. The file is 0600 from its first byte, and gets its
name only once it is on disk, never over another file."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zingd.durable import fsync_dir, make_dirs, sync_file
from zingd.errors import Conflict, Invalid
from zingd.store.migrations import SCHEMA_VERSION

if TYPE_CHECKING:
    from zingd.store.db import Database


PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def backups_dir(data_dir: Path) -> Path:
    return data_dir / "backups"


def _folder(data_dir: Path) -> Path:
    """The backups directory, made if need be and kept private (0700)."""
    folder = backups_dir(data_dir)
    make_dirs(folder, 0o700)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise Conflict(f"{folder} is not a directory; move it away")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)
    return folder


def _target(folder: Path, name: str | None) -> Path:
    if name is not None:
        if not PLAIN_NAME.fullmatch(name) or ".." in name:
            raise Invalid("name: a plain file name (letters, digits, . _ -; no leading dot, no ..), "
                          "written into the daemon's backups directory", field="name")
        target = folder / name
        if os.path.lexists(target):
            raise Conflict(f"a backup named {name} exists; choose a new name", field="name")
        return target
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for n in range(1, 1000):
        target = folder / (f"zing-{stamp}.db" if n == 1 else f"zing-{stamp}-{n}.db")
        if not os.path.lexists(target):
            return target
    raise Conflict("too many backups this second; retry")


async def backup(db: Database, data_dir: Path, name: str | None = None) -> dict[str, Any]:
    folder = await asyncio.to_thread(_folder, data_dir)
    target = _target(folder, name)
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
    if not source.is_file():
        raise ValueError(f"{source}: no such file" if not source.exists() else f"{source} is not a file")
    try:  # read only, through a URI that keeps a path's '?' or '#' a path
        conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise ValueError(f"cannot open {source}: {e}") from None
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
        raise Conflict(f"a backup named {target.name} exists; choose a new name", field="name") from None
    fsync_dir(target.parent)
