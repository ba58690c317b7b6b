"""Files a caller names for the daemon to read (attachments, CSV and vCard imports).

The daemon reads with its own permissions, so it checks on the caller's behalf:
never anything inside zing's data directory (other tenants' media, the database,
WhatsApp sessions); never over HTTP (a token holder is not a local user); and for
a local user other than the daemon's own, only files they could read themselves.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from zingd.errors import Forbidden, Invalid


def caller_file(data_dir: Path, peer_uid: int | None, path: str, field: str) -> Path:
    if peer_uid is None:
        raise Forbidden("files are named only over the Unix socket (zingctl, zingtui)", field=field)
    given = Path(path).expanduser()
    if not given.is_absolute():
        raise Invalid(f"{path}: give an absolute path (the daemon has its own working directory)", field=field)
    real = given.resolve()
    data = data_dir.resolve()
    if real == data or data in real.parents:
        raise Forbidden(f"{path} is inside zing's data directory; copy it elsewhere first", field=field)
    if not real.is_file():
        raise Invalid(f"no readable file at {path}", field=field)
    if peer_uid != os.getuid():
        st = real.stat()
        if st.st_uid != peer_uid and not st.st_mode & stat.S_IROTH:
            raise Forbidden(f"{path} is not yours to read", field=field)
    return real


async def read_text(data_dir: Path, peer_uid: int | None, path: str, field: str) -> str:
    real = caller_file(data_dir, peer_uid, path, field)
    try:
        return await asyncio.to_thread(real.read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise Invalid(f"cannot read {path}: {e}", field=field) from None
