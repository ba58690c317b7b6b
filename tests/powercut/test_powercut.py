"""Power cuts under a real zingd: its data dir on LazyFS, everything not fsync'ed thrown away.

zingd runs with its data dir (zing.db, -wal, -shm, media/) on a LazyFS mount; the sim's journal
(the "network": WhatsApp's servers don't lose power with us) is kept off the mount through a
symlink at data/sim. Traffic, all at once: customers write in (sim.say), an agent accepts tickets
and answers (message.send), a burst client pipelines both, and a campaign sends to RECIPIENTS
contacts. At a moment chosen by a seeded random count of acknowledged calls (or right inside a
burst) the power goes: zingd is frozen, LazyFS drops every unsynced byte, zingd is SIGKILLed, the
file system is unmounted and mounted again, zingd restarts on what the "disk" kept.

After every restart: ``PRAGMA integrity_check`` is ok; every sim.say and message.send that got a
reply before the cut is in the database exactly once (same id, same WhatsApp id); every customer
message the network was told was handled is stored; every message a customer received is known to
the database. At the end (campaign done, outbox drained, clean stop) the same, plus: every campaign
recipient got exactly one message, nobody twice, nobody skipped, and tests.integration.test_crash's
whole set of journal-vs-database invariants.

Run it with ``make powercut`` (it skips where there is no FUSE, LazyFS does not build or the mount
does not come up). Knobs: ZING_POWERCUT_CUTS (15), ZING_POWERCUT_RECIPIENTS (800),
ZING_POWERCUT_SEED. To see it catch losses, run it with ZING_DATABASE__SYNCHRONOUS=NORMAL
(zingd reads that from the environment): it must then fail.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from tests.helpers import wait_for
from tests.integration.support import db_ro, journal_path, read_journal
from tests.integration.test_campaigns import NO_LIMITS, desk_with
from tests.integration.test_crash import GONE, NUMBERS, Ledger, _burst, _customer, check
from tests.powercut.lazyfs import LazyFS
from zingd.channels.sim import _PNG
from zingd.errors import ZingError
from zingd.rpc.client import SyncClient

CUTS = int(os.environ.get("ZING_POWERCUT_CUTS", "15"))
RECIPIENTS = int(os.environ.get("ZING_POWERCUT_RECIPIENTS", "800"))
CAMPAIGN_GAP_S = 0.02           # at most 50 campaign messages a second: still sending at the last cuts
CAMPAIGN_TEXT = "Campanha {{name}}"

pytestmark = pytest.mark.powercut


@dataclass
class CutLedger(Ledger):
    """test_crash's ledger, counting only replies that arrived before the power went."""

    cut: threading.Event = field(default_factory=threading.Event)
    # every acknowledged send as (message id, wa_id): ``sends`` keeps one per id, and a lost row's id
    # is handed out again after a cut, which would overwrite (hide) the lost one
    all_sends: list[tuple[int, str]] = field(default_factory=list)

    def said(self, result: dict) -> None:
        if not self.cut.is_set():
            super().said(result)

    def sent(self, result: dict) -> None:
        if not self.cut.is_set():
            super().sent(result)
            with self.lock:
                self.all_sends.append((result["id"], result["wa_id"]))

    def count(self) -> int:
        with self.lock:
            return len(self.says) + len(self.all_sends)

    def snapshot(self) -> tuple[dict[str, int], list[tuple[int, str]]]:
        with self.lock:
            return dict(self.says), list(self.all_sends)


def _agent(z, ledger: CutLedger, rng: random.Random, stop: threading.Event, tag: str) -> None:
    """Accept the pending tickets, answer on the accepted (open) ones."""
    try:
        with SyncClient(z.socket, timeout=10) as c:
            mine: list[int] = []
            i = 0
            while not stop.is_set():
                if not mine or rng.random() < 0.05:
                    for t in c.call("ticket.list", {"status": "pending", "limit": 50})["tickets"]:
                        try:
                            c.call("ticket.accept", {"id": t["id"]})
                        except ZingError:
                            pass  # taken meanwhile
                    mine = [t["id"] for t in c.call("ticket.list", {"status": "open", "limit": 50})["tickets"]]
                    if not mine:
                        stop.wait(0.01)
                        continue
                i += 1
                try:
                    ledger.sent(c.call("message.send", {"ticket_id": rng.choice(mine), "body": f"{tag} out {i}"}))
                except ZingError as e:
                    ledger.odd(f"message.send: {e.kind}: {e}")
    except GONE:
        pass


