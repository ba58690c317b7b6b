"""What the channel remembers beside the whatsmeow session.

neonize 0.5.2 cannot send under a caller-chosen message id: its Go
``SendMessage`` export calls whatsmeow without a ``SendRequestExtra`` (only
``SendFBMessage``, for Messenger payloads, takes one), so whatsmeow picks the id.
This store maps the daemon's fixed id to WhatsApp's, so the daemon only ever
sees its own ids (receipts, quotes, reactions, edits and revokes are translated)
and a retry of a message that did go out is answered from here instead of being
sent twice.

A send that failed ambiguously (no answer after the message node left) still
has a WhatsApp id: zing gives every message its own ``messageSecret`` and
whatsmeow stores the secret under the id it chose before it sends anything, so
the id is found in the session's ``whatsmeow_message_secrets`` table and kept
in ``unconfirmed``. A receipt for it then maps back to the daemon's id and
proves the message arrived. It also remembers that the number was paired, so a missing session
file can be told apart from a connection that was never paired.

It lives next to the session file (``<session>.zing``), so it is backed up and
deleted together with the session.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    local TEXT PRIMARY KEY, remote TEXT NOT NULL, chat TEXT NOT NULL, ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_sent_remote ON sent(remote);
CREATE TABLE IF NOT EXISTS unconfirmed (
    remote TEXT PRIMARY KEY, local TEXT NOT NULL, chat TEXT NOT NULL, ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS media_retry (wa_id TEXT PRIMARY KEY, event BLOB NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (chat TEXT PRIMARY KEY, account TEXT NOT NULL, ts REAL NOT NULL);
"""
# Receipts and quotes of older messages are not worth a growing table.
KEEP_SECONDS = 180 * 86400
# WhatsApp's servers keep a file for weeks, not months: past that a fetch could only fail.
MEDIA_RETRY_SECONDS = 30 * 86400
# A number's WhatsApp account, looked up once: asked again after this long (a number can change hands).
ACCOUNT_SECONDS = 30 * 86400


class Sent(NamedTuple):
    remote: str
    ts: float


def sidecar_path(session_path: Path) -> Path:
    return session_path.with_name(session_path.name + ".zing")


def parked_path(session_path: Path) -> Path:
    """Where the connection parks inbound events it could not commit (``whatsapp.parking``)."""
    return session_path.with_name(session_path.name + ".parked")


class ChannelStore:
    """A tiny SQLite file; every call is a sub-millisecond local query.

    Used from the event loop, executor threads and neonize's callback thread,
    hence one connection behind a lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # numbers' sessions: private
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.executescript(_SCHEMA)
            db.execute("DELETE FROM sent WHERE ts < ?", (time.time() - KEEP_SECONDS,))
            db.execute("DELETE FROM unconfirmed WHERE ts < ?", (time.time() - KEEP_SECONDS,))
            db.execute("DELETE FROM media_retry WHERE ts < ?", (time.time() - MEDIA_RETRY_SECONDS,))
            db.execute("DELETE FROM accounts WHERE ts < ?", (time.time() - ACCOUNT_SECONDS,))
            self._db = db
        return self._db

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn().execute(sql, args).fetchall()

    def record(self, local: str, remote: str, chat: str, ts: float) -> None:
        self._query("INSERT OR REPLACE INTO sent (local, remote, chat, ts) VALUES (?, ?, ?, ?)",
                    (local, remote, chat, ts))

    def sent(self, local: str) -> Sent | None:
        rows = self._query("SELECT remote, ts FROM sent WHERE local = ?", (local,))
        return Sent(*rows[0]) if rows else None

    def remote(self, local: str) -> str | None:
        """WhatsApp's id for a message zing sent, or None if zing did not send it."""
        found = self.sent(local)
        return found.remote if found else None

    def local(self, remote: str) -> str:
        """The daemon's id for a WhatsApp id (unchanged for messages zing did not send)."""
        rows = self._query("SELECT local FROM sent WHERE remote = ? UNION ALL "
                           "SELECT local FROM unconfirmed WHERE remote = ? LIMIT 1", (remote, remote))
        return rows[0][0] if rows else remote

    def record_unconfirmed(self, local: str, remote: str, chat: str, ts: float) -> None:
        """An attempt that may have gone out as ``remote``: its receipts belong to ``local``."""
        self._query("INSERT OR REPLACE INTO unconfirmed (remote, local, chat, ts) VALUES (?, ?, ?, ?)",
                    (remote, local, chat, ts))

    def id_for_secret(self, secret: bytes) -> str | None:
        """The id whatsmeow gave the message carrying ``secret`` (None: it never got that far)."""
        session = self.path.with_name(self.path.name.removesuffix(".zing"))
        try:
            return _secret_message_id(session, secret)
        except sqlite3.Error:  # no session tables yet, or the file is busy: nothing to learn
            return None

    def keep_media_event(self, wa_id: str, event: bytes) -> None:
        """A message whose file failed to download, as received: what a later fetch needs (keys, path)."""
        self._query("INSERT OR REPLACE INTO media_retry (wa_id, event, ts) VALUES (?, ?, ?)",
                    (wa_id, event, time.time()))

    def media_event(self, wa_id: str) -> bytes | None:
        rows = self._query("SELECT event FROM media_retry WHERE wa_id = ?", (wa_id,))
        return rows[0][0] if rows else None

    def drop_media_event(self, wa_id: str) -> None:
        self._query("DELETE FROM media_retry WHERE wa_id = ?", (wa_id,))

    def account(self, chat: str) -> str | None:
        """The JID WhatsApp's lookup gave for ``chat`` (None: not asked in the last 30 days)."""
        rows = self._query("SELECT account FROM accounts WHERE chat = ?", (chat,))
        return rows[0][0] if rows else None

    def remember_account(self, chat: str, account: str) -> None:
        self._query("INSERT OR REPLACE INTO accounts (chat, account, ts) VALUES (?, ?, ?)", (chat, account, time.time()))

    def paired_phone(self) -> str:
        rows = self._query("SELECT value FROM meta WHERE key = 'paired_phone'")
        return rows[0][0] if rows else ""

    def set_paired_phone(self, phone: str) -> None:
        """"" forgets the pairing: the next start may begin a fresh one."""
        if phone:
            self._query("INSERT OR REPLACE INTO meta (key, value) VALUES ('paired_phone', ?)", (phone,))
        else:
            self._query("DELETE FROM meta WHERE key = 'paired_phone'")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def session_problem(session_path: Path, paired_phone: str) -> str | None:
    """Why the session cannot be used, or None.

    Checked before neonize opens the file: the Go side panics (taking the daemon
    with it) on a database it cannot read.
    """
    if not session_path.exists() or session_path.stat().st_size == 0:
        return "the WhatsApp session file is missing" if paired_phone else None
    try:
        devices = _count_devices(session_path)
    except sqlite3.DatabaseError as exc:
        return f"the WhatsApp session file is corrupt ({exc})"
    if paired_phone and not devices:
        return "the WhatsApp session file holds no paired device"
    return None


def _secret_message_id(session_path: Path, secret: bytes) -> str | None:
    uri = session_path.resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
        row = db.execute("SELECT message_id FROM whatsmeow_message_secrets WHERE key = ?", (secret,)).fetchone()
    return row[0] if row else None


def _count_devices(session_path: Path) -> int:
    uri = session_path.resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("integrity check failed")
        table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'whatsmeow_device'")
        if table.fetchone() is None:
            return 0
        return db.execute("SELECT count(*) FROM whatsmeow_device").fetchone()[0]
