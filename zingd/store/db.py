"""The database: one writer thread with group commit, one aiosqlite reader.

Why not only aiosqlite: it hops from the event loop to its thread once per
statement (~100 µs each), so an inbound message (contact, ticket, message,
event: 6-8 statements) would cost ~1 ms of hops. Here a whole unit of work is
one plain function run on the writer thread, and every unit waiting when the
writer comes round is committed in the same transaction (group commit), each
unit inside its own savepoint, so a failing unit (or a dry run) rolls back alone
and nothing is ever run twice. A unit's future resolves only after COMMIT, and
with the default ``synchronous=FULL`` a COMMIT is on disk: nothing is
acknowledged before it survives a power cut. The writer thread outlives anything
a unit or SQLite raises; if its own loop ever fails, it says so (``writer_error``,
``on_writer_failure``) and every write is refused at once instead of hanging.

Reads are single statements awaited on an aiosqlite connection (WAL lets them
run beside the writer). The few reads that are bounded and index-driven — a page
of tickets or messages, one ticket — run right on the event loop (``page``):
the hop to a thread and back costs more than the query itself. A progress
handler bounds their loop time (0.8 ms); one that overruns moves to the reader thread.
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
from zingd.errors import Unavailable
from zingd.store.migrations import migrate

log = logging.getLogger(__name__)
T = TypeVar("T")
_enc = msgspec.json.Encoder()


def pragmas(synchronous: str = "FULL", busy_timeout_ms: int = 5000) -> list[str]:
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


def connect(path: Path, synchronous: str = "FULL", busy_timeout_ms: int = 5000) -> sqlite3.Connection:
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
_SAVEPOINT, _RELEASE, _UNDO = "SAVEPOINT unit", "RELEASE unit", "ROLLBACK TO unit"


class _Job:
    __slots__ = ("fn", "args", "fut", "dry")

    def __init__(self, fn: Callable[..., Any], args: tuple, fut: asyncio.Future, dry: bool) -> None:
        self.fn, self.args, self.fut, self.dry = fn, args, fut, dry


class _TransactionLost(Exception):
    """A unit's failure made SQLite roll back the whole batch transaction."""


# SQLite failures of the store rather than of the request (space, I/O, locks, memory).
_STORE_FAULTS = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_NOMEM",
                 "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_CORRUPT", "SQLITE_PROTOCOL")


def _as_exception(e: BaseException) -> Exception:
    """What a caller is handed for a unit's failure. A store fault (disk full, I/O) becomes
    ``Unavailable``, a stable kind a client can act on. A ``BaseException`` (SystemExit,
    KeyboardInterrupt, CancelledError) set on an asyncio future would escape the event loop
    and stop the daemon for one request's fault, so it travels as a plain error."""
    if isinstance(e, sqlite3.Error) and (getattr(e, "sqlite_errorname", "") or "").startswith(_STORE_FAULTS):
        err = Unavailable(f"the database could not write: {e}; nothing of this request was written")
        err.__cause__ = e
        return err
    if isinstance(e, Exception):
        return e
    err = RuntimeError(f"unit of work raised {type(e).__name__}: {e}")
    err.__cause__ = e
    return err