def _photographer(z, ledger: CutLedger, rng: random.Random, stop: threading.Event, tag: str) -> None:
    """Customers sending photos: each one's media file must be on disk before its message row."""
    try:
        with SyncClient(z.socket, timeout=10) as c:
            while not stop.is_set():
                try:
                    ledger.said(c.call("sim.say", {"from": rng.choice(NUMBERS), "type": "image"}))
                except ZingError as e:
                    ledger.odd(f"sim.say image: {e.kind}: {e}")
    except GONE:
        pass


@dataclass
class Damage:
    """What the disk lost, found right after a restart (or at the end)."""

    integrity: str = "ok"
    lost_says: list[str] = field(default_factory=list)       # sim.say replied, message not stored
    lost_handled: list[str] = field(default_factory=list)    # network told "handled", message not stored
    lost_sends: list[str] = field(default_factory=list)      # message.send replied, row gone or changed
    lost_received: list[str] = field(default_factory=list)   # a customer got it, the DB doesn't know it
    duplicates: list[str] = field(default_factory=list)      # one WhatsApp id stored twice
    broken_media: list[str] = field(default_factory=list)    # a stored photo whose file is gone or partial
    photos: int = 0                                          # stored photos (inbound images) looked at

    @property
    def lost(self) -> int:
        return len(self.lost_says) + len(self.lost_handled) + len(self.lost_sends) + len(self.lost_received) \
            + len(self.broken_media)

    def since(self, before: Damage | None) -> Damage:
        """What this inspection found that the one before had not (losses accumulate over the cuts)."""
        if before is None:
            return self

        def new(now: list[str], then: list[str]) -> list[str]:
            old = set(then)
            return [x for x in now if x not in old]
        return Damage(self.integrity, new(self.lost_says, before.lost_says),
                      new(self.lost_handled, before.lost_handled), new(self.lost_sends, before.lost_sends),
                      new(self.lost_received, before.lost_received), new(self.duplicates, before.duplicates),
                      new(self.broken_media, before.broken_media))

    def problems(self) -> list[str]:
        return ([f"integrity_check: {self.integrity}"] if self.integrity != "ok" else []) \
            + [f"acknowledged sim.say {w} is not stored" for w in self.lost_says] \
            + [f"customer message {w}, acknowledged to the network, is not stored" for w in self.lost_handled] \
            + [f"acknowledged message.send {s} is not stored" for s in self.lost_sends] \
            + [f"a customer received {w} that the database does not have" for w in self.lost_received] \
            + [f"{d} stored more than once" for d in self.duplicates] \
            + [f"photo {m}" for m in self.broken_media]


def inspect(z, ledger: CutLedger) -> Damage:
    # journal before database: the sim writes "ack" after the commit, "out" after the row exists,
    # so with zingd running (redelivery, outbox) this order never shows a fresh one as lost
    says, sends = ledger.snapshot()
    j = read_journal(journal_path(z))
    conn = db_ro(z)
    try:
        integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())
        msgs = conn.execute("SELECT id, wa_id, direction FROM messages WHERE connection_id = 1").fetchall()
        photos = conn.execute("SELECT wa_id, media_path, media_error FROM messages "
                              "WHERE connection_id = 1 AND direction = 'in' AND type = 'image'").fetchall()
    finally:
        conn.close()
    inbound = Counter(m["wa_id"] for m in msgs if m["direction"] == "in")
    outbound = Counter(m["wa_id"] for m in msgs if m["direction"] == "out")
    out_by_id = {m["id"]: m["wa_id"] for m in msgs if m["direction"] == "out"}
    broken = []
    for p in photos:
        try:
            ok = p["media_path"] is not None and open(p["media_path"], "rb").read() == _PNG
        except OSError:
            ok = False
        if not ok:
            broken.append(f"{p['wa_id']} ({p['media_path'] or p['media_error']})")
    return Damage(
        integrity=integrity,
        lost_says=[w for w in says if not inbound[w]],
        lost_handled=[w for w in j.sent if j.acks[w] and not inbound[w]],
        lost_sends=[f"{mid} ({wa})" for mid, wa in sends if out_by_id.get(mid) != wa],
        lost_received=[w for w in j.outs if not outbound[w]],
        duplicates=[f"{d} {w}" for d, c in (("in", inbound), ("out", outbound)) for w, n in c.items() if n > 1],
        broken_media=broken,
        photos=len(photos),
    )


