"""The window in which a WhatsApp message exists only in zing's memory.

    python -m bench.window [--quick] [--messages N]

whatsmeow acknowledges an inbound message to WhatsApp before zing has committed it
(``zingd/channels/whatsapp/parking.py``). Failures inside zing park the event on disk;
a process killed in between loses it. This measures how long "in between" lasts, for
the part that runs in zing's process:

* **zing**: a daemon built like ``zingd --demo`` (``config.load`` + ``app.Daemon``) in this
  process, with a ``NeonizeChannel`` on the real neonize binary's Python side (the offline
  rig's client: events are real neonize protos dispatched by ``client.event.execute``, the
  path Go's callback takes). One thread hands over N messages one at a time, as neonize's
  event thread does; per message: *hand-over → zing's handler* (neonize's decode and
  dispatch) and *handler → committed* (zing's decode, the daemon's unit of work and its
  group commit, fsync included).
* **baseline**: the irreducible part, one row inserted and committed with the daemon's own
  pragmas (WAL, ``synchronous=FULL``) on the same disk, one at a time.

Not measured, because it happens in Go before Python sees the event: whatsmeow's ack, its
decryption, and neonize's queue to the Python callback. Closing the window for good needs
whatsmeow's ``SynchronousAck`` (the ack sent after the handler returns), which neonize 0.5.2
does not let a caller set.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import tempfile
import time
from pathlib import Path

from bench.common import Report, busy_note, cpu_busy, ms, progress, summary, wait_quiet
from tests.channels.whatsapp.rig import FakeClient, P, E, lib, message_event
from zingd import config
from zingd.app import Daemon
from zingd.channels.whatsapp.channel import NeonizeChannel, Timings
from zingd.store.db import connect


def baseline(path: Path, n: int) -> list[float]:
    db = connect(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (body) VALUES (?)", (f"Oi, tudo bem? {i}",))
        db.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    db.close()
    return out


async def measure(root: Path, n: int) -> tuple[list[float], list[float], list[float]]:
    settings = config.load(None, {"data_dir": str(root / "data"), "socket": str(root / "zingd.sock"), "demo": True,
                                  "log_level": "WARNING", "sim": {"random_customers": False}})
    app = Daemon(settings)
    await app.start()
    try:
        cid = (await app.db.one("SELECT id FROM connections ORDER BY id LIMIT 1"))["id"]
        clients: list[FakeClient] = []
        channel = NeonizeChannel(cid, app.channels, root / "sessions" / "bench.db", root / "media",
                                 client_factory=lambda path: clients.append(FakeClient(path)) or clients[-1],
                                 timings=Timings(start_spread=0, jitter=0, watchdog_interval=3600))
        entered: list[float] = []
        on_message = channel._on_message
        channel._on_message = lambda event: (entered.append(time.perf_counter()), on_message(event))
        await channel.start()
        while not (clients and clients[0].in_session.is_set()):
            await asyncio.sleep(0.01)
        client = clients[0]

        def push(event) -> float:
            data = event.SerializePartialToString()
            buffer = ctypes.create_string_buffer(data, max(len(data), 1))
            t0 = time.perf_counter()
            client.event.execute(client.uuid, ctypes.addressof(buffer), len(data), lib.EVENT_TO_INT[type(event)])
            return t0

        await asyncio.to_thread(push, P.Connected(status=True))
        while channel.state != "connected":
            await asyncio.sleep(0.01)

        def run() -> tuple[list[float], list[float], list[float]]:
            to_handler, to_commit, whole = [], [], []
            for i in range(n):
                event = message_event(E.Message(conversation=f"Oi, tudo bem? {i}"), wa_id=f"3EB0W{i:06d}",
                                      chat=f"55119{i % 200:08d}@s.whatsapp.net", ts_ms=int(time.time() * 1000))
                t0 = push(event)
                t2 = time.perf_counter()
                to_handler.append(entered[-1] - t0)
                to_commit.append(t2 - entered[-1])
                whole.append(t2 - t0)
            return to_handler, to_commit, whole

        result = await asyncio.to_thread(run)
        await channel.stop()
        stored = (await app.db.one("SELECT COUNT(*) AS n FROM messages WHERE wa_id LIKE '3EB0W%'"))["n"]
        if stored != n or channel.handler_failures:
            raise SystemExit(f"bench.window: {stored} of {n} stored, {channel.handler_failures} handler failures")
        return result
    finally:
        await app.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="300 messages instead of 3,000")
    ap.add_argument("--messages", type=int)
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S")
    args = ap.parse_args()
    n = args.messages or (300 if args.quick else 3000)
    wait_quiet(args.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="zing-bench-window-") as tmp:
        root = Path(tmp)
        busy = cpu_busy()
        progress(f"{n:,} messages through the neonize channel into a daemon, one at a time")
        to_handler, to_commit, whole = asyncio.run(measure(root, n))
        progress("baseline: one-row commits on the same disk")
        raw = baseline(root / "raw.db", n)
    h, c, w, b = summary(to_handler), summary(to_commit), summary(whole), summary(raw)
    report = Report(f"bench.window: inbound hand-over to commit, {n:,} messages" + (" (--quick)" if args.quick else ""))
    report.add("hand-over → committed p50", ms(w["p50"]), ms(b["p50"]) + " (one-row commit)", w["p50"] / b["p50"])
    report.add("hand-over → committed p99", ms(w["p99"]), ms(b["p99"]), w["p99"] / b["p99"])
    report.add("hand-over → committed max", ms(w["max"]), ms(b["max"]))
    report.add("  neonize decode + dispatch p50 / p99", f"{ms(h['p50'])} / {ms(h['p99'])}")
    report.add("  zing handler → committed p50 / p99", f"{ms(c['p50'])} / {ms(c['p99'])}")
    report.note("a message handed over is lost by a kill in this window only; a failure in it parks the event")
    report.note("Go's part (whatsmeow's ack, decryption, neonize's queue to Python) is before this and not measured")
    report.note(busy_note(busy))
    report.print()


if __name__ == "__main__":
    main()
