"""The RPC socket: round trips against a raw NDJSON echo server, and ticket.list latency.

    python -m bench.rpc [--quick] [--seconds S] [--customers N] [--calls N]

What is measured (all in one run):

* ``rpc.hello`` round trips per second on a real ``python -m zingd --demo``
  (uvloop, as ``zingd/__main__.py`` runs it), one request at a time from one
  connection, against a raw NDJSON echo server (``asyncio.start_unix_server``,
  ``readuntil`` + ``write``, nothing else) in its own process on the same kind of
  socket, on uvloop and — for reference — on the stock asyncio loop. The client is
  the same lean blocking socket client for every server. Also with many requests in
  flight (several connections, pipelined), which measures the server alone;
* ``ticket.list`` latency (50 rows with the contact) on a few thousand tickets
  made through the daemon itself (sim customers write in, pick a queue from the
  demo menu; an agent accepts some; the admin closes some), as the admin and as an
  agent, against the same SQL run directly with ``sqlite3`` on the same file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    LineClient,
    Report,
    busy_note,
    captured_sql,
    customer_number,
    ms,
    progress,
    rate,
    raw_sql_latency,
    stop_zingd,
    summary,
    wait_quiet,
)

TARGET_HELLO_RATIO = 0.6
TARGET_LIST_P99 = 0.001
HELLO = b'{"jsonrpc":"2.0","id":%d,"method":"rpc.hello"}\n'


# ===================================================================================
# the echo server (child process)
# ===================================================================================
async def _echo(path: str) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not writer.transport.is_closing():
                writer.write(await reader.readuntil(b"\n"))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_unix_server(handle, path=path, limit=1 << 20)
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()


class EchoServer:
    def __init__(self, path: Path, loop: str) -> None:
        self.path = path
        args = [sys.executable, "-m", "bench.rpc", "--echo-server", str(path), "--loop", loop]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("echo server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# ===================================================================================
# clients
# ===================================================================================
def pingpong(path: Path, seconds: float) -> tuple[float, dict[str, float]]:
    """One connection, one request at a time: round trips per second and per-call latency."""
    with LineClient(path) as c:
        for i in range(200):  # warm up
            c.roundtrip(HELLO % i)
        lat = []
        pc = time.perf_counter
        i = 0
        t0 = pc()
        end = t0 + seconds
        while True:
            t = pc()
            if t >= end:
                break
            c.roundtrip(HELLO % i)
            lat.append(pc() - t)
            i += 1
        return i / (pc() - t0), summary(lat)


class _Pipe(asyncio.Protocol):
    def __init__(self, depth: int, counter: list[int]) -> None:
        self.depth, self.counter = depth, counter
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.stopped = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"".join(HELLO % i for i in range(self.depth)))

    def data_received(self, data: bytes) -> None:
        n = data.count(b"\n")
        self.counter[0] += n
        if not self.stopped and n:
            self.transport.write(b"".join(HELLO % i for i in range(n)))


async def _pipelined(path: Path, conns: int, depth: int, seconds: float) -> float:
    loop = asyncio.get_running_loop()
    counter = [0]
    protos = []
    for _ in range(conns):
        _, proto = await loop.create_unix_connection(lambda: _Pipe(depth, counter), str(path))
        protos.append(proto)
    await asyncio.sleep(0.3)  # ramp up
    c0, t0 = counter[0], time.perf_counter()
    await asyncio.sleep(seconds)
    c1, t1 = counter[0], time.perf_counter()
    for p in protos:
        p.stopped = True
        p.transport.close()
    return (c1 - c0) / (t1 - t0)


def pipelined(path: Path, conns: int, depth: int, seconds: float) -> float:
    """Requests per second with ``conns`` connections each keeping ``depth`` requests in flight."""
    try:
        import uvloop

        return uvloop.run(_pipelined(path, conns, depth, seconds))
    except ImportError:
        return asyncio.run(_pipelined(path, conns, depth, seconds))


# ===================================================================================
# ticket data made through the daemon
# ===================================================================================
async def _populate(sock: Path, customers: int, clients: int = 4, inflight: int = 32) -> None:
    from zingd.rpc.client import Client

    conns = [await Client(sock, reconnect=False).__aenter__() for _ in range(clients)]

    async def run(items: list[tuple[str, str]]) -> None:
        it = iter(items)

        async def worker(c: Client) -> None:
            for number, body in it:
                await c.call("sim.say", {"from": number, "body": body})

        await asyncio.gather(*(worker(c) for c in conns for _ in range(inflight)))

    numbers = [customer_number(k) for k in range(customers)]
    await run([(n, "oi, preciso de ajuda com meu pedido") for n in numbers])
    await run([(n, "1" if k % 2 else "2") for k, n in enumerate(numbers)])  # the demo menu: pick a queue
    await run([(n, "obrigado, aguardo retorno") for n in numbers[: customers // 2]])
    for c in conns:
        await c.close()


def populate(sock: Path, customers: int, accept: int, close: int) -> dict[str, Any]:
    """Tickets through the daemon: customers write in; agent Ana accepts some; the admin closes some."""
    try:
        import uvloop

        uvloop.run(_populate(sock, customers))
    except ImportError:
        asyncio.run(_populate(sock, customers))
    admin = LineClient(sock)
    agent = LineClient(sock)
    me = agent.call("auth.login", {"email": "ana@demo.zing", "password": "demo-agent"})["user"]
    pending = []
    before = None
    while True:
        params: dict[str, Any] = {"status": "pending", "limit": 500}
        if before:
            params["before"] = before
        page = admin.call("ticket.list", params)
        pending += [t["id"] for t in page["tickets"]]
        before = page.get("next")
        if not before:
            break
    for tid in pending[:accept]:
        agent.call("ticket.accept", {"id": tid})
    for tid in pending[accept:accept + close]:
        admin.call("ticket.close", {"id": tid})
    admin.close()
    return {"agent": agent, "agent_id": me["id"], "tenant_id": me["tenant_id"]}


def timed_calls(client: LineClient, method: str, params: dict[str, Any], n: int) -> tuple[dict[str, float], int]:
    client.timed(method, params, 100)  # warm up
    lat, last = client.timed(method, params, n)
    reply = client.dec.decode(last)
    if "error" in reply:
        raise RuntimeError(f"{method} {params}: {reply['error']}")
    return summary(lat), len(reply["result"]["tickets"])


# ===================================================================================
# orchestration
# ===================================================================================
def main_run(args: argparse.Namespace) -> None:
    from tests.helpers import Zingd

    q = args.quick
    seconds = args.seconds or (1.5 if q else 6.0)
    customers = args.customers or (800 if q else 3000)
    calls = args.calls or (500 if q else 3000)
    report = Report("bench.rpc: the Unix socket" + (" (--quick)" if q else ""))
    work = Path(tempfile.mkdtemp(prefix="zb-rpc-", dir=args.tmp))
    try:
        # -- rpc.hello vs echo: all three servers up, measured in alternating rounds -------
        progress("echo servers (uvloop, asyncio) and zingd --demo ...")
        echoes = {loop: EchoServer(work / f"echo-{loop}.sock", loop) for loop in ("uvloop", "asyncio")}
        (work / "z").mkdir(parents=True, exist_ok=True)
        z = Zingd(work / "z", demo=True, env={"ZING_SIM__RANDOM_CUSTOMERS": "false", "ZING_LOG_LEVEL": "WARNING"})
        z.start()
        try:
            servers = {"zingd": z.socket, **{f"echo-{loop}": e.path for loop, e in echoes.items()}}
            rounds: dict[str, list] = {name: [] for name in servers}
            pipes: dict[str, list] = {name: [] for name in servers}
            for r in range(args.rounds):
                for name, path in servers.items():
                    rounds[name].append(pingpong(path, seconds / args.rounds))
                    pipes[name].append(pipelined(path, args.conns, args.depth, seconds / args.rounds))
                progress(f"round {r + 1}: " + ", ".join(
                    f"{name} {rounds[name][-1][0]:,.0f}/s ({pipes[name][-1]:,.0f}/s pipelined)" for name in servers))
            hello: dict[str, Any] = {}
            for name in servers:
                hello[name] = max(rounds[name], key=lambda x: x[0])
                hello[f"{name}-pipe"] = max(pipes[name])
        finally:
            for e in echoes.values():
                e.stop()
        try:
            # -- ticket.list ------------------------------------------------------------
            accept, close = customers // 10, customers // 2
            progress(f"tickets through the daemon: {customers} customers, agent accepts {accept}, admin closes {close}")
            t0 = time.perf_counter()
            info = populate(z.socket, customers, accept, close)
            progress(f"  done in {time.perf_counter() - t0:.1f} s")
            from zingd.actor import Actor
            from zingd.services.tickets import list_tickets

            admin = LineClient(z.socket)
            agent: LineClient = info["agent"]
            db = z.data_dir / "zing.db"
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                queues = [r[0] for r in conn.execute("SELECT queue_id FROM queue_members WHERE user_id = ?",
                                                     (info["agent_id"],))]
                admin_id = conn.execute("SELECT id FROM users WHERE os_uid = ?", (os.getuid(),)).fetchone()[0]
                counts = dict(conn.execute("SELECT status, count(*) FROM tickets GROUP BY status").fetchall())
            admin_actor = Actor(admin_id, info["tenant_id"], "admin")
            agent_actor = Actor(info["agent_id"], info["tenant_id"], "agent", queue_ids=frozenset(queues))
            cases = [
                ("admin: all tickets", admin, admin_actor, {}, None, False),
                ("admin: pending", admin, admin_actor, {"status": "pending"}, "pending", False),
                ("agent: my open", agent, agent_actor, {"status": "open", "mine": True}, "open", True),
                ("agent: pending of my queues", agent, agent_actor, {"status": "pending"}, "pending", False),
            ]
            lists = []
            for label, client, actor, params, status, mine in cases:
                lat, rows = timed_calls(client, "ticket.list", params, calls)
                sql, sql_args = captured_sql(list_tickets, actor, status=status, mine=mine)
                raw = raw_sql_latency(db, sql, sql_args, calls)
                lists.append((label, lat, rows, raw))
                progress(f"  ticket.list {label}: {rows} rows, p50 {ms(lat['p50'])} p99 {ms(lat['p99'])} "
                         f"(raw SQL p99 {ms(raw['p99'])})")
            admin.close()
            agent.close()
        finally:
            warning = stop_zingd(z)
        if warning:
            report.note(warning)

        # -- table ------------------------------------------------------------------
        zr, zl = hello["zingd"]
        for loop in ("uvloop", "asyncio"):
            er, el = hello[f"echo-{loop}"]
            target = loop == "uvloop"
            report.add(f"rpc.hello, one at a time, vs echo on {loop} (best of {args.rounds})", rate(zr), rate(er),
                       zr / er,
                       f">= {TARGET_HELLO_RATIO}x" if target else "",
                       (zr / er >= TARGET_HELLO_RATIO) if target else None)
        report.add("  round trip p50 / p99 (zingd | echo uvloop)",
                   f"{ms(zl['p50'])} / {ms(zl['p99'])}", f"{ms(hello['echo-uvloop'][1]['p50'])} / "
                   f"{ms(hello['echo-uvloop'][1]['p99'])}")
        for loop in ("uvloop", "asyncio"):
            e = hello[f"echo-{loop}-pipe"]
            report.add(f"rpc.hello, {args.conns} conns x {args.depth} in flight, vs echo on {loop}",
                       rate(hello["zingd-pipe"]), rate(e), hello["zingd-pipe"] / e)
        for label, lat, rows, raw in lists:
            report.add(f"ticket.list {label} ({rows} rows) p99", ms(lat["p99"]), ms(raw["p99"]),
                       lat["p99"] / raw["p99"], f"< {TARGET_LIST_P99 * 1000:.0f} ms", lat["p99"] < TARGET_LIST_P99)
            report.add("  p50 / p90 / max", f"{ms(lat['p50'])} / {ms(lat['p90'])} / {ms(lat['max'])}",
                       f"{ms(raw['p50'])} / {ms(raw['p90'])}")
        report.note("baseline of ticket.list = the very SQL zingd.services.tickets.list_tickets runs (captured from "
                    "it) on the same file with plain sqlite3 in the bench process: tuples, no socket, no JSON")
        report.note(f"tickets: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}) "
                    f"made by {customers} sim customers through the daemon; {calls} sequential calls per case")
        report.note("client: one blocking Unix-socket client in the bench process (msgspec, no asyncio); "
                    "the echo servers and zingd each run in their own process")
        report.note(busy_note(args.busy))
        report.print()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.rpc", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (< 30 s)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                   help="on a shared machine, wait up to S seconds for other processes to leave the CPUs idle")
    p.add_argument("--seconds", type=float,
                   help="time per server for each kind of round-trip run, split over the rounds (default 6, quick 1.5)")
    p.add_argument("--customers", type=int, help="sim customers writing in = tickets (default 3000, quick 800)")
    p.add_argument("--calls", type=int, help="ticket.list calls per case (default 3000, quick 500)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of the round-trip runs (best reported)")
    p.add_argument("--conns", type=int, default=4, help="connections in the pipelined run")
    p.add_argument("--depth", type=int, default=16, help="requests in flight per connection in the pipelined run")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    p.add_argument("--tmp", default=None, help="where temporary dirs go (default: system temp)")
    p.add_argument("--echo-server", help=argparse.SUPPRESS)
    p.add_argument("--loop", default="uvloop", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.echo_server:
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(_echo(args.echo_server))
        else:
            asyncio.run(_echo(args.echo_server))
        return 0
    args.busy = wait_quiet(args.wait_quiet)
    main_run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