def campaign_outs(z) -> Counter:
    """Distinct campaign messages each customer received (by chat), from the network's journal."""
    j = read_journal(journal_path(z))
    return Counter(rec["to"] for rec in j.out_recs.values() if rec["body"].startswith("Campanha "))


def _cut(z, fs: LazyFS, ledger: CutLedger, rng: random.Random, rnd: int, campaign_id: int) -> Damage:
    stop, fired = threading.Event(), threading.Event()
    tag = f"p{rnd}"
    workers = [
        threading.Thread(target=_customer, args=(z, ledger, random.Random(rng.random()), stop, tag + "a")),
        threading.Thread(target=_customer, args=(z, ledger, random.Random(rng.random()), stop, tag + "b")),
        threading.Thread(target=_photographer, args=(z, ledger, random.Random(rng.random()), stop, tag + "p")),
        threading.Thread(target=_agent, args=(z, ledger, random.Random(rng.random()), stop, tag + "c")),
        threading.Thread(target=_burst, args=(z, ledger, random.Random(rng.random()), stop, fired, tag + "d")),
    ]
    for w in workers:
        w.start()
    if rnd % 3 == 2:   # right after a burst of pipelined requests was written
        assert fired.wait(20), "the burst client never got to write"
    else:              # after a random number of acknowledged calls and campaign sends: early, or deep in
        acks = ledger.count() + rng.choice([rng.randint(1, 20), rng.randint(20, 400)])
        with SyncClient(z.socket, timeout=10) as c:
            def pending() -> int:
                return c.call("campaign.show", {"id": campaign_id})["counts"]["pending"]
            left = max(0, pending() - rng.randint(0, 40))

            def due() -> bool:
                return z.proc.poll() is not None or (ledger.count() >= acks and pending() <= left)
            wait_for(due, timeout=30, interval=0.01)
    assert z.proc.poll() is None, f"zingd died by itself before cut {rnd}:\n{z.log.read_text()[-3000:]}"
    ledger.cut.set()          # from here on a reply acknowledges nothing
    fs.power_cut(z.proc)
    stop.set()
    for w in workers:
        w.join(20)
        assert not w.is_alive(), "a traffic thread hung after the power cut"
    fs.remount()
    ledger.cut.clear()
    z.start()
    return inspect(z, ledger)


def _summary(where, cuts_s, finish_s, says, sends, per_cut, final, recipients, campaign_during, received,
             twice, stored_twice, skipped, never, settled) -> str:
    lossy = sum(1 for dm in per_cut if dm.lost or dm.duplicates or dm.integrity != "ok")
    cuts = ", ".join(f"#{i} {len(dm.lost_says)}/{len(dm.lost_handled)}/{len(dm.lost_sends)}/{len(dm.lost_received)}/"
                     f"{len(dm.broken_media)} {len(dm.duplicates)} {dm.integrity}" for i, dm in enumerate(per_cut))
    return (
        f"\npowercut {where}: {len(per_cut)} cuts in {cuts_s:.0f} s (+{finish_s:.0f} s to finish)"
        f"\n  acknowledged before a cut: {len(says)} sim.say, {len(sends)} message.send; campaign: {recipients} "
        f"recipients, {campaign_during} received during the cuts, {sum(received.values())} at the end"
        f"\n  lost at the end: {len(final.lost_says)} sim.say, {len(final.lost_handled)} handled inbound, "
        f"{len(final.lost_sends)} message.send, {len(final.lost_received)} received-but-forgotten, "
        f"{len(final.broken_media)} of {final.photos} photos without their file"
        f"\n  duplicates: {len(final.duplicates)} stored twice, {len(twice)} campaign recipients reached twice "
        f"({len(stored_twice)} with two campaign rows), {len(skipped)} skipped, {len(never)} never reached; "
        f"integrity at the end: {final.integrity}"
        f"\n  new per cut (lost sim.say/handled/sends/received/photo files, dups, integrity): {cuts}"
        f"\n  cuts that lost something: {lossy} of {len(per_cut)}" + (f"\n  {settled}" if settled else ""))


