"""v2: round-robin cursor per queue (the last agent it assigned to)."""

import sqlite_utils


def add_round_robin_cursor(db: sqlite_utils.Database) -> None:
    db["queues"].add_column("rr_last_user_id", int)
