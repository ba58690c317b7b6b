"""Many real WhatsApp channels in one process, offline, through outages; prints figures as JSON.

Run as a process (``python -m tests.channels.whatsapp.fleet``), because what it
looks for, a Go fatal error, ends the process (exit 134) rather than raising.
Every channel is a real ``NeonizeChannel`` on neonize's real binary; WhatsApp is
replaced by a loopback "proxy" each client dials:

- ``refuse``: nothing listens (an outage as the host sees it): zing's own dial
  fails, no session call is made;
- ``close``: it accepts and hangs up (a proxy up, WhatsApp down): zing's dial
  (CONNECT, then TLS) fails, no session call is made; with ``--tcp-dial`` (a TCP
  answer is enough, as zing once dialled) every attempt is a real session call
  into neonize, all channels at once, each costing the fd neonize never closes:
  the load the crash tests need;
- ``hang``: it accepts and never answers (a black hole): the session call dials
  until whatsmeow gives up.

``--outages`` counts rounds in which every channel has failed once more.
``--ungated`` replaces the process-wide gate with one that lets everything
through: the reproduction of the crash.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from zingd.channels.whatsapp import channel as channel_module
from zingd.channels.whatsapp import lib as lib_module
from zingd.channels.whatsapp.channel import NeonizeChannel, Timings
from zingd.channels.whatsapp.lib import new_client


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def loopback(mode: str) -> tuple[str, socket.socket | None]:
    """A proxy URL on 127.0.0.1 that refuses, hangs up, or never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    if mode == "refuse":
        server.close()
        return f"http://127.0.0.1:{port}", None
    server.listen(1024)
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                conn.close() if mode == "close" else held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{port}", server


def snapshot() -> dict:
    return {"fds": fds(), "rss_kb": rss_kb(), "threads": threading.active_count()}


async def rounds(channels: list[NeonizeChannel], count: int) -> None:
    """Until every channel has failed ``count`` times."""
    while min(c.reconnects for c in channels) < count:
        await asyncio.sleep(0.01)


class OpenGate:
    """The gate taken away: every call goes straight through (the reproduction)."""

    def shared(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def alone(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass


class Sink:
    def __init__(self) -> None:
        self.failures = 0

    async def message(self, connection_id, msg) -> None:
        pass

    async def receipt(self, connection_id, receipt) -> None:
        pass

    async def state(self, connection_id, change) -> None:
        if change.state == "disconnected" and "retrying" in change.reason:
            self.failures += 1


def tcp_dial(proxy: str, timeout: float = 5.0) -> str | None:
    """The old dial: a TCP answer from the proxy lets the session call go to Go."""
    parts = urlsplit(proxy)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=timeout).close()
    except OSError as exc:
        return f"cannot reach {parts.hostname}:{parts.port} ({exc})"
    return None


async def run(args: argparse.Namespace) -> dict:
    if args.ungated:
        lib_module.GATE = channel_module.GATE = OpenGate()
    if args.tcp_dial:
        lib_module.reachable = tcp_dial
    proxy, _server = loopback(args.mode)
    root = Path(tempfile.mkdtemp(prefix="zing-fleet-"))
    timings = Timings(reconnect_initial=args.delay, reconnect_max=args.delay, jitter=0.5, start_spread=args.delay,
                      watchdog_interval=3600, stop_timeout=5)
    sink = Sink()
    lib_module.load()
    before = snapshot()
    channels = [NeonizeChannel(i, sink, root / "sessions" / f"{i}.db", root / "media",
                               client_factory=partial(new_client, proxy=proxy), timings=timings)
                for i in range(args.channels)]
    started = time.monotonic()
    await asyncio.gather(*(c.start() for c in channels))
    await rounds(channels, args.warmup)
    warm = snapshot()
    await rounds(channels, args.outages)
    settled = snapshot()
    await asyncio.gather(*(c.stop() for c in channels))
    return {
        "mode": args.mode, "channels": args.channels, "outages": args.outages, "ungated": args.ungated,
        "tcp_dial": args.tcp_dial,
        "attempts": sum(c.reconnects for c in channels), "seconds": round(time.monotonic() - started, 2),
        "before": before, "warm": warm, "after": settled,
        "rss_kb_per_number": round((warm["rss_kb"] - before["rss_kb"]) / args.channels, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--outages", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="failures before the 'warm' figures")
    parser.add_argument("--mode", choices=("refuse", "close", "hang"), default="close")
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--ungated", action="store_true")
    parser.add_argument("--tcp-dial", action="store_true", help="let a TCP answer through to Go (see above)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
