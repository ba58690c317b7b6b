"""v17: a connection may be of kind ``cloud`` (the WhatsApp Business Cloud API), beside sim and whatsapp.

As in v9 (``migrations_009``), the CHECK constraint only widens: every stored row satisfies the new
one and the table's format does not change, so the stored schema text is edited in place (SQLite's
documented exception, https://sqlite.org/lang_altertable.html#otheralter) instead of rebuilding
``connections`` with every table that references it.
"""

from __future__ import annotations

import sqlite_utils

from zingd.store.migrations_009 import widen_check

OLD = "CHECK (kind IN ('sim', 'whatsapp'))"
NEW = "CHECK (kind IN ('sim', 'whatsapp', 'cloud'))"


def allow_cloud_kind(db: sqlite_utils.Database) -> None:
    widen_check(db, "connections", OLD, NEW, "connections' kind column")
