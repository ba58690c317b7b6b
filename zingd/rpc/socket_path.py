"""Taking and giving back the socket path the daemon listens on.

Kept apart from the server so the rules about what may be replaced at that path
live in one place:

- Only a stale socket is ever removed: a socket nobody answers at (a zingd that
  crashed). A file, a directory or a symlink at the path is refused, and so is a
  socket something answers at: that is another daemon, maybe with another data
  dir (the data-dir lock does not cover the socket path), and its clients must
  not be taken from it.
- zing's own runtime directory (``paths.socket_dir``) is made private (0700). A
  directory the user named with ``--socket`` is left as it is: chmodding ``/tmp``
  would strip its sticky bit. The socket itself is private there anyway (zingd's
  umask 077 creates it 0700, the server then sets 0600), but a directory anyone
  may rename entries in without the sticky bit would let another user swap the
  socket for their own, so that one is refused.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from zingd.paths import socket_dir


class SocketPathRefused(RuntimeError):
    pass


def claim(path: Path) -> None:
    """Make ``path`` ready to bind, or raise SocketPathRefused saying why it can't be."""
    parent = path.parent
    if parent == socket_dir():
        _private_dir(parent)
    elif not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
    else:
        mode = parent.stat().st_mode
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            raise SocketPathRefused(f"{parent} is writable by every user (and not sticky), so anyone could "
                                    "replace the socket; choose a private directory")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketPathRefused(f"{path} exists and is not a socket; zingd only replaces a stale socket "
                                "(remove it or choose another --socket)")
    try:
        live = _answers(path)
    except OSError as e:
        raise SocketPathRefused(f"cannot tell whether {path} is in use ({e.strerror}); "
                                "remove it if no zingd serves there") from e
    if live:
        raise SocketPathRefused(f"another zingd is serving at {path} (stop it or choose another --socket)")
    path.unlink(missing_ok=True)  # stale: left by a zingd that did not stop cleanly


def bound(path: Path) -> tuple[int, int]:
    """Just bound: make the socket 0600 and remember which file it is (device, inode)."""
    os.chmod(path, 0o600)
    st = os.lstat(path)
    return st.st_dev, st.st_ino


def release(path: Path, ours: tuple[int, int]) -> None:
    """Remove the socket at ``path`` if it is still the one this daemon bound (``bound``): a
    socket another daemon put there since (ours removed by hand, say) stays."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if (st.st_dev, st.st_ino) == ours:
        path.unlink(missing_ok=True)


def _answers(path: Path) -> bool:
    """Is something listening at the socket ``path``? Only a refused connection says no;
    any other failure (no permission to connect...) raises OSError: we can't tell."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except TimeoutError:  # listening, with a full backlog
        return True
    finally:
        probe.close()
    return True


def _private_dir(path: Path) -> None:
    """zing's runtime directory: created 0700, or made 0700 if it is the user's own."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise SocketPathRefused(f"{path} is not a directory of this user; remove it or choose another --socket")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
