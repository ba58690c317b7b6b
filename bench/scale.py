"""zingd on a big database: 1,000,000 tickets and 5,000,000 messages across 10 tenants.

    python -m bench.scale [--quick] [--tickets N] [--messages N] [--calls N] [--report-calls N] [--rebuild]

1. Build (once; cached under .bench/ keyed by size and schema) a database with
   plain ``sqlite3`` through the daemon's own migrations: tenants, users (an admin
   and agents per tenant), queues, one sim connection per tenant, contacts,
   tickets (most closed; the newest open or pending, one active ticket per
   contact) and messages whose text follows a Zipf-like Portuguese/English
   vocabulary (the most common word is in ~5% of messages). The FTS triggers are
   dropped during the load and the index is rebuilt at the end; both are timed.
   An agent of tenant 1 is linked to this OS user, so the bench's socket client is
   that agent by its peer uid; the tenant's admin and a newcomer agent (a few closed
   tickets among the tenant's many) log in with a password.
2. Start zingd on that data dir (``zingd.__main__.main``, in a child process that also
   times the event loop's reads; see "the loop time of Database.page" below) and measure
   through the socket:
   ``ticket.list`` of the agent's open tickets, the Closed and All lists of an agent,
   the newcomer and the admin (first page and a later one), the tab counts,
   ``message.search`` for single words from the most common down to rare ones, and a
   few hundred ``sim.say`` at that size; zingd's VmRSS is sampled all along (VmHWM at
   the end). Each read is compared with the very SQL the service runs, executed with
   plain ``sqlite3`` on the same file in the same run; for ``ticket.list`` (whose SQL
   runs on zingd's event loop) also the loop time per call and how many calls zingd
   moved to its reader thread (``daemon.status``).
   Then the supervisors' reports of tenant 1 over its last 30 days of data (``report.summary``,
   ``report.series`` by day, by hour of day per agent, by day per tag) and ``report.live``: the
   build gives tickets their timelines (accept, transfer, reopen, close), ratings and tags for them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import mmap
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_DIR,
    ROOT,
    LineClient,
    MemSampler,
    Report,
    busy_note,
    captured_sql,
    customer_number,
    ms,
    proc_mem,
    progress,
    rate,
    raw_sql_latency,
    stop_zingd,
    summary,
    vocabulary,
    wait_quiet,
)

BUILD_VERSION = 3        # 2: tenant 1 has a newcomer agent with few closed tickets; 3: timelines, ratings, tags
TENANTS = 10
AGENTS_PER_TENANT = 20
NEWCOMER_CLOSED = 60     # closed tickets of tenant 1's newcomer, spread over the year
ACTIVE_FRACTION = 0.05   # the newest tickets of a tenant are open or pending, the rest closed
CONTACTS_PER_TICKET = 0.3
PASSWORD = "bench-admin-1"
TAGS_PER_TENANT = 8
TAGGED_FRACTION = 0.3    # tickets with one or two tags
TRANSFER_FRACTION = 0.1  # tickets with a transfer in their timeline
REOPEN_FRACTION = 0.03   # closed tickets that were reopened once
RATED_FRACTION = 0.3     # closed tickets with a 1-5 rating

TARGET_LIST_P99 = 0.001
TARGET_LOOP_P99 = 0.001      # loop time per ticket.list call (the SQL on zingd's loop connection)
MAX_MOVED = 0.01             # share of those calls Database.page may move to the reader thread
TARGET_SEARCH_P99 = 0.020
TARGET_RSS_MB = 200.0
TARGET_REPORT_P99 = 0.200    # a 30-day report of one tenant (issue 15)
REPORT_DAYS = 30


# ===================================================================================
# the build
# ===================================================================================
def schema_key() -> str:
    """Changes whenever a migration is added or edited, so a cached database is rebuilt."""
    import zingd.store as store
    from zingd.store.migrations import SCHEMA_VERSION

    h = hashlib.sha1(str(SCHEMA_VERSION).encode())
    folder = Path(store.__file__).parent
    for path in sorted([*folder.glob("schema_*.sql"), *folder.glob("migrations*.py")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(str(BUILD_VERSION).encode())
    return h.hexdigest()[:10]


def cache_dir(tickets: int, messages: int) -> Path:
    return BENCH_DIR / f"scale-t{tickets}-m{messages}-{schema_key()}"


def _chunks(it, size: int):
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def build(root: Path, n_tickets: int, n_messages: int, seed: int = 42) -> dict[str, Any]:
    """Write root/data/zing.db; returns facts about what was built (also kept in root/build.json)."""
    import sqlite_utils

    from zingd.services.auth import hash_password
    from zingd.store.migrations import migrate

    data = root / "data"
    for stale in root.parent.glob(root.name.rsplit("-", 1)[0] + "-*"):  # same size, older schema
        if stale != root and stale.is_dir():
            progress(f"build: removing {stale} (built for another schema)")
            shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    data.mkdir(parents=True)
    db_path = data / "zing.db"
    tmp_path = data / "zing.db.building"
    rng = random.Random(seed)
    vocab = vocabulary()
    facts: dict[str, Any] = {"tickets": n_tickets, "messages": n_messages, "tenants": TENANTS,
                             "agents_per_tenant": AGENTS_PER_TENANT, "schema": schema_key()}
    t_all = time.perf_counter()

    conn = sqlite3.connect(tmp_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute("PRAGMA temp_store=MEMORY")
    migrate(sqlite_utils.Database(conn))
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                            "AND name LIKE 'messages_fts_%'").fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")

    now = time.time()
    year = 365 * 86400.0
    t0 = now - year
    pw = hash_password(PASSWORD)
    uid = os.getuid()
    conn.execute("BEGIN")
    # -- tenants, users, queues, connections ------------------------------------------
    agents: dict[int, list[int]] = {}
    queues: dict[int, list[int]] = {}
    tags: dict[int, list[int]] = {}
    for t in range(1, TENANTS + 1):
        conn.execute("INSERT INTO tenants (id, name, created_at) VALUES (?,?,?)", (t, f"Tenant {t}", t0))
        conn.execute("INSERT INTO users (tenant_id, email, name, role, password_hash, created_at, updated_at) "
                     "VALUES (?,?,?,?,?,?,?)", (t, f"admin@t{t}.bench", f"Admin {t}", "admin", pw, t0, t0))
        agents[t] = []
        for a in range(AGENTS_PER_TENANT):
            os_uid = uid if (t == 1 and a == 0) else None
            agents[t].append(conn.execute(
                "INSERT INTO users (tenant_id, email, name, role, password_hash, os_uid, max_tickets, created_at, "
                "updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (t, f"agent{a}@t{t}.bench", f"Agent {a} T{t}", "agent", pw, os_uid, 1000, t0, t0)).lastrowid)
        queues[t] = []
        for qname in ("Vendas", "Suporte"):
            qid = conn.execute("INSERT INTO queues (tenant_id, name, created_at) VALUES (?,?,?)",
                               (t, qname, t0)).lastrowid
            queues[t].append(qid)
        for i, user in enumerate(agents[t]):  # each agent in one queue, half of them in both
            conn.executemany("INSERT INTO queue_members (queue_id, user_id) VALUES (?,?)",
                             [(q, user) for j, q in enumerate(queues[t]) if i % 2 == 0 or j == i % 2])
        if t == 1:  # joined lately: a few closed tickets among the tenant's many (the worst case of a scan)
            facts["newcomer_user_id"] = conn.execute(
                "INSERT INTO users (tenant_id, email, name, role, password_hash, max_tickets, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (t, "newcomer@t1.bench", "Newcomer T1", "agent", pw, 1000, t0, t0)).lastrowid
            conn.execute("INSERT INTO queue_members (queue_id, user_id) VALUES (?,?)", (queues[t][0],
                                                                                      facts["newcomer_user_id"]))
        conn.execute("INSERT INTO connections (id, tenant_id, name, kind, is_default, status, created_at, updated_at) "
                     "VALUES (?,?,?,?,?,?,?,?)", (t, t, f"WhatsApp {t}", "sim", 1, "disconnected", t0, t0))
        tags[t] = [conn.execute("INSERT INTO tags (tenant_id, name) VALUES (?,?)", (t, f"tag{g}")).lastrowid
                   for g in range(TAGS_PER_TENANT)]
    facts["agent_user_id"] = agents[1][0]
    facts["admin_email"] = "admin@t1.bench"
    facts["newcomer_email"] = "newcomer@t1.bench"

    # -- contacts ----------------------------------------------------------------
    per_tenant = n_tickets // TENANTS
    n_contacts = max(100, int(per_tenant * CONTACTS_PER_TICKET))
    active_per_tenant = max(1, int(per_tenant * ACTIVE_FRACTION))
    n_contacts = max(n_contacts, active_per_tenant + 1)
    contact_base: dict[int, int] = {}
    progress(f"build: {TENANTS} tenants x {n_contacts} contacts")
    k = 0
    for t in range(1, TENANTS + 1):
        contact_base[t] = k + 1
        rows = []
        for _ in range(n_contacts):
            k += 1
            number = customer_number(k)
            rows.append((k, t, number, f"Cliente {k}", f"Cliente {k}", t0, t0))
        conn.executemany("INSERT INTO contacts (id, tenant_id, number, name, push_name, created_at, updated_at) "
                         "VALUES (?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO contact_ids (tenant_id, jid, contact_id) VALUES (?,?,?)",
                         [(t, f"{r[2]}@s.whatsapp.net", r[0]) for r in rows])
    conn.execute("COMMIT")

    # -- tickets and messages ------------------------------------------------------
    # Tickets are made in time order across tenants (ticket i belongs to tenant i % 10 + 1);
    # a tenant's last `active_per_tenant` tickets are active, each with its own contact.
    active_contacts = {t: rng.sample(range(n_contacts), active_per_tenant) for t in range(1, TENANTS + 1)}
    newcomer_every = max(1, (per_tenant - active_per_tenant) // NEWCOMER_CLOSED)
    newcomer_closed = 0
    seen_per_tenant = {t: 0 for t in range(1, TENANTS + 1)}
    t_tk = time.perf_counter()
    msg_id = 0
    remaining = n_messages
    span = year * 0.98
    ticket_rows: list[tuple] = []
    message_rows: list[tuple] = []
    log_rows: list[tuple] = []
    tag_rows: list[tuple] = []
    # what reports read (times, timelines, ratings, tags) from a second generator, so the tickets and
    # messages above stay those of earlier builds
    extra = random.Random(seed + 1)
    status_count = {"open": 0, "pending": 0, "closed": 0}
    conn.execute("BEGIN")
    report_every = max(1, n_tickets // 20)

    def flush() -> None:
        conn.executemany(
            "INSERT INTO tickets (id, tenant_id, connection_id, contact_id, queue_id, user_id, status, unread, "
            "last_message, last_message_at, last_inbound_at, created_at, updated_at, accepted_at, "
            "first_response_at, closed_at, rating) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", ticket_rows)
        conn.executemany(
            "INSERT INTO messages (id, tenant_id, ticket_id, connection_id, contact_id, wa_id, direction, type, "
            "body, user_id, ack, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", message_rows)
        conn.executemany("INSERT INTO ticket_log (tenant_id, ticket_id, user_id, action, created_at) "
                         "VALUES (?,?,?,?,?)", log_rows)
        conn.executemany("INSERT INTO ticket_tags (ticket_id, tag_id) VALUES (?,?)", tag_rows)
        for rows in (ticket_rows, message_rows, log_rows, tag_rows):
            rows.clear()

    for i in range(n_tickets):
        tid = i + 1
        tenant = i % TENANTS + 1
        nth = seen_per_tenant[tenant]
        seen_per_tenant[tenant] = nth + 1
        active_from = per_tenant - active_per_tenant
        created = t0 + span * i / n_tickets
        left = n_tickets - i
        mean = remaining / left
        km = remaining if left == 1 else max(1, min(remaining - (left - 1), rng.randint(1, max(1, int(2 * mean) - 1))))
        remaining -= km
        if nth >= active_from and nth - active_from < active_per_tenant:
            contact = contact_base[tenant] + active_contacts[tenant][nth - active_from]
            status = "open" if rng.random() < 0.6 else "pending"
        else:
            contact = contact_base[tenant] + rng.randrange(n_contacts)
            status = "closed"
        status_count[status] += 1
        user = rng.choice(agents[tenant]) if status != "pending" else None
        if tenant == 1 and status == "closed" and nth % newcomer_every == 0 and newcomer_closed < NEWCOMER_CLOSED:
            user = facts["newcomer_user_id"]
            newcomer_closed += 1
        queue = rng.choice(queues[tenant])
        ts = created
        last_in = None
        body = ""
        for j in range(km):
            msg_id += 1
            ts += rng.uniform(5, 600)
            direction = "in" if (j % 2 == 0 or user is None) else "out"
            body = vocab.body(rng)
            if direction == "in":
                last_in = ts
            message_rows.append((msg_id, tenant, tid, tenant, contact, f"B{msg_id:015d}", direction, "text", body,
                                 user if direction == "out" else None, "received" if direction == "in" else "read",
                                 ts, ts))
        unread = 1 if status != "closed" and direction == "in" else 0
        accepted = created + extra.uniform(5, 900) if user else None
        first_response = accepted + extra.uniform(0, 300) if user else None
        closed_at = max(ts, first_response or ts) + 60 if status == "closed" else None
        rating = None
        if user:
            log_rows.append((tenant, tid, user, "accept", accepted))
        if user and extra.random() < TRANSFER_FRACTION:
            log_rows.append((tenant, tid, user, "transfer", first_response))
        if closed_at is not None:
            if extra.random() < REOPEN_FRACTION:
                log_rows.append((tenant, tid, user, "close", closed_at - 30))
                log_rows.append((tenant, tid, user, "reopen", closed_at - 20))
            log_rows.append((tenant, tid, user, "close", closed_at))
            if extra.random() < RATED_FRACTION:
                rating = extra.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 6))[0]
        if extra.random() < TAGGED_FRACTION:
            tag_rows.extend((tid, g) for g in extra.sample(tags[tenant], extra.choice((1, 2))))
        ticket_rows.append((tid, tenant, tenant, contact, queue, user, status, unread, body[:200], ts, last_in,
                            created, ts, accepted, first_response, closed_at, rating))
        if len(message_rows) >= 50000:
            flush()
        if (i + 1) % report_every == 0:
            el = time.perf_counter() - t_tk
            progress(f"build: {i + 1:,}/{n_tickets:,} tickets, {msg_id:,} messages ({el:.0f} s, "
                     f"{msg_id / el:,.0f} msg/s)")
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    flush()
    conn.execute("COMMIT")
    facts["load_s"] = round(time.perf_counter() - t_tk, 1)
    facts["statuses"] = status_count
    facts["newcomer_closed"] = newcomer_closed
    facts["messages_built"] = msg_id

    # -- FTS: triggers back, index rebuilt --------------------------------------------
    for _, sql in triggers:
        conn.execute(sql)
    progress(f"build: rebuilding the FTS5 index over {msg_id:,} messages ...")
    t_fts = time.perf_counter()
    conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    facts["fts_rebuild_s"] = round(time.perf_counter() - t_fts, 1)
    progress(f"build: FTS rebuild took {facts['fts_rebuild_s']} s")

    # the word statistics the search measurements choose from
    words = {}
    for rank in (1, 2, 10, 100, 1000, 10000):
        w = vocab.rank_word(rank)
        words[rank] = w
    facts["words"] = words
    tenant1 = conn.execute("SELECT count(*) FROM messages WHERE tenant_id = 1").fetchone()[0]
    df = {}
    for rank, w in words.items():
        n = conn.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?",
                         (f'tenant_id : "1" AND body : "{w}"',)).fetchone()[0]
        df[rank] = n
    facts["tenant1_messages"] = tenant1
    facts["tenant1_df"] = df
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    os.replace(tmp_path, db_path)
    facts["db_bytes"] = db_path.stat().st_size
    facts["build_s"] = round(time.perf_counter() - t_all, 1)
    (root / "build.json").write_text(json.dumps(facts, indent=1))
    return json.loads(json.dumps(facts))  # the same shape as when read from the cache (string keys)


# ===================================================================================
# measurements through the socket
# ===================================================================================
def timed(client: LineClient, method: str, params: dict[str, Any], n: int) -> tuple[dict[str, float], Any]:
    client.timed(method, params, min(20, n))
    lat, last = client.timed(method, params, n)
    reply = client.dec.decode(last)
    if "error" in reply:
        raise RuntimeError(f"{method} {params}: {reply['error']}")
    return summary(lat), reply["result"]


LATER_PAGE = 20  # "a later page": the 20th of 50 rows (or the last one, if there are fewer)


def later_page(client: LineClient, params: dict[str, Any], page: int) -> tuple[list | None, int]:
    """The ``before`` of page ``page`` of a list (walking it from the top like a client scrolling;
    the last page if the list is shorter) and that page's number; None if it has one page."""
    before, k = None, 1
    while k < page:
        res = client.call("ticket.list", {**params, **({"before": before} if before else {})})
        if "next" not in res:
            break
        before, k = res["next"], k + 1
    return before, k


