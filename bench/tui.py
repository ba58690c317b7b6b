"""The agents' console: an inbound message to its row on screen, and startup with many open tickets.

    python -m bench.tui [--quick] [--rate 50] [--seconds 10] [--tickets 10000] [--wait-quiet S]

What is measured (one run):

* **live latency**: a real ``python -m zingd --demo`` (``tests.helpers.Zingd``, no random
  customers); a pool of customers has written in and picked a queue from the demo menu, so their
  tickets are pending in agent Ana's queues. Ana's console (``ZingApp``, headless 160×48, in this
  process, logged in with her stored token) shows the Pending tab. A child process plays the
  customers: ``sim.say`` at a fixed rate (open loop, ``--rate``), each body numbered. A message's
  latency runs from just before its ``sim.say`` to the first frame in which the console's ticket
  list draws its row with that message (or a later one of the same customer: within one frame the
  row only ever shows the last) — ``TicketList.render_line`` is wrapped, in this process only;
  both processes read the same monotonic clock. Baseline:
  the same load with a bare ``zingd.rpc.client.Client`` subscriber instead of the console, from
  just before ``sim.say`` to the ``message.created`` event in hand — what any client gets.
* **startup**: ``--tickets`` tickets made through the daemon (customers write in, pick a queue,
  Ana accepts all but the newest few: open and hers). A fresh console (token login, as every start
  after the first) from ``ZingApp(...)`` to the first frame that draws a ticket row of the Pending
  tab; then ``2`` (the Open tab: all of them hers) to its first row drawn. Also ``import
  zingtui.app`` in a fresh interpreter, which a real start adds. Baseline: a bare client making the
  console's startup calls (connect, token, discover, subscribe, counts, first page).
* **scroll**: ``pagedown`` pressed through the Open tab (pages of 200 load as the view nears the
  end): press to the list drawn with the cursor on its new row, and press to the app idle again
  (the highlighted ticket's conversation loaded and drawn too), p99.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    SOCK_TMP,
    Report,
    busy_note,
    customer_number,
    ms,
    progress,
    summary,
    wait_quiet,
)
from tests.helpers import Zingd
from zingd.rpc.client import Client, SyncClient
from zingtui.app import ZingApp
from zingtui.credentials import TokenStore
from zingtui.screens.main import MainScreen
from zingtui.widgets.queue.ticket_list import ROW, TicketList

TARGET_P99 = 0.100
TARGET_STARTUP = 1.5
AGENT = ("ana@demo.zing", "demo-agent")
SIZE = (160, 48)


class Painted:
    """Wraps TicketList.render_line to note when things were first drawn.

    ``drawn[(number, k)]``: a row of that customer showing message k; ``first_row[status]``: a row
    of a ticket in that status; ``cursor[i]``: any line of the list while its cursor was on row i.
    """

    def __init__(self, tag: str = "tui") -> None:
        self.drawn: dict[tuple[str, int], float] = {}
        self.first_row: dict[str, float] = {}
        self.cursor: dict[int, float] = {}
        self._original = TicketList.render_line
        painted = self

        def render_line(widget: TicketList, y: int):
            strip = painted._original(widget, y)
            now = time.monotonic()
            painted.cursor.setdefault(widget.cursor, now)
            index = (y + widget.scroll_offset.y) // ROW
            if index < len(widget.rows):
                row = widget.rows[index]
                painted.first_row.setdefault(row["status"], now)
                body = (row.get("last_message") or "").split()
                if len(body) > 1 and body[0] == tag and body[1].isdigit():
                    painted.drawn.setdefault((row["contact_number"], int(body[1])), now)
            return strip

        TicketList.render_line = render_line

    def restore(self) -> None:
        TicketList.render_line = self._original

    def latencies(self, sent: dict[tuple[str, int], float]) -> list[float]:
        """A message counts as drawn when its row shows it or a later message of the same customer
        (two messages of one customer within a frame: the row only ever shows the second)."""
        by_number: dict[str, list[tuple[int, float]]] = {}
        for (number, k), t in self.drawn.items():
            by_number.setdefault(number, []).append((k, t))
        out = []
        for (number, k), t0 in sent.items():
            later = [t for k2, t in by_number.get(number, ()) if k2 >= k]
            if later:
                out.append(min(later) - t0)
        return out


# -- data through the daemon ------------------------------------------------------
async def _say_all(sock: Path, items: list[tuple[str, str]], clients: int = 4, inflight: int = 16) -> None:
    conns = [Client(sock, reconnect=False) for _ in range(clients)]
    for c in conns:
        await c.connect()
    it = iter(items)

    async def worker(c: Client) -> None:
        for number, body in it:
            await c.call("sim.say", {"from": number, "body": body})

    await asyncio.gather(*(worker(c) for c in conns for _ in range(inflight)))
    for c in conns:
        await c.close()


async def _accept_all(sock: Path, token: str, inflight: int = 32, leave: int = 0) -> int:
    """Ana accepts every pending ticket but the ``leave`` newest; returns how many she took."""
    c = Client(sock, token=token, reconnect=False)
    await c.connect()
    ids, before = [], None
    while True:
        params = {"status": "pending", "limit": 500, **({"before": before} if before else {})}
        page = await c.call("ticket.list", params)
        ids += [t["id"] for t in page["tickets"]]
        before = page.get("next")
        if not before:
            break
    ids = ids[leave:]
    it = iter(ids)

    async def worker() -> None:
        for tid in it:
            await c.call("ticket.accept", {"id": tid})

    await asyncio.gather(*(worker() for _ in range(inflight)))
    await c.close()
    return len(ids)


def customers_in_queues(sock: Path, first: int, count: int) -> list[str]:
    """Customers who wrote in and picked a queue (Vendas or Suporte): pending in Ana's queues."""
    numbers = [customer_number(k) for k in range(first, first + count)]
    asyncio.run(_say_all(sock, [(n, "oi, preciso de ajuda") for n in numbers]))
    asyncio.run(_say_all(sock, [(n, "1" if i % 2 else "2") for i, n in enumerate(numbers)]))
    return numbers


