"""Inbound throughput and latency, end to end.

    python -m bench.ingest [--quick] [--messages N] [--concurrency K] [--profile]

What is measured (all in one run):

* baseline: raw ``sqlite3`` doing the inbound transaction one message at a time,
  one transaction each (contact lookup/insert, ticket lookup/insert, message insert
  with the FTS5 triggers of the daemon's own schema, ticket update), same pragmas;
* zing: a daemon process (``zingd.app.Daemon`` built from the same settings as
  ``zingd --demo``, on uvloop like ``zingd/__main__.py``) whose sim connection is
  driven from inside that process by many concurrent ``SimChannel.say`` calls
  (customers writing in), while a subscriber in *this* process, connected over
  the Unix socket with ``events.subscribe``, counts ``message.created`` events.
  A message counts when its event reached the subscriber; throughput is
  messages / (first say -> last event received). Latency is the customer's send
  time (the sim journal's ``ts``) to the event's arrival at the subscriber;
* latency at a paced (open-loop) 1,000 msg/s;
* for reference, the same through the public API: ``sim.say`` over several RPC
  connections to a real ``python -m zingd --demo`` process.

The driver process is started as ``python -m bench.ingest --child ...``; it takes
commands on stdin (one JSON per line) and answers on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from bench.common import (
    BENCH_DIR,
    ROOT,
    Report,
    bodies,
    busy_note,
    cpu_delta,
    customer_number,
    ms,
    progress,
    rate,
    stop_zingd,
    summary,
    thread_cpu,
    wait_quiet,
)

TARGET_RATIO = 2.0
TARGET_RATE = 6000.0
TARGET_P99 = 0.050
PACED_RATE = 1000.0


# ===================================================================================
# baseline: raw sqlite3, one transaction per message, one by one
# ===================================================================================
class Baseline:
    """The bare inbound transaction on the daemon's schema, one message per transaction."""

    def __init__(self, path: Path, names: list[str], synchronous: str) -> None:
        import sqlite_utils

        from zingd.store.db import pragmas
        from zingd.store.migrations import migrate

        self.names = names
        self.conn = conn = sqlite3.connect(path, isolation_level=None)
        for p in pragmas(synchronous):  # the daemon's pragmas, at the same synchronous
            conn.execute(p)
        migrate(sqlite_utils.Database(conn))
        now = time.time()
        conn.execute("INSERT INTO tenants (id, name, created_at) VALUES (1, 'Bench', ?)", (now,))
        conn.execute("INSERT INTO connections (id, tenant_id, name, kind, created_at, updated_at) "
                     "VALUES (1, 1, 'sim', 'sim', ?, ?)", (now, now))

    def run(self, texts: list[str], customers: list[int]) -> float:
        """Messages per second."""
        ex = self.conn.execute
        names = self.names
        t0 = time.perf_counter()
        for i, body in enumerate(texts):
            k = customers[i]
            number = customer_number(k)
            wa_id = "SIM" + secrets.token_hex(8).upper()
            now = time.time()
            ex("BEGIN IMMEDIATE")
            row = ex("SELECT id FROM contacts WHERE tenant_id = ? AND number = ?", (1, number)).fetchone()
            if row is None:
                cid = ex("INSERT INTO contacts (tenant_id, number, push_name, created_at, updated_at) "
                         "VALUES (?,?,?,?,?)", (1, number, names[k], now, now)).lastrowid
            else:
                cid = row[0]
            row = ex("SELECT id FROM tickets WHERE connection_id = ? AND contact_id = ? "
                     "AND status IN ('pending', 'open')", (1, cid)).fetchone()
            if row is None:
                tid = ex("INSERT INTO tickets (tenant_id, connection_id, contact_id, status, last_message_at, "
                         "created_at, updated_at) VALUES (?,?,?,'pending',?,?,?)", (1, 1, cid, now, now, now)).lastrowid
            else:
                tid = row[0]
            ex("INSERT INTO messages (tenant_id, ticket_id, connection_id, contact_id, wa_id, direction, type, body, "
               "ack, created_at, updated_at) VALUES (?,?,?,?,?,'in','text',?,'received',?,?)",
               (1, tid, 1, cid, wa_id, body, now, now))
            ex("UPDATE tickets SET last_message = ?, last_message_at = ?, unread = unread + 1, updated_at = ?, "
               "last_inbound_at = ? WHERE id = ?", (body[:200], now, now, now, tid))
            ex("COMMIT")
        return len(texts) / (time.perf_counter() - t0)

    def close(self) -> None:
        self.conn.close()