class Database:
    def __init__(self, path: Path, bus: Bus, synchronous: str = "FULL",
                 busy_timeout_ms: int = 5000, group_commit_max: int = 256,
                 clock: Callable[[], float] = time.time,
                 on_writer_failure: Callable[[BaseException], None] | None = None,
                 loop_read_budget_s: float = 0.0008) -> None:
        self.path = path
        self.clock = clock
        self.bus = bus
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self.group_commit_max = group_commit_max
        self.on_writer_failure = on_writer_failure
        self.loop_read_budget_s = loop_read_budget_s
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.reader: aiosqlite.Connection | None = None
        self._page: sqlite3.Connection | None = None
        self._page_deadline = 0.0
        self._page_swap: asyncio.Task | None = None
        self.writer_error: BaseException | None = None
        self.commits = 0
        self.units = 0
        self.failed_commits = 0
        self.page_fallbacks = 0

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
        self._page = self._open_page()

    def _open_page(self) -> sqlite3.Connection:
        conn = connect(self.path, self.synchronous, self.busy_timeout_ms)
        conn.execute("PRAGMA query_only=1")
        conn.set_progress_handler(self._page_overdue, 1000)
        return conn

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
        if self._page_swap is not None:
            await self._page_swap
            self._page_swap = None
        if self._page is not None:
            self._page.close()
            self._page = None

    @property
    def writer_alive(self) -> bool:
        return self._thread is not None and self.writer_error is None

    # -- writes ------------------------------------------------------------
    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(tx, *args)`` on the writer thread; return after it is committed."""
        return await self._submit(fn, args, dry=False)

    async def dry_run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a unit of work and roll it back: what it would do, with nothing kept or published."""
        return await self._submit(fn, args, dry=True)

    async def _submit(self, fn: Callable[..., T], args: tuple, dry: bool) -> T:
        if self._thread is None:
            raise RuntimeError("database is closed")
        self.check_writer()
        fut = self._loop.create_future()
        self._jobs.put(_Job(fn, args, fut, dry))
        if self.writer_error is not None:  # it died between the check and the put
            self._fail_waiting()
        return await fut

    def check_writer(self) -> None:
        """Raise ``Unavailable`` once the writer has stopped: a write would never be answered."""
        if self.writer_error is not None:
            raise self._stopped()

    def _writer(self, conn: sqlite3.Connection) -> None:
        """Take every waiting unit, commit them together, repeat. Nothing a unit or SQLite
        raises ends this loop (each failure goes to its callers); should the loop itself fail,
        the failure is recorded, every waiting caller is told, and the daemon is told to stop."""
        batch: list[_Job] = []
        try:
            while True:
                batch, stop = self._next_batch()
                if batch:
                    self._run_batch(conn, batch)
                if stop:
                    return
        except BaseException as e:
            self.writer_error = e
            log.critical("the database writer stopped: %r", e, exc_info=e)
            self._fail_waiting(batch)
            if self.on_writer_failure is not None:
                self._loop.call_soon_threadsafe(self.on_writer_failure, e)
        finally:
            try:
                conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            conn.close()

    def _next_batch(self) -> tuple[list[_Job], bool]:
        job = self._jobs.get()
        if job is _STOP:
            return [], True
        batch = [job]
        while len(batch) < self.group_commit_max:
            try:
                nxt = self._jobs.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return batch, True
            batch.append(nxt)
        return batch, False

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        """All units in one transaction, each inside its own savepoint: a unit that fails (or
        is a dry run) rolls back to its savepoint and nobody else notices. Nothing runs twice,
        so units may mutate their arguments. If COMMIT fails, every unit of the batch is told."""
        outcomes: list[tuple[asyncio.Future, bool, Any]] = []
        events: list[Event] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                outcomes.append(self._run_unit(conn, job, events))
            conn.execute("COMMIT")
            self.commits += 1
        except (sqlite3.Error, _TransactionLost) as e:  # BEGIN, a savepoint or COMMIT failed: nothing is kept
            cause = e.__cause__ if isinstance(e, _TransactionLost) else e
            log.error("group commit of %d units failed: %s", len(batch), cause)
            self.failed_commits += 1
            self._rollback(conn)
            err = Unavailable(f"the database could not write: {cause}; nothing was written")
            outcomes = [(job.fut, False, err) for job in batch]
            events = []
        self.units += len(batch)
        self._loop.call_soon_threadsafe(self._complete, outcomes, events)

    def _run_unit(self, conn: sqlite3.Connection, job: _Job, events: list[Event]) -> tuple[asyncio.Future, bool, Any]:
        tx = Tx(conn, self.clock())
        conn.execute(_SAVEPOINT)
        try:
            result = job.fn(tx, *job.args)
        except BaseException as e:  # this unit's failure, handed to its caller alone...
            if not conn.in_transaction:  # ...unless SQLite undid the whole transaction (disk full, I/O)
                raise _TransactionLost(e) from e
            conn.execute(_UNDO)
            conn.execute(_RELEASE)
            return job.fut, False, _as_exception(e)
        if job.dry:
            conn.execute(_UNDO)
        else:
            events.extend(tx.events)
        conn.execute(_RELEASE)
        return job.fut, True, result

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rollback failed")  # SQLite rolls back a hot journal on next use

    def _stopped(self) -> Unavailable:
        return Unavailable(f"the database writer stopped ({self.writer_error!r}); zingd must be restarted")

    def _fail_waiting(self, taken: list[_Job] = ()) -> None:
        """Tell every caller still queued (and those of a batch ``taken`` off the queue) that its
        write will not happen."""
        err = self._stopped()
        failed = [(job.fut, False, err) for job in taken]
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not _STOP:
                failed.append((job.fut, False, err))
        if failed:
            self._loop.call_soon_threadsafe(self._complete, failed, [])

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

    async def page(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """A page-sized, index-driven read run right on the loop thread (no hop), within a
        budget of loop time: a query that runs longer than ``loop_read_budget_s`` (a plan that
        scans, a huge tenant) is interrupted by SQLite's progress handler and finished on the
        reader thread instead, so no read blocks the other clients for long."""
        conn = self._page
        if conn is not None:
            self._page_deadline = time.perf_counter() + self.loop_read_budget_s
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as e:
                if str(e) != "interrupted":
                    raise
            self.page_fallbacks += 1
            self._page = None  # Python 3.11 re-prepares an interrupted statement on every later use
            self._page_swap = asyncio.ensure_future(self._swap_page(conn))
        return await self.all(sql, params)

    async def _swap_page(self, old: sqlite3.Connection) -> None:
        """A fresh loop connection, opened off the loop (it costs ~1 ms); reads use the reader meanwhile."""
        try:
            self._page = await asyncio.to_thread(self._open_page)
        finally:
            old.close()

    def _page_overdue(self) -> int:
        return time.perf_counter() > self._page_deadline

    async def value(self, sql: str, params: Any = ()) -> Any:
        row = await self.one(sql, params)
        return None if row is None else next(iter(row.values()))