def agent_token(sock: Path) -> str:
    with SyncClient(sock) as c:
        return c.call("auth.login", {"email": AGENT[0], "password": AGENT[1]})["token"]


# -- live latency -------------------------------------------------------------------
def pace(sock: str, rate: float, seconds: float, tag: str, numbers: list[str]) -> None:
    """The customers, in their own process (no GIL shared with the console): message k leaves at
    start + k/rate whatever happened to the others (open loop); prints ``number k t0`` per message."""
    rng = random.Random(7)
    with SyncClient(sock) as c:
        start = time.monotonic() + 0.2
        for k in range(int(rate * seconds)):
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            number = rng.choice(numbers)
            t0 = time.monotonic()
            c.call("sim.say", {"from": number, "body": f"{tag} {k} {rng.choice(['pedido', 'boleto', 'entrega'])}"})
            print(number, k, t0, flush=True)


def customers(sock: Path, numbers: list[str], rate: float, seconds: float, tag: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "bench.tui", "--pace", str(sock), str(rate), str(seconds), tag, *numbers]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


def sent_by(proc: subprocess.Popen) -> dict[tuple[str, int], float]:
    out, _ = proc.communicate()
    sent = {}
    for line in out.splitlines():
        number, k, t0 = line.split()
        sent[(number, int(k))] = float(t0)
    return sent


