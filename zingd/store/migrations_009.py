"""v9: a message may be ``unconfirmed`` (sent, but WhatsApp's answer never came).

SQLite cannot alter a CHECK constraint, and rebuilding ``messages`` (millions
of rows, its FTS triggers and indexes) would hold the write lock for minutes.
The new constraint only widens the old one, so every stored row already
satisfies it and the table's on-disk format does not change: this is the case
SQLite's documentation allows editing the stored schema text for
(https://sqlite.org/lang_altertable.html#otheralter, "removing CHECK ...
constraints"). The text is replaced in ``sqlite_schema`` and the schema version
bumped so every connection reloads it; constant time whatever the table size.
"""

from __future__ import annotations

import sqlite_utils

OLD = "'played', 'failed')"
NEW = "'played', 'failed', 'unconfirmed')"


def widen_check(db: sqlite_utils.Database, table: str, old: str, new: str, what: str) -> None:
    """Replace ``old`` by ``new`` (a CHECK that only widens) in ``table``'s stored schema text, and bump
    the schema version so every connection reloads it. ``what`` names the constraint in the error."""
    conn = db.conn
    sql = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    if sql.count(old) != 1:
        raise RuntimeError(f"the CHECK constraint of {what} is not the one this migration widens")
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?",
                     (sql.replace(old, new), table))
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


def allow_unconfirmed_ack(db: sqlite_utils.Database) -> None:
    widen_check(db, "messages", OLD, NEW, "messages' ack column")
