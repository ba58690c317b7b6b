"""v17: a connection may be of kind ``cloud`` (the WhatsApp Business Cloud API), beside sim and whatsapp.

As in v9 (``migrations_009``), the CHECK constraint only widens: every stored row satisfies the new
one and the table's format does not change, so the stored schema text is edited in place (SQLite's
documented exception, https://sqlite.org/lang_altertable.html#otheralter) instead of rebuilding
``connections`` with every table that references it.
"""

from __future__ import annotations

import sqlite_utils

OLD = "CHECK (kind IN ('sim', 'whatsapp'))"
NEW = "CHECK (kind IN ('sim', 'whatsapp', 'cloud'))"


def allow_cloud_kind(db: sqlite_utils.Database) -> None:
    conn = db.conn
    sql = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'connections'").fetchone()[0]
    if sql.count(OLD) != 1:
        raise RuntimeError("connections.kind's CHECK constraint is not the one this migration widens")
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'connections'",
                     (sql.replace(OLD, NEW),))
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