# ===================================================================================
# the daemon side (child process): Daemon + in-process driver
# ===================================================================================
class _Timed:
    """Counts of the writer's group commits, measured around Database._run_batch / _complete."""

    busy = 0.0
    batches = 0
    units = 0
    biggest = 0
    complete = 0.0


def _instrument(profile: bool) -> dict[str, list]:
    """Wrap (in this bench process only) the writer's batch and completion; with profile, time each SQL."""
    from zingd.store import db as dbmod

    orig_batch, orig_complete = dbmod.Database._run_batch, dbmod.Database._complete
    pc = time.perf_counter

    def run_batch(self, conn, batch):
        t = pc()
        orig_batch(self, conn, batch)
        _Timed.busy += pc() - t
        _Timed.batches += 1
        _Timed.units += len(batch)
        _Timed.biggest = max(_Timed.biggest, len(batch))

    def complete(self, outcomes, events):
        t = pc()
        orig_complete(self, outcomes, events)
        _Timed.complete += pc() - t

    dbmod.Database._run_batch = run_batch
    dbmod.Database._complete = complete
    sql_stats: dict[str, list] = defaultdict(lambda: [0, 0.0])
    if profile:
        class TimedConnection(sqlite3.Connection):
            def execute(self, sql, params=()):
                t = pc()
                try:
                    return super().execute(sql, params)
                finally:
                    s = sql_stats[sql]
                    s[0] += 1
                    s[1] += pc() - t

        def connect(path, synchronous="FULL", busy_timeout_ms=5000):
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=TimedConnection)
            for pragma in dbmod.pragmas(synchronous, busy_timeout_ms):
                conn.execute(pragma)
            conn.row_factory = dbmod.dict_factory
            return conn

        dbmod.connect = connect
    return sql_stats


def _reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _drive(app, n: int, concurrency: int, customers: list[int], texts: list[str], names: list[str],
                 paced: float | None) -> dict[str, Any]:
    channel = app.channels.get(1)
    numbers = [customer_number(k) for k in customers]
    push = [names[k] for k in customers]
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        try:
            await channel.say(numbers[i], texts[i], push[i])
        except Exception:  # noqa: BLE001 - counted and reported
            errors += 1

    t0 = time.time()
    if paced:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        sent = 0
        while sent < n:
            due = min(n, int((loop.time() - start) * paced) + 1)
            while sent < due:
                tasks.append(asyncio.create_task(one(sent)))
                sent += 1
            await asyncio.sleep(0.001)  # uvloop timers have 1 ms resolution; shorter would spin
        await asyncio.gather(*tasks)
    else:
        it = iter(range(n))

        async def worker() -> None:
            for i in it:
                await one(i)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    return {"t0": t0, "t_done": time.time(), "errors": errors}