@pytest.mark.timeout(300)
def test_power_cuts_lose_nothing_acknowledged(tmp_path, lazyfs):
    seed = int(os.environ.get("ZING_POWERCUT_SEED", random.randrange(1 << 30)))
    mode = os.environ.get("ZING_DATABASE__SYNCHRONOUS", "default (FULL)")
    where = f"(seed {seed}, synchronous {mode}; rerun with ZING_POWERCUT_SEED={seed})"
    rng = random.Random(seed)
    t0 = time.monotonic()

    # data on the mount, the network's journal off it
    data = lazyfs.mnt / "data"
    data.mkdir()
    network = tmp_path / "network"
    network.mkdir()
    (data / "sim").symlink_to(network, target_is_directory=True)
    root = tmp_path / "z"
    root.mkdir()
    (root / "data").symlink_to(data, target_is_directory=True)

    d = desk_with(root, speed=1, pacing={**NO_LIMITS, "min_interval_s": CAMPAIGN_GAP_S}, n=RECIPIENTS)
    z = d.z
    try:
        campaign = d.admin.call("campaign.create", {"name": "Power", "variants": [CAMPAIGN_TEXT], "filter": {}})
        assert campaign["counts"]["pending"] == RECIPIENTS
        d.admin.call("campaign.start", {"id": campaign["id"]})
        d.close()
        z.restart()   # a clean stop makes the setup durable in any synchronous mode
        assert journal_path(z).resolve().is_relative_to(network.resolve()), "the sim journal is on the LazyFS mount"

        ledger = CutLedger()
        per_cut: list[Damage] = []     # what each cut lost on top of the cuts before it
        last: Damage | None = None
        for rnd in range(CUTS):
            found = _cut(z, lazyfs, ledger, rng, rnd, campaign["id"])
            per_cut.append(found.since(last))
            last = found
        says, sends = ledger.snapshot()
        campaign_during = sum(campaign_outs(z).values())
        cuts_s = time.monotonic() - t0

        # power stays on: let it finish the campaign, drain the outbox, take what the network holds
        with SyncClient(z.socket, timeout=30) as c:
            def caught_up() -> bool:
                j = c.call("sim.journal", {})
                return (c.call("campaign.show", {"id": campaign["id"]})["status"] == "done"
                        and c.call("daemon.status")["outbox"]["queued"] == 0
                        and j["customer_sent"] == j["acked"])
            try:
                wait_for(caught_up, timeout=90, interval=0.1)
                settled = ""
            except AssertionError:
                settled = (f"did not catch up within 90 s: campaign {c.call('campaign.show', {'id': campaign['id']})}"
                           f", outbox {c.call('daemon.status')['outbox']}, journal {c.call('sim.journal', {})}")
        assert z.stop() == 0, f"unclean stop:\n{z.log.read_text()[-3000:]}"
        final = inspect(z, ledger)

        conn = db_ro(z)
        try:
            recipients = conn.execute(
                "SELECT n.number, r.state, r.message_id FROM campaign_recipients r "
                "JOIN contacts n ON n.id = r.contact_id WHERE r.campaign_id = ?", (campaign["id"],)).fetchall()
            stored_twice = conn.execute(
                "SELECT contact_id FROM messages WHERE automated = 1 GROUP BY contact_id HAVING count(*) > 1"
            ).fetchall()
        finally:
            conn.close()
        received = campaign_outs(z)
        numbers = {f"{r['number']}@s.whatsapp.net" for r in recipients}
        skipped = [r["number"] for r in recipients if r["message_id"] is None]
        twice = [chat for chat, n in received.items() if n > 1]
        never = [n for n in numbers if received[n] == 0]

        summary = _summary(where, cuts_s, time.monotonic() - t0 - cuts_s, says, sends, per_cut, final,
                           len(recipients), campaign_during, received, twice, stored_twice, skipped, never, settled)
        print(summary)

        problems = [f"cut {i}: {p}" for i, dm in enumerate(per_cut) for p in dm.problems()[:10]]
        problems += [f"end: {p}" for p in final.problems()]
        problems += [f"campaign recipient {n} skipped" for n in skipped]
        problems += [f"campaign recipient {c} received {received[c]} different messages" for c in twice]
        problems += [f"campaign recipient {c} never received its message" for c in never]
        problems += [f"contact {r[0]} has two campaign messages stored" for r in stored_twice]
        problems += [settled] if settled else []
        assert not problems, f"power cuts broke guarantees {where}:{summary}\n  " + "\n  ".join(problems[:40])
        assert len(says) > CUTS and len(sends) > CUTS // 2 and campaign_during > 0, \
            f"too little acknowledged traffic to prove anything {where}{summary}"
        # and everything test_crash checks of the journal against the database
        check(z, ledger, seed, CUTS, faults=False)
    finally:
        d.close()
        z.kill()
