"""Taking and giving back the socket path the daemon listens on.

Kept apart from the server so the rules about what may be replaced at that path
live in one place.
"""

from __future__ import annotations

import os
from pathlib import Path


def claim(path: Path) -> None:
    """Make ``path`` ready to bind: its directory exists and nothing stale sits at it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    if path.exists():  # a stale socket from a crash (the data-dir lock proves nobody owns it)
        path.unlink()


def release(path: Path) -> None:
    """Remove the socket this daemon bound."""
    path.unlink(missing_ok=True)