async def _child(args: argparse.Namespace) -> None:
    import logging

    from zingd import config
    from zingd.app import Daemon

    sql_stats = _instrument(args.profile)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)  # an experiment: zingd itself keeps Python's default
    settings = config.load(None, {"data_dir": args.data_dir, "socket": args.socket, "demo": True,
                                  "log_level": "WARNING", "sim": {"random_customers": False},
                                  "database": {"synchronous": args.synchronous}})
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app = Daemon(settings)
    await app.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _reply({"ready": True, "pid": os.getpid(), "threads": {
        app.db._thread.native_id: "writer", app.db.reader._thread.native_id: "reader"}})
    writer_prof = cProfile.Profile() if args.profile else None
    main_prof = cProfile.Profile() if args.profile else None
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "stop":
            break
        if cmd["cmd"] == "drive":
            a = cmd["args"]
            _Timed.busy = _Timed.complete = 0.0
            _Timed.batches = _Timed.units = _Timed.biggest = 0
            sql_stats.clear()
            prof = a.get("profile") and args.profile
            if prof:
                await app.db.write(lambda tx: writer_prof.enable())
                main_prof.enable()
            out = await _drive(app, a["n"], a["concurrency"], a["customers"], a["texts"], a["names"], a.get("paced"))
            if prof:
                main_prof.disable()
                await app.db.write(lambda tx: writer_prof.disable())
            out.update(busy=_Timed.busy, batches=_Timed.batches, units=_Timed.units, biggest=_Timed.biggest,
                       complete=_Timed.complete)
            if prof:
                out["profile"] = {"main": _pstats(main_prof), "writer": _pstats(writer_prof),
                                  "sql": sorted(([sql, c, t] for sql, (c, t) in sql_stats.items()),
                                                key=lambda r: -r[2])[:20]}
            _reply(out)
    await app.stop()


def _pstats(prof: cProfile.Profile, top: int = 30) -> str:
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# ===================================================================================
# the subscriber (this process)
# ===================================================================================
class _Msg(msgspec.Struct):
    wa_id: str = ""
    direction: str = ""
    created_at: float = 0.0


class _Data(msgspec.Struct):
    message: _Msg | None = None


class _Params(msgspec.Struct):
    type: str = ""
    seq: int = 0
    data: _Data | None = None


class _Frame(msgspec.Struct):
    method: str = ""
    id: int | None = None
    params: _Params | None = None


class Subscriber(asyncio.Protocol):
    """A lean events client: stamps each frame's arrival, keeps (arrival, wa_id, created_at)."""

    def __init__(self) -> None:
        self.buf = b""
        self.dec = msgspec.json.Decoder(_Frame)
        self.arrivals: list[tuple[float, str, float]] = []
        self.other: dict[str, int] = defaultdict(int)
        self.reply: asyncio.Future | None = None
        self.waiting: tuple[int, asyncio.Future] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        t = time.time()
        lines = (self.buf + data).split(b"\n")
        self.buf = lines.pop()
        for line in lines:
            f = self.dec.decode(line)
            if f.params is None:
                if self.reply is not None and not self.reply.done():
                    self.reply.set_result(line)
                continue
            p = f.params
            if p.type == "message.created" and p.data is not None and p.data.message is not None \
                    and p.data.message.direction == "in":  # customers' messages, not the bot's replies
                self.arrivals.append((t, p.data.message.wa_id, p.data.message.created_at))
            else:
                self.other[p.type] += 1
        if self.waiting is not None and len(self.arrivals) >= self.waiting[0] and not self.waiting[1].done():
            self.waiting[1].set_result(None)

    async def until(self, count: int, timeout: float) -> bool:
        if len(self.arrivals) >= count:
            return True
        fut = asyncio.get_running_loop().create_future()
        self.waiting = (count, fut)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting = None


async def subscribe(sock: Path) -> Subscriber:
    loop = asyncio.get_running_loop()
    _, sub = await loop.create_unix_connection(Subscriber, str(sock))
    sub.reply = loop.create_future()
    sub.transport.write(b'{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"topics":["tenant"]}}\n')
    reply = json.loads(await asyncio.wait_for(sub.reply, 10))
    if "error" in reply:
        raise RuntimeError(f"subscribe failed: {reply['error']}")
    return sub


def journal_ts(data_dir: Path) -> dict[str, float]:
    out = {}
    dec = msgspec.json.Decoder()
    for path in (data_dir / "sim").glob("connection-*.jsonl"):
        for line in path.read_bytes().splitlines():
            rec = dec.decode(line)
            if rec.get("k") == "in":
                out[rec["id"]] = rec["ts"]
    return out