def measure_reports(client: LineClient, db: Path, tenant: int, calls: int, report: Report) -> None:
    """The supervisors' reports of one tenant over its last ``REPORT_DAYS`` days of data (the
    database may have been built days ago: the period ends at its newest ticket), and the live panel."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        newest, = conn.execute("SELECT max(created_at) FROM tickets WHERE tenant_id = ?", (tenant,)).fetchone()
        until = newest + 1
        since = until - REPORT_DAYS * 86400
        n_tickets, = conn.execute("SELECT count(*) FROM tickets WHERE tenant_id = ? AND created_at >= ? "
                                  "AND created_at < ?", (tenant, since, until)).fetchone()
        n_messages, = conn.execute("SELECT count(*) FROM messages WHERE tenant_id = ? AND created_at >= ? "
                                   "AND created_at < ?", (tenant, since, until)).fetchone()
    period = {"since": since, "until": until}
    cases = [("report.summary (in all, per agent, queue, number, tag)", "report.summary", period, True),
             ("report.series by day", "report.series", {**period, "by": "day"}, True),
             ("report.series by hour of day, per agent", "report.series", {**period, "by": "hour", "group": "agent"},
              True),
             ("report.series by day, per tag", "report.series", {**period, "by": "day", "group": "tag"}, True),
             ("report.live (agents, queues, numbers now)", "report.live", {}, False)]
    for label, method, params, is_report in cases:
        lat, res = timed(client, method, params, calls)
        if method == "report.summary" and res["total"]["tickets"] != n_tickets:
            raise RuntimeError(f"{label}: {res['total']['tickets']} tickets, the SQL counts {n_tickets}")
        if method == "report.summary" and res["messages"]["inbound"] + res["messages"]["outbound"] != n_messages:
            raise RuntimeError(f"{label}: {res['messages']} messages, the SQL counts {n_messages}")
        what = f"{REPORT_DAYS} days, {n_tickets:,} tickets, {n_messages:,} messages" if is_report else \
            f"{len(res['agents'])} agents, {len(res['queues'])} queues"
        progress(f"{label} ({what}): p50 {ms(lat['p50'])} p99 {ms(lat['p99'])} max {ms(lat['max'])}")
        report.add(f"{label} ({what}) p99", ms(lat["p99"]), target=f"< {TARGET_REPORT_P99 * 1000:.0f} ms",
                   ok=lat["p99"] < TARGET_REPORT_P99)
        report.add("  p50 / max", f"{ms(lat['p50'])} / {ms(lat['max'])}")


# -- the loop time of Database.page, measured inside zingd ------------------------------
# zingd runs as ``python -m bench.scale --child --page-times FILE -- <zingd args>``: that is
# ``zingd.__main__.main`` itself, after one wrapper (in that process only; no product code is
# changed): the connection ``Database.page`` reads on the event loop times each of its reads —
# ``execute`` + ``fetchall``, i.e. the SQL and the dict rows, everything ``page`` does on the loop —
# and writes the time into a shared, memory-mapped file this process reads. A read the progress
# handler interrupted (moved to the reader thread) is written negated: the loop was held until then.
_PT_HEAD = struct.Struct("<Q")
_PT_CAP = 1 << 20


class PageTimes:
    """This side of the file: a counter and up to ``_PT_CAP`` float64 times."""

    def __init__(self, path: Path) -> None:
        with open(path, "wb") as f:
            f.truncate(_PT_HEAD.size + 8 * _PT_CAP)
        self._f = open(path, "rb")
        self._mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ)

    def count(self) -> int:
        return _PT_HEAD.unpack_from(self._mm, 0)[0]

    def since(self, start: int) -> list[float]:
        end = min(self.count(), _PT_CAP)
        return list(struct.unpack_from(f"<{end - start}d", self._mm, _PT_HEAD.size + 8 * start)) if end > start else []

    def close(self) -> None:
        self._mm.close()
        self._f.close()


def _child(page_times: Path, zingd_args: list[str], loop_budget: float | None = None) -> int:
    """zingd, with the loop reads of ``Database.page`` timed (see above); ``loop_budget`` (an
    experiment, ``--loop-budget``) replaces ``Database.loop_read_budget_s``."""
    from zingd.__main__ import main as zingd_main
    from zingd.store import db as dbmod

    if loop_budget is not None:
        orig_open = dbmod.Database.open

        async def open_with_budget(self):  # noqa: ANN001, ANN202
            self.loop_read_budget_s = loop_budget
            return await orig_open(self)

        dbmod.Database.open = open_with_budget

    f = open(page_times, "r+b")
    mm = mmap.mmap(f.fileno(), 0)
    n = 0
    pc = time.perf_counter

    def record(dt: float) -> None:
        nonlocal n
        if n < _PT_CAP:
            struct.pack_into("<d", mm, _PT_HEAD.size + 8 * n, dt)
            n += 1
            _PT_HEAD.pack_into(mm, 0, n)

    class _Rows:
        __slots__ = ("rows",)

        def __init__(self, rows: list) -> None:
            self.rows = rows

        def fetchall(self) -> list:
            return self.rows

    class LoopConnection(sqlite3.Connection):
        """The page connection is the one that gets a progress handler; its reads are timed."""

        timed = False

        def set_progress_handler(self, handler, n):  # noqa: ANN001 - sqlite3's signature
            self.timed = handler is not None
            return super().set_progress_handler(handler, n)

        def execute(self, sql, params=()):  # noqa: ANN001
            if not self.timed:
                return super().execute(sql, params)
            t = pc()
            try:
                rows = super().execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                record(-(pc() - t))
                raise
            record(pc() - t)
            return _Rows(rows)

    orig_connect = sqlite3.connect

    def connect(*a, **kw):  # noqa: ANN002, ANN003
        kw.setdefault("factory", LoopConnection)
        return orig_connect(*a, **kw)

    dbmod.sqlite3 = type(sys)("sqlite3_for_zingd_store_db")  # only zingd.store.db sees the factory
    dbmod.sqlite3.__dict__.update({k: getattr(sqlite3, k) for k in dir(sqlite3) if not k.startswith("__")})
    dbmod.sqlite3.connect = connect
    return zingd_main(zingd_args)


def timed_zingd(root: Path, page_times: Path, env: dict[str, str], loop_budget: float | None = None) -> Any:
    """``tests.helpers.Zingd``, started as the timed child above instead of ``python -m zingd``."""
    from tests.helpers import Zingd

    class TimedZingd(Zingd):
        def start(self, timeout: float = 20.0) -> TimedZingd:
            args = [sys.executable, "-m", "bench.scale", "--child", "--page-times", str(page_times),
                    *(["--loop-budget", str(loop_budget)] if loop_budget is not None else []), "--",
                    "--data-dir", str(self.data_dir), "--socket", str(self.socket)]
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=log, cwd=ROOT)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"zingd exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
                try:
                    with LineClient(self.socket, timeout=2) as c:
                        c.call("rpc.hello")
                    return self
                except OSError:
                    time.sleep(0.05)
            raise TimeoutError(f"zingd did not answer within {timeout}s:\n{self.log.read_text()[-3000:]}")

    return TimedZingd(root, demo=False, env=env)


def loop_reads_moved(operator: LineClient) -> int:
    """``Database.page`` reads that overran the loop budget and were run again on the reader thread
    (the daemon-wide counter; ``operator`` is a session of this OS user, which sees it)."""
    return operator.call("daemon.status")["writes"]["loop_reads_moved"]


async def _say(sock: Path, token: str, n: int, clients: int = 4, inflight: int = 16) -> float:
    from zingd.rpc.client import Client

    conns = [await Client(sock, token=token, reconnect=False).__aenter__() for _ in range(clients)]
    it = iter(range(n))
    rng = random.Random(5)
    vocab = vocabulary()

    async def worker(c: Client) -> None:
        for i in it:
            await c.call("sim.say", {"from": customer_number(10_000_000 + i % 500), "body": vocab.body(rng)})

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns for _ in range(inflight)))
    el = time.perf_counter() - t0
    for c in conns:
        await c.close()
    return n / el


def measure(root: Path, facts: dict[str, Any], calls: int, search_calls: int, says: int, report: Report,
            loop_budget: float | None = None, report_calls: int = 50) -> None:
    from zingd.actor import Actor
    from zingd.services.messages import search
    from zingd.services.tickets import counts, list_tickets

    sock_dir = Path(tempfile.mkdtemp(prefix="zb-scale-"))
    page_times = PageTimes(sock_dir / "page-times")
    z = timed_zingd(root, sock_dir / "page-times", {"ZING_SIM__RANDOM_CUSTOMERS": "false",
                                                    "ZING_LOG_LEVEL": "WARNING"}, loop_budget)
    z.socket = sock_dir / "zingd.sock"
    db = z.data_dir / "zing.db"
    progress("starting zingd on the built data dir ...")
    t0 = time.perf_counter()
    z.start(timeout=120)
    startup = time.perf_counter() - t0
    mem = MemSampler(z.proc.pid).start()
    mem.mark("started")
    try:
        agent = LineClient(z.socket)
        me = agent.call("auth.whoami")
        admin = LineClient(z.socket)
        login = admin.call("auth.login", {"email": facts["admin_email"], "password": PASSWORD})
        agent_id, tenant = me["id"], me["tenant_id"]
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            queues = frozenset(r[0] for r in conn.execute("SELECT queue_id FROM queue_members WHERE user_id = ?",
                                                          (agent_id,)))
            admin_id = conn.execute("SELECT id FROM users WHERE email = ?", (facts["admin_email"],)).fetchone()[0]
            open_mine = conn.execute("SELECT count(*) FROM tickets WHERE user_id = ? AND status = 'open'",
                                     (agent_id,)).fetchone()[0]
        agent_actor = Actor(agent_id, tenant, "agent", queue_ids=queues)
        admin_actor = Actor(admin_id, tenant, "admin")
        progress(f"zingd up in {startup:.1f} s, VmRSS {proc_mem(z.proc.pid)[0]:.0f} MiB; agent {agent_id} has "
                 f"{open_mine} open tickets")

        # -- ticket.list ----------------------------------------------------------------
        # Each list: the RPC round trip from a blocking client (zing), the very SQL with plain
        # sqlite3 and tuples (baseline), and the loop time: ticket.list runs its SQL on the event
        # loop (Database.page), timed inside zingd (PageTimes), which is how long each call holds
        # every other client up; and how many calls Database.page moved to the reader thread
        # (daemon.status writes.loop_reads_moved, read before and after each list).
        newcomer = LineClient(z.socket)
        newcomer.call("auth.login", {"email": facts["newcomer_email"], "password": PASSWORD})
        newcomer_actor = Actor(facts["newcomer_user_id"], tenant, "agent")
        closed, everything = {"status": "closed"}, {}
        lists: list[tuple] = [  # label, client, actor, params, calls, targets?
            ("agent: my open tickets", agent, agent_actor, {"status": "open", "mine": True}, calls, True),
            ("agent: pending of my queues", agent, agent_actor, {"status": "pending"}, calls, False),
            ("admin: pending", admin, admin_actor, {"status": "pending"}, calls, False),
        ]
        for who, client, actor in (("agent", agent, agent_actor), ("newcomer agent", newcomer, newcomer_actor),
                                   ("admin", admin, admin_actor)):
            for tab, params in (("Closed", closed), ("All", everything)):
                lists.append((f"{who}: {tab} (status {params.get('status', 'any')}), first page", client, actor,
                              params, calls, True))
                before, page = later_page(client, params, LATER_PAGE)
                if before is not None:
                    lists.append((f"{who}: {tab}, page {page} (before)", client, actor, {**params, "before": before},
                                  calls, True))
        lists += [  # the console asks for 200 rows a page (zingtui.screens.main.PAGE)
            ("agent: Closed, first page of 200 (the console's page)", agent, agent_actor,
             {"status": "closed", "limit": 200}, max(20, calls // 4), False),
            ("admin: All, first page of 200", admin, admin_actor, {"limit": 200}, max(20, calls // 4), False),
        ]
        for label, client, actor, params, n, target in lists:
            moved0, at = loop_reads_moved(agent), page_times.count()
            lat, res = timed(client, "ticket.list", params, n)
            moved = loop_reads_moved(agent) - moved0
            held = page_times.since(at)
            expected = n + min(20, n)
            if len(held) > expected or sum(t < 0 for t in held) != moved:
                raise RuntimeError(f"ticket.list {label}: {len(held)} loop reads timed in zingd for {n} calls, "
                                   f"{sum(t < 0 for t in held)} interrupted, {moved} moved")
            # calls that came while a fresh loop connection was being opened (after an overrun)
            # read on the reader thread: they held the loop for no time
            loop = summary([abs(t) for t in held] + [0.0] * (expected - len(held)))
            sql, args = captured_sql(list_tickets, actor, **params)
            raw = raw_sql_latency(db, sql, args, n, warm=min(20, n))
            rows = len(res["tickets"])
            if rows != raw["rows"] - ("next" in res):
                raise RuntimeError(f"ticket.list {label}: {rows} rows over RPC, {raw['rows']} from the SQL")
            progress(f"ticket.list {label}: {rows} rows, p50 {ms(lat['p50'])} p99 {ms(lat['p99'])} "
                     f"(raw SQL p99 {ms(raw['p99'])}; loop time p50 {ms(loop['p50'])} p99 {ms(loop['p99'])}, "
                     f"{moved} of {len(held)} moved), VmRSS {proc_mem(z.proc.pid)[0]:.0f} MiB")
            report.add(f"ticket.list {label} ({rows} rows) p99", ms(lat["p99"]), ms(raw["p99"]),
                       lat["p99"] / raw["p99"], f"< {TARGET_LIST_P99 * 1000:.0f} ms" if target else "",
                       (lat["p99"] < TARGET_LIST_P99) if target else None)
            report.add("  p50 / max", f"{ms(lat['p50'])} / {ms(lat['max'])}", ms(raw["p50"]))
            ok_loop = loop["p99"] < TARGET_LOOP_P99 and moved <= MAX_MOVED * len(held)
            report.add("  loop time in zingd p50 / p99 / max; calls moved to the reader",
                       f"{ms(loop['p50'])} / {ms(loop['p99'])} / {ms(loop['max'])}; {moved} of {len(held)}", "",
                       target=f"< {TARGET_LOOP_P99 * 1000:.0f} ms; <= {MAX_MOVED:.0%}" if target else "",
                       ok=ok_loop if target else None)
        for who, client, actor in (("agent", agent, agent_actor), ("admin", admin, admin_actor)):
            params = {"status": "pending", "limit": 1, "counts": True}  # what the console sends for its tabs
            lat, res = timed(client, "ticket.list", params, calls)
            sql, args = captured_sql(counts, actor)
            raw = raw_sql_latency(db, sql, args, calls, warm=20)
            tabs = ", ".join(f"{k} {v['count']:,}" for k, v in sorted(res["counts"].items()))
            progress(f"ticket.list {who} tab counts ({tabs}): p99 {ms(lat['p99'])} (raw SQL p99 {ms(raw['p99'])})")
            report.add(f"ticket.list {who}: tab counts ({tabs}) + 1 row p99", ms(lat["p99"]), ms(raw["p99"]),
                       lat["p99"] / raw["p99"])
        newcomer.close()
        mem.mark("after ticket.list")

        # -- message.search -------------------------------------------------------------
        words = facts["words"]
        df = facts["tenant1_df"]
        t1 = facts["tenant1_messages"]
        queries = [(f"rank {r} '{w}' (in {df[r] / t1:.2%} of msgs)", w) for r, w in words.items()]
        queries.append(("absent word", "xyzzyqwv"))
        queries.append((f"two words '{words['1']} {words['2']}'", f"{words['1']} {words['2']}"))
        for who, client, actor in (("admin", admin, admin_actor), ("agent", agent, agent_actor)):
            for label, text in queries:
                lat, res = timed(client, "message.search", {"query": text}, search_calls)
                sql, args = captured_sql(search, actor, text)
                raw = raw_sql_latency(db, sql, args, search_calls, warm=3)
                single = "two" not in label
                progress(f"message.search {who} {label}: {len(res)} rows, p50 {ms(lat['p50'])} "
                         f"p99 {ms(lat['p99'])} (raw SQL p99 {ms(raw['p99'])}), "
                         f"VmRSS {proc_mem(z.proc.pid)[0]:.0f} MiB")
                report.add(f"message.search {who}: {label}, {len(res)} rows, p99", ms(lat["p99"]), ms(raw["p99"]),
                           lat["p99"] / raw["p99"], f"< {TARGET_SEARCH_P99 * 1000:.0f} ms" if single else "",
                           (lat["p99"] < TARGET_SEARCH_P99) if single else None)
        mem.mark("after message.search")

        # -- reports (issue 15): the tenant's admin is above a supervisor -------------------------
        if report_calls:
            measure_reports(admin, db, tenant, report_calls, report)
            mem.mark("after reports")

        # -- inbound at this size -----------------------------------------------------------
        if says:
            try:
                import uvloop

                say_rate = uvloop.run(_say(z.socket, login["token"], says))
            except ImportError:
                say_rate = asyncio.run(_say(z.socket, login["token"], says))
            progress(f"sim.say at this size: {say_rate:,.0f} msg/s")
            report.add(f"inbound at this size: {says} sim.say over RPC (4 conns x 16)", rate(say_rate))
            mem.mark("after sim.say")
        agent.close()
        admin.close()
    finally:
        rss_end, hwm = proc_mem(z.proc.pid)
        mem.stop()
        warning = stop_zingd(z)
        if warning:
            report.note(warning)
        page_times.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    peak = max(mem.peak, hwm if hwm == hwm else 0.0)
    report.add("zingd VmHWM (peak resident) over the run", f"{hwm:.0f} MiB", target=f"< {TARGET_RSS_MB:.0f} MB",
               ok=peak < TARGET_RSS_MB)
    report.add("  VmRSS " + ", ".join(label for label, _, _ in mem.marks),
               " / ".join(f"{rss:.0f}" for _, rss, _ in mem.marks) + " MiB")
    report.add("zingd start-up on this data dir", f"{startup:.1f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="20k tickets / 100k messages, few calls (< 30 s once built)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                   help="on a shared machine, wait up to S seconds for other processes to leave the CPUs idle")
    p.add_argument("--tickets", type=int, help="tickets (default 1,000,000)")
    p.add_argument("--messages", type=int, help="messages (default 5,000,000)")
    p.add_argument("--calls", type=int, help="ticket.list calls per case (default 2000, quick 300)")
    p.add_argument("--search-calls", type=int, help="message.search calls per query (default 100, quick 20)")
    p.add_argument("--says", type=int, help="sim.say calls at the end (default 2000, quick 300; 0 skips)")
    p.add_argument("--report-calls", type=int, help="calls per report case (default 50, quick 10; 0 skips)")
    p.add_argument("--rebuild", action="store_true", help="build the database again even if cached")
    p.add_argument("--build-only", action="store_true", help="build (or find) the database and stop")
    p.add_argument("--loop-budget", type=float, metavar="S",
                   help="an experiment: run zingd with this Database.loop_read_budget_s (default: zingd's own)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--page-times", type=Path, help=argparse.SUPPRESS)
    p.add_argument("zingd_args", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args.page_times, args.zingd_args, args.loop_budget)
    q = args.quick
    n_t = args.tickets or (20_000 if q else 1_000_000)
    n_m = args.messages or (100_000 if q else 5_000_000)
    calls = args.calls or (300 if q else 2000)
    search_calls = args.search_calls or (20 if q else 100)
    says = args.says if args.says is not None else (300 if q else 2000)
    report_calls = args.report_calls if args.report_calls is not None else (10 if q else 50)

    root = cache_dir(n_t, n_m)
    report = Report(f"bench.scale: {n_t:,} tickets, {n_m:,} messages, {TENANTS} tenants" + (" (--quick)" if q else ""))
    facts_path = root / "build.json"
    if args.rebuild or not facts_path.exists() or not (root / "data" / "zing.db").exists():
        progress(f"building {root} (cached for later runs) ...")
        facts = build(root, n_t, n_m)
        progress(f"built in {facts['build_s']} s: load {facts['load_s']} s, FTS rebuild {facts['fts_rebuild_s']} s, "
                 f"{facts['db_bytes'] / 2**20:,.0f} MiB")
        built_now = True
    else:
        facts = json.loads(facts_path.read_text())
        progress(f"using the cached database in {root} (built in {facts['build_s']} s; --rebuild to redo)")
        built_now = False
    report.add("build: bulk load (FTS triggers off)", f"{facts['load_s']} s",
               rate(facts["messages_built"] / facts["load_s"]) + " msgs")
    report.add("build: FTS5 'rebuild' of all messages", f"{facts['fts_rebuild_s']} s",
               rate(facts["messages_built"] / facts["fts_rebuild_s"]) + " msgs")
    report.add("database file", f"{facts['db_bytes'] / 2**20:,.0f} MiB")
    if args.build_only:
        report.print()
        return 0
    busy = wait_quiet(args.wait_quiet)
    measure(root, facts, calls, search_calls, says, report, args.loop_budget, report_calls)
    if args.loop_budget is not None:
        report.note(f"EXPERIMENT: zingd ran with Database.loop_read_budget_s = {args.loop_budget * 1000:g} ms "
                    "(--loop-budget), not its default")
    st = facts["statuses"]
    report.note(f"data: {facts['tickets']:,} tickets ({st['open']:,} open, {st['pending']:,} pending, "
                f"{st['closed']:,} closed), {facts['messages_built']:,} messages, {TENANTS} tenants x "
                f"{AGENTS_PER_TENANT} agents (+ tenant 1's newcomer: {facts['newcomer_closed']} closed tickets); "
                f"searches and lists run in tenant 1 "
                f"({facts['tenant1_messages']:,} messages)" + ("" if built_now else "; database from the cache"))
    report.note("baseline = the very SQL the service runs (captured from zingd.services) with plain sqlite3 on the "
                "same file in the bench process; zing = the RPC round trip from a blocking socket client")
    report.note("loop time = Database.page's read on the event loop (execute + fetchall: the SQL and the dict rows), "
                "timed inside zingd: what a ticket.list call holds every other client up for (a moved call held it "
                "until interrupted); moved = calls whose read overran the loop budget and ran again on the reader "
                "thread (daemon.status writes.loop_reads_moved)")
    report.note(busy_note(busy))
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
