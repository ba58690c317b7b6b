"""The database: one writer thread with group commit, one aiosqlite reader.

Why not only aiosqlite: it hops from the event loop to its thread once per
statement (~100 µs each), so an inbound message (contact, ticket, message,
event: 6-8 statements) would cost ~1 ms of hops. Here a whole unit of work is
one plain function run on the writer thread, and every unit waiting when the
writer comes round is committed in the same transaction (group commit); should
one of them fail, the batch is redone one transaction per unit so the
failure rolls back alone. A unit's future resolves only after COMMIT: nothing is
acknowledged before it is durable.

Reads are single statements awaited on an aiosqlite connection (WAL lets them
run beside the writer). The few reads that are bounded and index-driven — a page
of tickets or messages, one ticket — run right on the event loop (``page``):
the hop to a thread and back costs more than the query itself.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec
import sqlite_utils

from zingd.bus import Bus, Event
from zingd.store.migrations import migrate

log = logging.getLogger(__name__)
T = TypeVar("T")
_enc = msgspec.json.Encoder()


def pragmas(synchronous: str = "NORMAL", busy_timeout_ms: int = 5000) -> list[str]:
    """The one place connection pragmas are set (writer, reader, migrations, tools)."""
    if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"database.synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
    return [
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
        f"PRAGMA synchronous={synchronous}",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA cache_size=-32000",
    ]


def dict_factory(cursor: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row)}


def connect(path: Path, synchronous: str = "NORMAL", busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in pragmas(synchronous, busy_timeout_ms):
        conn.execute(pragma)
    conn.row_factory = dict_factory
    return conn


class Tx:
    """What a unit of work gets: the connection, its clock reading and an event sink."""

    __slots__ = ("conn", "now", "events")

    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self.conn = conn
        self.now = now
        self.events: list[Event] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return self.conn.execute(sql, params).fetchall()

    def value(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else next(iter(row.values()))

    def insert(self, table: str, row: dict[str, Any]) -> int:
        cols = ",".join(row)
        marks = ",".join("?" * len(row))
        return self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values())).lastrowid

    def emit(self, tenant_id: int, type_: str, data: dict[str, Any], ticket_id: int | None = None) -> Event:
        """Persist an event with this unit; it is published only if the unit commits."""
        raw = _enc.encode(data)  # once: stored for replay and sent to every subscriber as is
        seq = self.conn.execute(
            "INSERT INTO events (tenant_id, ticket_id, type, ts, data) VALUES (?,?,?,?,?)",
            (tenant_id, ticket_id, type_, self.now, raw.decode()),
        ).lastrowid
        event = Event(seq, tenant_id, ticket_id, type_, self.now, data, raw)
        self.events.append(event)
        return event

    def audit(self, actor: Any, action: str, target_type: str = "", target_id: int | None = None, **data: Any) -> None:
        self.insert(
            "audit_log",
            {
                "tenant_id": getattr(actor, "tenant_id", data.pop("tenant_id", None)),
                "user_id": getattr(actor, "user_id", None),
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "data": _enc.encode(data).decode(),
                "created_at": self.now,
            },
        )


_STOP = object()


class _UnitFailed(Exception):
    """A unit raised inside a group transaction: the batch is redone unit by unit."""


class _Rollback(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _rolled_back(tx: Tx, fn: Callable[..., Any], *args: Any) -> None:
    raise _Rollback(fn(tx, *args))


class Database:
    def __init__(self, path: Path, bus: Bus, synchronous: str = "NORMAL",
                 busy_timeout_ms: int = 5000, group_commit_max: int = 256,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self.bus = bus
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self.group_commit_max = group_commit_max
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.reader: aiosqlite.Connection | None = None
        self._page: sqlite3.Connection | None = None
        self.commits = 0
        self.units = 0

    # -- lifecycle ---------------------------------------------------------
    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._migrate)
        self._loop = asyncio.get_running_loop()
        conn = connect(self.path, self.synchronous, self.busy_timeout_ms)
        self.bus.last_seq = conn.execute("SELECT ifnull(max(seq), 0) AS s FROM events").fetchone()["s"]
        self._thread = threading.Thread(target=self._writer, args=(conn,), name="zing-writer", daemon=True)
        self._thread.start()
        self.reader = await aiosqlite.connect(self.path, isolation_level=None)
        self.reader.row_factory = dict_factory
        for pragma in [*pragmas(self.synchronous, self.busy_timeout_ms), "PRAGMA query_only=1"]:
            await self.reader.execute(pragma)
        self._page = connect(self.path, self.synchronous, self.busy_timeout_ms)
        self._page.execute("PRAGMA query_only=1")

    def _migrate(self) -> None:
        conn = connect(self.path, self.synchronous, self.busy_timeout_ms)
        conn.row_factory = None  # sqlite-utils expects plain tuples
        try:
            migrate(sqlite_utils.Database(conn))
        finally:
            conn.close()

    async def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self.reader is not None:
            await self.reader.close()
            self.reader = None
        if self._page is not None:
            self._page.close()
            self._page = None

    # -- writes ------------------------------------------------------------
    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(tx, *args)`` on the writer thread; return after it is committed."""
        if self._thread is None:
            raise RuntimeError("database is closed")
        fut = self._loop.create_future()
        self._jobs.put((fn, args, fut))
        return await fut

    async def dry_run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a unit of work and roll it back: what it would do, with nothing kept or published."""
        try:
            await self.write(_rolled_back, fn, *args)
        except _Rollback as done:
            return done.value
        raise AssertionError("unreachable: _rolled_back always raises")

    def _writer(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                batch = [job]
                stop = False
                while len(batch) < self.group_commit_max:
                    try:
                        nxt = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        break
                    batch.append(nxt)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.execute("PRAGMA optimize")
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list) -> None:
        """All units in one transaction; if one fails, redo them one transaction each so the
        failure rolls back alone (no per-unit SAVEPOINT on the common, all-good path)."""
        try:
            outcomes, events = self._in_one_transaction(conn, batch)
        except _UnitFailed:
            outcomes, events = [], []
            for job in batch:
                done, published = self._in_own_transaction(conn, job)
                outcomes.append(done)
                events.extend(published)
        self.commits += 1
        self.units += len(batch)
        self._loop.call_soon_threadsafe(self._complete, outcomes, events)

    def _in_one_transaction(self, conn: sqlite3.Connection, batch: list) -> tuple[list, list[Event]]:
        outcomes: list[tuple[asyncio.Future, bool, Any]] = []
        events: list[Event] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, args, fut in batch:
                tx = Tx(conn, self.clock())
                try:
                    result = fn(tx, *args)
                except Exception as e:
                    raise _UnitFailed from e
                outcomes.append((fut, True, result))
                events.extend(tx.events)
            conn.execute("COMMIT")
        except _UnitFailed as failed:
            conn.execute("ROLLBACK")
            if len(batch) == 1:  # nothing to separate: report it without running it twice
                return [(batch[0][2], False, failed.__cause__)], []
            raise
        except Exception as e:  # commit failed (disk full, I/O): nobody is acknowledged
            log.exception("group commit of %d units failed", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(fut, False, e) for _, _, fut in batch], []
        return outcomes, events

    def _in_own_transaction(self, conn: sqlite3.Connection, job: tuple) -> tuple[tuple, list[Event]]:
        fn, args, fut = job
        tx = Tx(conn, self.clock())
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = fn(tx, *args)
            conn.execute("COMMIT")
        except Exception as e:  # handed to the awaiting caller
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return (fut, False, e), []
        return (fut, True, result), tx.events

    def _complete(self, outcomes: list, events: list[Event]) -> None:
        for event in events:  # committed, in seq order, before anyone hears back
            self.bus.publish(event)
        for fut, ok, value in outcomes:
            if fut.done():
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    # -- reads -------------------------------------------------------------
    async def all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return await self.reader.execute_fetchall(sql, params)

    async def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = await self.reader.execute_fetchall(sql, params)
        return rows[0] if rows else None

    def page(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """A bounded, index-driven read (at most a page of rows) on the loop thread: no hop."""
        return self._page.execute(sql, params).fetchall()

    async def value(self, sql: str, params: Any = ()) -> Any:
        row = await self.one(sql, params)
        return None if row is None else next(iter(row.values()))