async def bare_latency(sock: Path, token: str, numbers: list[str], rate: float, seconds: float) -> dict:
    got: dict[tuple[str, int], float] = {}

    def on_event(params: dict) -> None:
        data = params.get("data") or {}
        body = ((data.get("message") or {}).get("body") or "").split()
        if params.get("type") == "message.created" and len(body) > 1 and body[0] == "bare":
            got.setdefault((data["ticket"]["contact_number"], int(body[1])), time.monotonic())

    c = Client(sock, token=token, reconnect=False)
    await c.connect()
    await c.subscribe(["tenant"], on_event)
    proc = customers(sock, numbers, rate, seconds, "bare")
    while proc.poll() is None:
        await asyncio.sleep(0.05)
    sent = sent_by(proc)
    await asyncio.sleep(1.0)
    await c.close()
    return {"lat": [got[key] - t for key, t in sent.items() if key in got], "sent": len(sent)}


async def console_latency(sock: Path, tokens: TokenStore, numbers: list[str], rate: float, seconds: float) -> dict:
    painted = Painted()
    app = ZingApp(sock, alerts=False, tokens=tokens)
    try:
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + 30
            while not (isinstance(app.screen, MainScreen) and app.screen.inbox.index["pending"].loaded
                       and len(app.screen.list.rows) >= len(numbers) // 2):
                if time.monotonic() > deadline:
                    raise TimeoutError("the console did not show the customers' tickets")
                await pilot.pause(0.05)
            await pilot.pause(0.5)
            proc = customers(sock, numbers, rate, seconds, "tui")
            while proc.poll() is None:
                await asyncio.sleep(0.05)
            sent = sent_by(proc)
            await asyncio.sleep(1.0)
            app.exit()
    finally:
        painted.restore()
    return {"lat": painted.latencies(sent), "sent": len(sent)}


# -- startup ------------------------------------------------------------------------------
async def bare_startup(sock: Path, token: str) -> float:
    t0 = time.monotonic()
    c = Client(sock, reconnect=False)
    await c.connect()
    await c.call("auth.token", {"token": token})
    await c.call("rpc.discover")
    await c.subscribe(["tenant"], lambda p: None)
    await c.call("ticket.list", {"status": "pending", "limit": 1, "counts": True})
    await c.call("ticket.list", {"status": "pending", "mine": False, "limit": 200})
    elapsed = time.monotonic() - t0
    await c.close()
    return elapsed


async def painted_row(painted: Painted, status: str, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while status not in painted.first_row:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {status} row drawn within {timeout} s")
        await asyncio.sleep(0.002)
    return painted.first_row[status]


async def console_startup(sock: Path, tokens: TokenStore, presses: int) -> dict:
    painted = Painted()
    out: dict = {}
    try:
        t0 = time.monotonic()
        app = ZingApp(sock, alerts=False, tokens=tokens)
        async with app.run_test(size=SIZE) as pilot:
            out["pending"] = await painted_row(painted, "pending") - t0
            t1 = time.monotonic()
            await pilot.press("2")
            out["open"] = await painted_row(painted, "open") - t1
            tickets = app.screen.list
            drawn, idle = [], []
            for _ in range(presses):
                target = min(tickets.cursor + 10, len(tickets.rows) - 1)
                painted.cursor.pop(target, None)
                t = time.monotonic()
                await pilot.press("pagedown")  # returns once the app is idle: the chat has loaded too
                idle.append(time.monotonic() - t)
                if target in painted.cursor:
                    drawn.append(painted.cursor[target] - t)
            out["scroll"], out["idle"] = drawn, idle
            out["rows"] = len(app.screen.list.rows)
            app.exit()
    finally:
        painted.restore()
    return out


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import zingtui.app; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--pace"]:
        sock, rate, seconds, tag, *numbers = argv[1:]
        pace(sock, float(rate), float(seconds), tag, numbers)
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.tui", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 tickets, 5 s of traffic")
    ap.add_argument("--rate", type=float, default=50.0, help="inbound messages per second (default 50)")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of traffic (default 10)")
    ap.add_argument("--customers", type=int, default=20, help="customers writing during the latency run")
    ap.add_argument("--tickets", type=int, default=10_000, help="open tickets for the startup run")
    ap.add_argument("--presses", type=int, default=300, help="pagedown presses in the scroll run")
    ap.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to S s for idle CPUs first")
    args = ap.parse_args(argv)
    if args.quick:
        args.tickets, args.seconds = min(args.tickets, 2_000), min(args.seconds, 5.0)

    busy = wait_quiet(args.wait_quiet)
    report = Report(f"bench.tui — console latency and startup ({'quick' if args.quick else 'full'})")
    root = Path(tempfile.mkdtemp(prefix="zt-bench-", dir=SOCK_TMP))
    z = Zingd(root, demo=True).start()
    try:
        sock = z.socket
        token = agent_token(sock)
        tokens = TokenStore(root / "credentials.json", use_keyring=False)
        tokens.save(str(sock), token)

        progress(f"{args.customers} customers write in and pick a queue")
        numbers = customers_in_queues(sock, 0, args.customers)
        progress(f"latency: bare subscriber, {args.rate:.0f} msg/s for {args.seconds:.0f} s")
        bare = asyncio.run(bare_latency(sock, token, numbers, args.rate, args.seconds))
        progress(f"latency: the console, {args.rate:.0f} msg/s for {args.seconds:.0f} s")
        tui = asyncio.run(console_latency(sock, tokens, numbers, args.rate, args.seconds))
        b, t = summary(bare["lat"]), summary(tui["lat"])
        report.add(f"inbound → row drawn, p50 @{args.rate:.0f} msg/s", ms(t["p50"]), ms(b["p50"]))
        report.add(f"inbound → row drawn, p99 @{args.rate:.0f} msg/s", ms(t["p99"]), ms(b["p99"]),
                   t["p99"] / b["p99"] if b["p99"] else None, f"< {ms(TARGET_P99)}", t["p99"] < TARGET_P99)
        report.add("inbound → row drawn, max", ms(t["max"]), ms(b["max"]))
        report.add("messages drawn / sent", f"{len(tui['lat'])}/{tui['sent']}", f"{len(bare['lat'])}/{bare['sent']}",
                   ok=len(tui["lat"]) == tui["sent"])

        progress(f"startup: {args.tickets} tickets written in, picked a queue, accepted by Ana")
        customers_in_queues(sock, 100_000, args.tickets)
        accepted = asyncio.run(_accept_all(sock, token, leave=args.customers))
        bare_start = min(asyncio.run(bare_startup(sock, token)) for _ in range(3))
        runs = [asyncio.run(console_startup(sock, tokens, args.presses)) for _ in range(3)]
        best = min(runs, key=lambda r: r["pending"])
        report.add(f"start → first row drawn ({accepted:,} open tickets)", ms(best["pending"]), ms(bare_start),
                   best["pending"] / bare_start, f"< {TARGET_STARTUP:.1f} s", best["pending"] < TARGET_STARTUP)
        report.add(f"Open tab ({accepted:,} hers) → first row drawn", ms(min(r["open"] for r in runs)))
        imported = min(import_time() for _ in range(3))
        report.add("import zingtui.app (fresh interpreter)", ms(imported))
        report.add("start incl. import", ms(best["pending"] + imported), target=f"< {TARGET_STARTUP:.1f} s",
                   ok=best["pending"] + imported < TARGET_STARTUP)
        scroll = summary([x for r in runs for x in r["scroll"]])
        idle = summary([x for r in runs for x in r["idle"]])
        report.add(f"pagedown → list redrawn, p99 ({scroll['n']} presses)", ms(scroll["p99"]))
        report.add("pagedown → idle (its chat loaded too), p99", ms(idle["p99"]))
        report.note(f"after the scroll runs the Open tab held {max(r['rows'] for r in runs):,} rows (pages of 200)")
        report.note("baseline: a bare zingd.rpc.client subscriber (latency) / the console's startup calls (startup)")
        report.note(busy_note(busy))
    finally:
        z.kill()
        shutil.rmtree(root, ignore_errors=True)
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
