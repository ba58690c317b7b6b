"""Where a tenant's media lives: ``<data dir>/media/<tenant id>/``.

One rule for both directions: the channels write received files there, and an
attachment an agent sends is staged there before its message is queued. Files
there are 0600 in 0700 directories (``durable.write_atomic``, ``make_dirs``, and
zingd's umask 077 for anything else): a customer's photo is nobody else's to read.
"""

from __future__ import annotations

from pathlib import Path


def media_dir(data_dir: Path, tenant_id: int) -> Path:
    return data_dir / "media" / str(tenant_id)