# ===================================================================================
# orchestration
# ===================================================================================
class Child:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, data_dir: Path, sock: Path, log: Path, profile: bool, synchronous: str,
                    switch_interval: float | None = None) -> tuple[Child, int, dict]:
        args = [sys.executable, "-m", "bench.ingest", "--child", "--data-dir", str(data_dir), "--socket", str(sock),
                "--synchronous", synchronous]
        if profile:
            args.append("--profile")
        if switch_interval:
            args += ["--switch-interval", str(switch_interval)]
        env = {k: v for k, v in os.environ.items() if k not in ("ZING_SOCKET", "ZING_DATA_DIR")}
        env["ZING_SIM__RANDOM_CUSTOMERS"] = "false"
        with open(log, "ab") as err:
            proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                                        stdout=asyncio.subprocess.PIPE, stderr=err, cwd=ROOT,
                                                        env=env, limit=1 << 26)
        child = cls(proc)
        ready = await child.read(60)
        return child, ready["pid"], {int(k): v for k, v in ready["threads"].items()}

    async def read(self, timeout: float) -> dict[str, Any]:
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("bench child exited; see its log")
        return json.loads(line)

    async def send(self, obj: dict[str, Any]) -> None:
        self.proc.stdin.write(json.dumps(obj).encode() + b"\n")
        await self.proc.stdin.drain()

    async def drive(self, **kw: Any) -> dict[str, Any]:
        await self.send({"cmd": "drive", "args": kw})
        return await self.read(600)

    async def stop(self) -> None:
        try:
            await self.send({"cmd": "stop"})
            await asyncio.wait_for(self.proc.wait(), 30)
        except (TimeoutError, ConnectionError):
            self.proc.kill()
            await self.proc.wait()


