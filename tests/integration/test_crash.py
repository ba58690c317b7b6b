"""kill -9 at random moments, restart, and check the database against the sim's journal (the "network").

Traffic comes from this process: customers write in (sim.say), the demo admin answers (message.send), and a
burst client pipelines dozens of both in one write. Every reply that came back is an acknowledgment: what it
acknowledged must survive. At the end a clean stop drains, and the DB (opened read-only) must agree with the
journal: every customer message stored exactly once and acknowledged to the network, one ticket per contact,
every acknowledged send in the DB and received by the customer exactly once (or still queued/failed), never
two different sends for one message, and nothing received that the DB doesn't know.

Default: ZING_CRASH_ROUNDS (20) rounds. ``make crash`` runs the slow variant (-m slow, 60 rounds, with send
failures and duplicate deliveries). A failure names its seed; rerun with ZING_CRASH_SEED=<seed>.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import Zingd, wait_for
from tests.integration.support import SENT_OR_LATER, db_ro, journal_path, read_journal
from zingd.errors import ZingError
from zingd.rpc.client import SyncClient

NUMBERS = [f"55119{k:08d}" for k in range(1, 7)]


@dataclass
class Ledger:
    """What zingd acknowledged to the test (a reply came back)."""

    says: dict[str, int] = field(default_factory=dict)          # wa_id -> connection id
    sends: dict[int, str] = field(default_factory=dict)         # message id -> wa_id
    unexpected: list[str] = field(default_factory=list)         # error replies that should never happen
    lock: threading.Lock = field(default_factory=threading.Lock)

    def said(self, result: dict) -> None:
        with self.lock:
            self.says[result["wa_id"]] = result["connection_id"]

    def sent(self, result: dict) -> None:
        with self.lock:
            self.sends[result["id"]] = result["wa_id"]

    def odd(self, what: str) -> None:
        with self.lock:
            self.unexpected.append(what)


GONE = (ConnectionError, OSError, EOFError, ValueError)   # the daemon died under us (ValueError: a cut frame)


def _customer(z: Zingd, ledger: Ledger, rng: random.Random, stop: threading.Event, tag: str) -> None:
    try:
        with SyncClient(z.socket, timeout=10) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    ledger.said(c.call("sim.say", {"from": rng.choice(NUMBERS), "body": f"{tag} in {i}"}))
                except ZingError as e:
                    ledger.odd(f"sim.say: {e.kind}: {e}")
                time.sleep(rng.uniform(0.001, 0.02))
    except GONE:
        pass


def _agent(z: Zingd, ledger: Ledger, rng: random.Random, stop: threading.Event, tag: str) -> None:
    try:
        with SyncClient(z.socket, timeout=10) as c:
            tickets: list[int] = []
            i = 0
            while not stop.is_set():
                if not tickets or rng.random() < 0.05:
                    tickets = [t["id"] for t in c.call("ticket.list", {"limit": 50})["tickets"]
                               if t["status"] != "closed"]
                    if not tickets:
                        time.sleep(0.01)
                        continue
                i += 1
                try:
                    ledger.sent(c.call("message.send", {"ticket_id": rng.choice(tickets), "body": f"{tag} out {i}"}))
                except ZingError as e:
                    ledger.odd(f"message.send: {e.kind}: {e}")
                time.sleep(rng.uniform(0.001, 0.02))
    except GONE:
        pass


def _burst(z: Zingd, ledger: Ledger, rng: random.Random, stop: threading.Event, fired: threading.Event,
           tag: str) -> None:
    """Pipeline a burst of requests in one write, then read whatever replies arrive."""
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(str(z.socket))
        reader = sock.makefile("rb")
        with SyncClient(z.socket, timeout=10) as c:
            tickets = [t["id"] for t in c.call("ticket.list", {"limit": 50})["tickets"] if t["status"] != "closed"]
        n = 0
        while not stop.is_set():
            kinds: dict[int, str] = {}
            frames = []
            for _ in range(rng.randint(10, 40)):
                n += 1
                if tickets and rng.random() < 0.4:
                    kinds[n] = "send"
                    frames.append({"jsonrpc": "2.0", "id": n, "method": "message.send",
                                   "params": {"ticket_id": rng.choice(tickets), "body": f"{tag} burst out {n}"}})
                else:
                    kinds[n] = "say"
                    frames.append({"jsonrpc": "2.0", "id": n, "method": "sim.say",
                                   "params": {"from": rng.choice(NUMBERS), "body": f"{tag} burst in {n}"}})
            sock.sendall(b"".join(json.dumps(f).encode() + b"\n" for f in frames))
            fired.set()
            for _ in kinds:
                line = reader.readline()
                if not line.endswith(b"\n"):
                    return  # the daemon is gone; a cut line acknowledges nothing
                reply = json.loads(line)
                kind = kinds[reply["id"]]
                if "error" in reply:
                    ledger.odd(f"burst {kind}: {reply['error']}")
                elif kind == "send":
                    ledger.sent(reply["result"])
                else:
                    ledger.said(reply["result"])
            stop.wait(rng.uniform(0.05, 0.2))
    except GONE:
        pass
    finally:
        try:
            sock.close()
        except (OSError, UnboundLocalError):
            pass


def _round(z: Zingd, ledger: Ledger, rng: random.Random, rnd: int, faults: bool) -> None:
    stop, fired = threading.Event(), threading.Event()
    tag = f"r{rnd}"
    if faults or rng.random() < 0.3:
        try:
            with SyncClient(z.socket, timeout=10) as c:
                c.call("sim.fault", {"duplicate_inbound": rng.random() < 0.5})
        except GONE:
            pass
    workers = [
        threading.Thread(target=_customer, args=(z, ledger, random.Random(rng.random()), stop, tag + "a")),
        threading.Thread(target=_customer, args=(z, ledger, random.Random(rng.random()), stop, tag + "b")),
        threading.Thread(target=_agent, args=(z, ledger, random.Random(rng.random()), stop, tag + "c")),
        threading.Thread(target=_burst, args=(z, ledger, random.Random(rng.random()), stop, fired, tag + "d")),
    ]
    for w in workers:
        w.start()
    if rnd % 3 == 2:          # right in the middle of a burst
        fired.wait(5)
        time.sleep(rng.uniform(0, 0.02))
    else:                     # anywhere: just after start (redelivery running), or deep into the traffic
        time.sleep(rng.uniform(0.0, 0.7))
    z.kill()
    stop.set()
    for w in workers:
        w.join(20)
        assert not w.is_alive(), "a traffic thread hung after the kill"
    z.start()


def run_crash(tmp_path: Path, rounds: int, faults: bool = False) -> None:
    seed = int(os.environ.get("ZING_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    # the outbox's per-number rate limit (20/s by default) is not under test here: let it keep up
    env = {"ZING_OUTBOX__RATE_PER_CONNECTION": "1000", "ZING_OUTBOX__BURST": "200"}
    if faults:
        env.update({"ZING_SIM__SEND_FAILURE_RATE": "0.2", "ZING_OUTBOX__MAX_ATTEMPTS": "6",
                    "ZING_OUTBOX__BACKOFF_CAP_S": "0.5"})
    z = Zingd(tmp_path, demo=True, env=env).start()
    ledger = Ledger()
    try:
        for rnd in range(rounds):
            _round(z, ledger, rng, rnd, faults)
        # the last start redelivers what the network still holds; give it a moment, then drain and stop cleanly
        with SyncClient(z.socket, timeout=30) as c:
            if faults:
                c.call("sim.fault", {"send_failure_rate": 0.0, "duplicate_inbound": False})

            def caught_up() -> bool:
                j = c.call("sim.journal", {})
                return j["customer_sent"] == j["acked"] and c.call("daemon.status")["outbox"]["queued"] == 0
            try:
                wait_for(caught_up, timeout=30, interval=0.1)
            except AssertionError:
                j, status = c.call("sim.journal", {}), c.call("daemon.status")
                view = read_journal(journal_path(z))
                unacked = [w for w in view.sent if view.acks[w] == 0]
                pytest.fail(f"zingd did not catch up 30 s after the last restart (seed {seed}): journal {j}, "
                            f"outbox {status['outbox']}, connections {status['connections']}, "
                            f"unacknowledged customer messages {unacked[:5]}\n"
                            f"daemon log tail:\n{z.log.read_text()[-3000:]}")
        assert z.stop() == 0, f"unclean stop:\n{z.log.read_text()[-3000:]}"
        check(z, ledger, seed, rounds, faults)
    finally:
        z.kill()


def check(z: Zingd, ledger: Ledger, seed: int, rounds: int, faults: bool) -> None:
    where = f"(seed {seed}, {rounds} rounds; rerun with ZING_CRASH_SEED={seed})"
    assert not ledger.unexpected, f"error replies under crash/restart {where}: {ledger.unexpected[:5]}"
    assert len(ledger.says) > rounds and len(ledger.sends) > rounds // 2, \
        f"too little acknowledged traffic to prove anything {where}: {len(ledger.says)} in, {len(ledger.sends)} out"
    j = read_journal(journal_path(z))
    assert j.torn_lines == 0, f"{j.torn_lines} torn journal line(s) {where}"
    conn = db_ro(z)
    try:
        msgs = [dict(r) for r in conn.execute(
            "SELECT id, wa_id, direction, ack, ticket_id, contact_id, connection_id FROM messages")]
        tickets = [dict(r) for r in conn.execute("SELECT id, contact_id, connection_id, status FROM tickets")]
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        contacts = {r["id"]: r["number"] for r in conn.execute("SELECT id, number FROM contacts")}
    finally:
        conn.close()
    problems: list[str] = []
    by_wa = Counter((m["connection_id"], m["wa_id"]) for m in msgs)
    inbound = {m["wa_id"]: m for m in msgs if m["direction"] == "in" and m["connection_id"] == 1}
    outbound = {m["id"]: m for m in msgs if m["direction"] == "out" and m["connection_id"] == 1}
    problems += [f"wa_id {w} stored {n} times" for (_, w), n in by_wa.items() if n > 1]

    # inbound: journal "in" <-> DB, exactly once, and acknowledged to the network
    for wa_id, rec in j.sent.items():
        if wa_id not in inbound:
            problems.append(f"customer message {wa_id} ({rec['body']!r}) was sent but never stored")
        if j.acks[wa_id] < 1:
            problems.append(f"customer message {wa_id} never acknowledged to the network")
        if j.in_count[wa_id] != 1:
            problems.append(f"journal: {wa_id} sent {j.in_count[wa_id]} times")
    problems += [f"stored inbound {w} that no customer sent" for w in inbound if w not in j.sent]
    problems += [f"acknowledged sim.say {w} missing from the DB" for w in ledger.says if w not in inbound]

    # tickets: one per contact (none is ever closed here), never two active for a (connection, contact)
    active = Counter((t["connection_id"], t["contact_id"]) for t in tickets if t["status"] in ("pending", "open"))
    problems += [f"{n} active tickets for contact {contacts.get(c)}" for (_, c), n in active.items() if n > 1]
    per_contact = Counter(t["contact_id"] for t in tickets)
    problems += [f"contact {contacts.get(c)} has {n} tickets" for c, n in per_contact.items() if n != 1]
    problems += [f"{len(set(contacts.values()))} numbers for {len(contacts)} contacts"] \
        if len(set(contacts.values())) != len(contacts) else []
    ticket_contact = {t["id"]: t["contact_id"] for t in tickets}
    problems += [f"message {m['id']} on ticket {m['ticket_id']} of another contact" for m in msgs
                 if ticket_contact.get(m["ticket_id"]) != m["contact_id"]]

    # outbound: acknowledged -> stored; sent -> received exactly once; nothing received that the DB lacks
    for mid, wa_id in ledger.sends.items():
        row = outbound.get(mid)
        if row is None:
            problems.append(f"acknowledged message.send {mid} ({wa_id}) is not in the DB")
        elif row["wa_id"] != wa_id:
            problems.append(f"message {mid} changed its WhatsApp id {wa_id} -> {row['wa_id']}")
    for mid, row in outbound.items():
        n = j.outs[row["wa_id"]]
        if row["ack"] in SENT_OR_LATER and n != 1:
            problems.append(f"message {mid} is {row['ack']} but the customer got it {n} times")
        elif row["ack"] == "failed" and (not faults or n > 1):
            problems.append(f"message {mid} failed (received {n} times)")
        elif row["ack"] == "queued":
            problems.append(f"message {mid} still queued after a clean, drained stop")
    out_ids = {row["wa_id"] for row in outbound.values()}
    problems += [f"the customer received {w} that the DB doesn't have" for w in j.outs if w not in out_ids]
    problems += [f"journal: {w} received {n} times as new" for w, n in j.outs.items() if n > 1]
    if outbox:
        problems.append(f"{outbox} outbox row(s) left after a drained stop")
    assert not problems, f"crash invariants broken {where}:\n  " + "\n  ".join(problems[:40])
    # what the run went through (shown with -s): redeliveries and resends prove the crash windows were hit
    in_flight = sum(1 for w in j.sent if w not in ledger.says)
    print(f"\ncrash run {where}: {len(j.sent)} customer messages ({in_flight} in flight at a kill, "
          f"{sum(n > 1 for n in j.acks.values())} acknowledged twice), {len(outbound)} outbound "
          f"({sum(j.dups.values())} resent after a crash, shown once), "
          f"{len(ledger.says)} + {len(ledger.sends)} acknowledged calls")


@pytest.mark.timeout(300)
def test_kill_9_at_random_moments(tmp_path):
    run_crash(tmp_path, int(os.environ.get("ZING_CRASH_ROUNDS", "20")))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_9_at_random_moments_with_faults_long(tmp_path):
    run_crash(tmp_path, int(os.environ.get("ZING_CRASH_ROUNDS", "60")), faults=True)
