"""Numbered migrations applied with sqlite-utils; the version lives in PRAGMA user_version.

A database newer than this code is refused rather than half-understood.
Append to MIGRATIONS, never edit a released one. An entry is either the name of
an SQL file beside this module or a function of a sqlite_utils.Database
(for table rewrites, ``db[table].transform(...)`` / ``add_column``).
Each migration and its version bump commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import sqlite_utils

from zingd.store.migrations_002 import add_round_robin_cursor
from zingd.store.migrations_009 import allow_unconfirmed_ack
from zingd.store.migrations_017 import allow_cloud_kind

Migration = str | Callable[[sqlite_utils.Database], None]

MIGRATIONS: list[Migration] = ["schema_001.sql", add_round_robin_cursor, "schema_003.sql", "schema_004.sql",
                               "schema_005.sql", "schema_006.sql", "schema_007.sql", "schema_008.sql",
                               allow_unconfirmed_ack, "schema_010.sql", "schema_011.sql",
                               "schema_012.sql", "schema_013.sql", "schema_014.sql",
                               "schema_015.sql", "schema_016.sql", allow_cloud_kind, "schema_018.sql"]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    pass


def _apply(db: sqlite_utils.Database, migration: Migration, version: int) -> None:
    conn = db.conn
    try:
        if isinstance(migration, str):
            sql = resources.files("zingd.store").joinpath(migration).read_text()
            # executescript would commit first; keep script and version bump in one transaction
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        else:
            conn.execute("BEGIN IMMEDIATE")
            migration(db)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the database to SCHEMA_VERSION; return the version it had."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema v{current} is newer than this zingd (v{SCHEMA_VERSION}); upgrade zing"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        _apply(db, MIGRATIONS[version - 1], version)
    return current
