"""Files that survive a power cut: written whole under a temporary name, fsync'ed, renamed,
and the directory fsync'ed so the rename itself is on disk.

An acknowledgement that depends on a file (a media file its message row points at, a token
a client was told it saved, a backup an admin was told it made) is given only after these
return. Plain ``write`` + ``rename`` is not enough: after a power cut the name can point at an
empty or partial file, or be gone. Light on imports: zingctl and zingtui use it too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (a create, a rename) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path, mode: int = 0o700) -> None:
    """``mkdir -p`` whose new directories survive a power cut (each new one's parent is synced).
    Each new directory gets exactly ``mode`` (private by default), whatever the umask."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=mode)
            os.chmod(new, mode)
        except FileExistsError:  # made meanwhile by another writer: its mode is theirs
            pass
        fsync_dir(new.parent)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the whole new one, never half,
    and once this returns the new one is on disk. The file is never readable by others
    while written (the temporary file is created 0600, then given ``mode``); directories
    made for it are 0700."""
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def sync_file(path: Path) -> None:
    """Make a file some library wrote (SQLite's backup, a copy) and its name durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)
