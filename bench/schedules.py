"""Scheduler overhead: many pending scheduled messages.

    python -m bench.schedules [--quick] [--schedules N] [--seconds S]

What is measured (all in one run, on one database):

* **start**: launching ``python -m zingd`` until its first ``rpc.hello`` answer, with N
  pending schedules in the database (default 100,000), against the same daemon on the same
  database with none (baseline). Target: < 3 s. zingd loads nothing per schedule: the
  database is the schedule and one APScheduler job is armed for the earliest one.
* **responsiveness while they fire**: all N fall due together just after start, on a number
  whose pacing is switched off (so they go as fast as the daemon can queue and send them);
  meanwhile one client times ``rpc.hello`` round trips, against the same on the idle daemon.
  Target: p99 < 5 ms. Also reported: how many fired per second.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from bench.common import LineClient, Report, busy_note, cpu_busy, ms, progress, rate, stop_zingd, summary
from tests.helpers import Zingd

NO_PACING = {"min_interval_s": 0, "jitter_s": 0, "pause_every": 1_000_000, "pause_s": 0, "daily_cap": 10_000_000,
             "quiet_start": "00:00", "quiet_end": "00:00", "warmup": []}
ENV = {"ZING_OUTBOX__RATE_PER_CONNECTION": "100000", "ZING_OUTBOX__BURST": "1000", "ZING_LOG_LEVEL": "WARNING",
       "ZING_SIM__DELIVERY_DELAY_S": "3600", "ZING_SIM__READ_DELAY_S": "3600"}


def prepare(root: Path, contacts: int) -> Zingd:
    """A tenant, its sim number with pacing off, and contacts to schedule to."""
    z = Zingd(root, env=ENV).start()
    with z.client() as c:
        c.call("auth.bootstrap", {"email": "ops@bench.test", "password": "bench-pass", "tenant": "Bench"})
        cid = c.call("connection.create", {"name": "Bench", "kind": "sim"})["id"]
        c.call("connection.update", {"id": cid, "settings": {"pacing": NO_PACING}})
        csv = "number\n" + "".join(f"55119{k:08d}\n" for k in range(contacts))
        c.call("contact.import", {"data": csv})
    stop_zingd(z)
    return z


def add_schedules(db_path: Path, n: int, due_at: float) -> None:
    db = sqlite3.connect(db_path)
    contacts = [r[0] for r in db.execute("SELECT id FROM contacts ORDER BY id")]
    now = time.time()
    with db:
        db.executemany(
            "INSERT INTO schedules (tenant_id, contact_id, connection_id, user_id, body, run_at, created_at, "
            "updated_at) VALUES (1, ?, 1, 1, ?, ?, ?, ?)",
            ((contacts[i % len(contacts)], f"Lembrete {i}", due_at + (i % 1000) / 1000, now, now) for i in range(n)))
    db.close()


def time_start(z: Zingd) -> float:
    t0 = time.monotonic()
    z.start(timeout=60)
    return time.monotonic() - t0


def hello_latencies(sock: Path, seconds: float, stop: threading.Event | None = None) -> list[float]:
    out: list[float] = []
    with LineClient(sock) as c:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            t = time.perf_counter()
            c.call("rpc.hello")
            out.append(time.perf_counter() - t)
            time.sleep(0.002)
    return sorted(out)


def sent_count(db_path: Path) -> int:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM schedules WHERE status = 'sent'").fetchone()[0]
    finally:
        db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20,000 schedules, 10 s of firing")
    ap.add_argument("--schedules", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None, help="how long to time rpc.hello while they fire")
    args = ap.parse_args()
    n = args.schedules or (20_000 if args.quick else 100_000)
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    busy = cpu_busy()
    report = Report(f"bench.schedules: {n:,} pending scheduled messages" + (" (--quick)" if args.quick else ""))
    with tempfile.TemporaryDirectory(prefix="zing-bench-") as tmp:
        root = Path(tmp)
        progress("preparing a tenant, a sim number (pacing off) and 1,000 contacts")
        z = prepare(root, 1000)
        db_path = z.data_dir / "zing.db"

        progress("baseline: start and rpc.hello on the idle daemon")
        idle_start = time_start(z)
        idle = hello_latencies(z.socket, 5.0)
        stop_zingd(z)

        progress(f"adding {n:,} schedules, due a few seconds after the next start")
        add_schedules(db_path, n, time.time() + 8.0)
        busy_start = time_start(z)
        progress(f"started in {busy_start:.2f} s; waiting for them to fall due")
        time.sleep(max(0.0, 8.5 - busy_start))
        before, t0 = sent_count(db_path), time.monotonic()
        firing = hello_latencies(z.socket, seconds)
        fired = sent_count(db_path) - before
        elapsed = time.monotonic() - t0
        warning = stop_zingd(z)

    s_idle, s_firing = summary(idle), summary(firing)
    report.add("start with pending schedules", f"{busy_start:.2f} s", f"{idle_start:.2f} s (none)",
               busy_start / idle_start, "< 3 s", busy_start < 3.0)
    report.add("rpc.hello p99 while they fire", ms(s_firing["p99"]), ms(s_idle["p99"]) + " (idle)",
               s_firing["p99"] / s_idle["p99"], "< 5 ms", s_firing["p99"] < 0.005)
    report.add("  p50 / max while they fire", f"{ms(s_firing['p50'])} / {ms(s_firing['max'])}",
               f"{ms(s_idle['p50'])} / {ms(s_idle['max'])}")
    report.add("scheduled messages sent while timing", f"{fired:,} in {elapsed:.1f} s ({rate(fired / elapsed)})")
    report.note(f"{len(firing):,} rpc.hello samples while firing, {len(idle):,} idle; one blocking client, "
                "2 ms apart")
    report.note("a schedule firing = its message queued through the governor in one unit, then sent by "
                "the outbox to the sim")
    if warning:
        report.note(warning)
    report.note(busy_note(busy))
    report.print()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