def fsync_latency(folder: Path, n: int = 100) -> float:
    """The median time to make 4 KiB durable in ``folder``: what every commit pays at FULL."""
    path = folder / "fsync-probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for i in range(n):
            os.pwrite(fd, os.urandom(4096), (i % 16) * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()
    return sorted(times)[len(times) // 2]


def steady(n: int, n_customers: int, seed: int) -> tuple[list[str], list[int]]:
    """Messages from customers already in conversation, picked at random."""
    rng = random.Random(seed)
    return bodies(n, seed=seed), [rng.randrange(n_customers) for _ in range(n)]


def first_contacts(n_customers: int, seed: int) -> tuple[list[str], list[int]]:
    """One first message from each customer of the pool, in random order."""
    order = list(range(n_customers))
    random.Random(seed).shuffle(order)
    return bodies(n_customers, seed=seed), order


async def phase(child: Child, sub: Subscriber, name: str, texts: list[str], customers: list[int], concurrency: int,
                names: list[str], proc: tuple[int, dict], paced: float | None = None,
                profile: bool = False) -> dict[str, Any]:
    n = len(texts)
    start = len(sub.arrivals)
    cpu0 = thread_cpu(*proc)
    res = await child.drive(n=n, concurrency=concurrency, customers=customers, texts=texts, names=names,
                            paced=paced, profile=profile)
    ok = await sub.until(start + n, timeout=120)
    cpu1 = thread_cpu(*proc)
    got = sub.arrivals[start:start + n]
    res.update(name=name, n=n, delivered=len(got), complete=ok, arrivals=got, cpu=cpu_delta(cpu0, cpu1))
    res["t_last"] = max((a[0] for a in got), default=res["t_done"])
    res["rate"] = len(got) / (res["t_last"] - res["t0"])
    res["commit_rate"] = n / (res["t_done"] - res["t0"])
    progress(f"{name}: {len(got)}/{n} events, {res['rate']:,.0f} msg/s end to end, "
             f"{res['batches']} commits (avg {res['units'] / max(1, res['batches']):.1f} units), "
             f"cpu s {res['cpu']}")
    return res


def latencies(res: dict[str, Any], ts: dict[str, float]) -> dict[str, Any]:
    total, queue, deliver = [], [], []
    for arrival, wa_id, created in res["arrivals"]:
        sent = ts.get(wa_id)
        if sent is None:
            continue
        total.append(arrival - sent)
        queue.append(created - sent)
        deliver.append(arrival - created)
    return {"total": summary(total), "to_unit_start": summary(queue), "unit_start_to_arrival": summary(deliver)}


async def via_rpc(root: Path, n: int, n_customers: int, clients: int, inflight: int, names: list[str]) -> dict:
    """The same inbound driven through the public API: sim.say over several RPC connections."""
    from tests.helpers import Zingd
    from zingd.rpc.client import Client

    root.mkdir(parents=True, exist_ok=True)
    z = Zingd(root, demo=True, env={"ZING_SIM__RANDOM_CUSTOMERS": "false", "ZING_LOG_LEVEL": "WARNING"})
    await asyncio.to_thread(z.start)
    try:
        sub = await subscribe(z.socket)
        conns = [await Client(z.socket, reconnect=False).__aenter__() for _ in range(clients)]

        async def run(texts: list[str], customers: list[int]) -> tuple[float, float, float]:
            it = iter(range(len(texts)))

            async def worker(c: Client) -> None:
                for i in it:
                    k = customers[i]
                    await c.call("sim.say", {"from": customer_number(k), "body": texts[i], "name": names[k]})

            start = len(sub.arrivals)
            t0 = time.time()
            await asyncio.gather(*(worker(c) for c in conns for _ in range(inflight)))
            t_done = time.time()
            await sub.until(start + len(texts), 120)
            return t0, t_done, start

        await run(*first_contacts(n_customers, seed=4))
        await run(["1"] * n_customers, first_contacts(n_customers, seed=4)[1])
        pid = z.proc.pid
        cpu0 = thread_cpu(pid)
        t0, t_done, start = await run(*steady(n, n_customers, seed=99))
        cpu1 = thread_cpu(pid)
        for c in conns:
            await c.close()
        sub.transport.close()
        got = sub.arrivals[start:start + n]
        t_last = max(a[0] for a in got)
        ts = journal_ts(z.data_dir)
        lat = [a[0] - ts[a[1]] for a in got if a[1] in ts]
        out = {"rate": len(got) / (t_last - t0), "commit_rate": n / (t_done - t0), "lat": summary(lat),
               "cpu": cpu_delta(cpu0, cpu1)}
    finally:
        warning = await asyncio.to_thread(stop_zingd, z)
    out["stop_warning"] = warning
    return out


async def main_async(args: argparse.Namespace) -> None:
    q = args.quick
    rounds = args.rounds or (2 if q else 3)
    n_tp = args.messages or (6000 if q else 45000)
    n_base = args.baseline_messages or (3000 if q else 15000)
    n_one = 500 if q else 2000
    paced_s = args.paced_seconds or (3.0 if q else 12.0)
    n_rpc = 2000 if q else 10000
    n_customers = args.customers or (1000 if q else 5000)
    conc = args.concurrency
    names = [f"Cliente {k}" for k in range(n_customers)]
    report = Report("bench.ingest: inbound messages end to end" + (" (--quick)" if q else ""))
    work = Path(tempfile.mkdtemp(prefix="zb-ingest-", dir=args.tmp))
    progress(f"work dir {work}")
    first = first_contacts(n_customers, seed=4)
    answers = (["1"] * n_customers, first[1])  # the menu's first option (a plain message where there is no menu)
    try:
        # -- baseline, then the daemon; the ongoing runs alternate in rounds -----------------
        progress(f"baseline: raw sqlite3, {n_customers} first messages, then {rounds} rounds of "
                 f"{n_base // rounds} ongoing, one transaction each")
        fsync_s = fsync_latency(work)
        progress(f"synchronous={args.synchronous}; this disk's fsync p50 {ms(fsync_s)}")
        base = Baseline(work / "baseline.db", names, args.synchronous)
        base_new = base.run(*first)
        data_dir, sock = work / "data", work / "zingd.sock"
        child, pid, labels = await Child.start(data_dir, sock, work / "child.log", args.profile,
                                                args.synchronous, args.switch_interval)
        proc = (pid, labels)
        base_rounds: list[float] = []
        tps: list[dict[str, Any]] = []
        try:
            sub = await subscribe(sock)
            new = await phase(child, sub, "new conversations (first message each)", *first, conc, names, proc)
            await phase(child, sub, "menu answers", *answers, conc, names, proc)
            for r in range(rounds):
                base_rounds.append(base.run(*steady(n_base // rounds, n_customers, seed=100 + r)))
                progress(f"baseline round {r + 1}: {base_rounds[-1]:,.0f} msg/s")
                tps.append(await phase(child, sub, f"ongoing conversations round {r + 1}, concurrency {conc}",
                                       *steady(n_tp // rounds, n_customers, 200 + r), conc, names, proc,
                                       profile=args.profile and r == 0))
            one = await phase(child, sub, "one at a time (concurrency 1)", *steady(n_one, n_customers, 2), 1,
                              names, proc)
            paced = await phase(child, sub, f"paced {PACED_RATE:,.0f} msg/s",
                                *steady(int(PACED_RATE * paced_s), n_customers, 3), 0, names, proc, paced=PACED_RATE)
            sub.transport.close()
        finally:
            await child.stop()
            base.close()
        ts = journal_ts(data_dir)
        tp = max(tps, key=lambda x: x["rate"])
        base_steady = max(base_rounds)
        tp_lat, one_lat, paced_lat = latencies(tp, ts), latencies(one, ts), latencies(paced, ts)

        rpc = None
        if not args.no_rpc:
            progress(f"via RPC: real zingd, sim.say from {args.rpc_clients} connections x "
                     f"{args.rpc_inflight} in flight")
            rpc = await via_rpc(work / "rpc", n_rpc, n_customers, args.rpc_clients, args.rpc_inflight, names)
            progress(f"via RPC: {rpc['rate']:,.0f} msg/s, cpu s {rpc['cpu']}")

        # -- table ------------------------------------------------------------------
        r = tp["rate"]
        report.add(f"disk: fsync of 4 KiB, p50 (both sides at synchronous={args.synchronous})", ms(fsync_s))
        report.add(f"baseline: raw sqlite3, ongoing conversations (best of {rounds})", rate(base_steady))
        report.add(f"inbound end to end, ongoing conversations (best of {rounds})", rate(r), rate(base_steady),
                   r / base_steady, f">= {TARGET_RATIO}x", r / base_steady >= TARGET_RATIO)
        report.add("  same, absolute", rate(r), target=f">= {TARGET_RATE:,.0f}/s", ok=r >= TARGET_RATE)
        report.add("  committed (every say() returned)", rate(tp["commit_rate"]))
        report.add("  latency send -> subscriber p50 / p99 (saturated)",
                   f"{ms(tp_lat['total']['p50'])} / {ms(tp_lat['total']['p99'])}")
        report.add("new conversations (contact, ticket, menu)", rate(new["rate"]), rate(base_new),
                   new["rate"] / base_new)
        report.add("one at a time (concurrency 1)", rate(one["rate"]), rate(base_steady), one["rate"] / base_steady)
        report.add("  latency send -> subscriber p50 / p99",
                   f"{ms(one_lat['total']['p50'])} / {ms(one_lat['total']['p99'])}")
        pl = paced_lat["total"]
        report.add(f"paced {PACED_RATE:,.0f} msg/s: latency send -> subscriber p99", ms(pl["p99"]),
                   target=f"< {TARGET_P99 * 1000:.0f} ms", ok=pl["p99"] < TARGET_P99)
        report.add("  p50 / p90 / max", f"{ms(pl['p50'])} / {ms(pl['p90'])} / {ms(pl['max'])}")
        report.add("  p99 send -> unit start | unit start -> subscriber",
                   f"{ms(paced_lat['to_unit_start']['p99'])} | {ms(paced_lat['unit_start_to_arrival']['p99'])}")
        if rpc:
            report.add(f"via sim.say RPC ({args.rpc_clients} conns x {args.rpc_inflight}), ongoing",
                       rate(rpc["rate"]), rate(base_steady), rpc["rate"] / base_steady)
            report.add("  latency send -> subscriber p50 / p99",
                       f"{ms(rpc['lat']['p50'])} / {ms(rpc['lat']['p99'])}")
            if rpc["stop_warning"]:
                report.note(rpc["stop_warning"])
        wall = tp["t_done"] - tp["t0"]
        report.note(f"ongoing run: {tp['units']} units in {tp['batches']} group commits "
                    f"(avg {tp['units'] / max(1, tp['batches']):.1f}, max {tp['biggest']}); writer thread in "
                    f"_run_batch {tp['busy'] / wall:.0%} of the run, {tp['busy'] / max(1, tp['units']) * 1e6:.0f} us "
                    f"per unit; publish+resolve on the loop {tp['complete'] / max(1, tp['units']) * 1e6:.0f} us "
                    "per unit (wall time, GIL waits included)")
        report.note(f"daemon CPU seconds by thread, ongoing run ({tp['t_last'] - tp['t0']:.1f} s): {tp['cpu']}; "
                    f"paced run ({paced['t_last'] - paced['t0']:.1f} s): {paced['cpu']}, "
                    f"avg {paced['units'] / max(1, paced['batches']):.1f} units per commit")
        report.note("ongoing rounds, zing / baseline msg/s: " + ", ".join(
            f"{t['rate']:,.0f} / {b:,.0f}" for t, b in zip(tps, base_rounds, strict=True)))
        for res in (new, *tps, one, paced):
            if not res["complete"] or res["errors"]:
                report.note(f"{res['name']}: {res['delivered']}/{res['n']} events, {res['errors']} say() errors")
        report.note(busy_note(args.busy))
        report.note(f"{n_customers} customers (demo tenant: first message -> ticket + menu, then '1' picks a queue); "
                    f"text: Zipf-like pt/en words; one subscriber on 'tenant' in the bench process (same 2 cores)")
        report.print()
        if args.profile and "profile" in tp:
            prof = tp["profile"]
            out = BENCH_DIR / "profile-ingest.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "w") as f:
                f.write("== per-SQL time on the writer thread (count, seconds) ==\n")
                for sql, c, t in prof["sql"]:
                    f.write(f"{c:8d} {t:8.3f}s {t / c * 1e6:7.1f}us  {sql[:150]}\n")
                f.write("\n== writer thread (cProfile, tottime) ==\n" + prof["writer"])
                f.write("\n== event loop thread (cProfile, tottime) ==\n" + prof["main"])
            print(f"profile written to {out}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (< 30 s)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                   help="on a shared machine, wait up to S seconds for other processes to leave the CPUs idle")
    p.add_argument("--messages", type=int,
                   help="messages in the ongoing-conversations runs, all rounds (default 45000, quick 6000)")
    p.add_argument("--rounds", type=int, help="alternating baseline/zing rounds, best reported (default 3, quick 2)")
    p.add_argument("--baseline-messages", type=int, help="messages in the raw sqlite3 run (default 15000)")
    p.add_argument("--customers", type=int, help="distinct customer numbers (default 5000, quick 1000)")
    p.add_argument("--synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL", "EXTRA"],
                   help="SQLite synchronous for both the baseline and zingd (default FULL, zingd's default)")
    p.add_argument("--concurrency", type=int, default=256, help="concurrent say() calls in the throughput run")
    p.add_argument("--paced-seconds", type=float, help="length of the paced 1,000 msg/s run (default 12, quick 3)")
    p.add_argument("--no-rpc", action="store_true", help="skip the sim.say-over-RPC reference run")
    p.add_argument("--rpc-clients", type=int, default=4)
    p.add_argument("--rpc-inflight", type=int, default=32, help="concurrent sim.say per RPC connection")
    p.add_argument("--profile", action="store_true",
                   help="cProfile both daemon threads and time each SQL statement during the throughput run "
                        "(slows it down; figures are then not comparable)")
    p.add_argument("--switch-interval", type=float,
                   help="experiment: sys.setswitchinterval() in the daemon process (Python's default is 0.005)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    p.add_argument("--tmp", default=None, help="where temporary data dirs go (default: system temp)")
    # internal: the daemon + driver process
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    p.add_argument("--socket", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    if args.child:
        run(_child(args))
        return 0
    args.busy = wait_quiet(args.wait_quiet)
    run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
