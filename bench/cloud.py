"""Inbound through the Cloud API webhook, end to end.

    python -m bench.cloud [--quick] [--inflight N] [--customers N] [--statuses N]

What is measured (all in one run, zing and the baseline alternating in rounds):

* zing: a real ``python -m zingd`` (``tests.helpers.Zingd``, uvloop, HTTP on a free port) with one
  cloud number against a ``FakeGraph`` in this process. Signed deliveries (Meta's JSON shapes,
  ``tests/channels/cloud/webhooks.py``) are POSTed to ``/webhooks/whatsapp`` with aiohttp, N in
  flight, each a batch of K text messages from K distinct customers (K=1 and K=20). zingd answers
  200 only once every change of the body is committed, so a delivery's latency is POST sent → 200;
  throughput is messages / (first POST → last 200 and last ``message.created`` at a subscriber on
  the socket, ``events.subscribe {"topics":["tenant"]}``, as ``bench.ingest`` counts). After each
  phase the stored rows are counted in zingd's database (read-only).
* baseline: the same signed bodies, posted by the same client, to a trivial aiohttp server in its
  own process (uvloop, ``access_log=None``): HMAC-SHA256 check, ``json.loads``, then per message
  the inbound transaction of ``bench.ingest``'s baseline (contact, active ticket, message with the
  FTS triggers, ticket update; one transaction per message) with plain ``sqlite3`` on the daemon's
  schema and pragmas (``bench.ingest.Baseline``). For reference the same server also commits a
  whole delivery in one transaction (``/webhooks/whatsapp/batched``).
* refused deliveries: K=20 bodies signed with another secret (401, nothing stored), both sides.
* statuses: N messages sent by an agent through zing (outbox → FakeGraph), then their
  ``delivered`` statuses one per delivery and their ``read`` statuses 20 per delivery; applied
  per second (the baseline: the same bodies; a lookup by ``wa_id`` and an ack update per status,
  one transaction each, on rows seeded with the same wamids).

The baseline server is ``python -m bench.cloud --baseline-child ...``: it answers ``{"ready"...}``
on stdout and takes commands (seed, stop) on stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import (
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
from bench.ingest import Baseline, Child, subscribe

TARGET_RATIO_K20 = 0.5
TARGET_REFUSED = 2000.0
PATH = "/webhooks/whatsapp"
ACK_RANK = {"queued": 0, "unconfirmed": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4}


# ===================================================================================
# the raw baseline: a trivial aiohttp webhook receiver (child process)
# ===================================================================================
def _store(ex, m: dict[str, Any], names: dict[str, str], now: float) -> None:
    """bench.ingest's baseline transaction body for one webhook message."""
    number = m["from"]
    body = m["text"]["body"]
    row = ex("SELECT id FROM contacts WHERE tenant_id = ? AND number = ?", (1, number)).fetchone()
    if row is None:
        cid = ex("INSERT INTO contacts (tenant_id, number, push_name, created_at, updated_at) VALUES (?,?,?,?,?)",
                 (1, number, names.get(number, ""), now, now)).lastrowid
    else:
        cid = row[0]
    row = ex("SELECT id FROM tickets WHERE connection_id = ? AND contact_id = ? AND status IN ('pending', 'open')",
             (1, cid)).fetchone()
    if row is None:
        tid = ex("INSERT INTO tickets (tenant_id, connection_id, contact_id, status, last_message_at, created_at, "
                 "updated_at) VALUES (?,?,?,'pending',?,?,?)", (1, 1, cid, now, now, now)).lastrowid
    else:
        tid = row[0]
    ex("INSERT INTO messages (tenant_id, ticket_id, connection_id, contact_id, wa_id, direction, type, body, ack, "
       "created_at, updated_at) VALUES (?,?,?,?,?,'in','text',?,'received',?,?)",
       (1, tid, 1, cid, m["id"], body, now, now))
    ex("UPDATE tickets SET last_message = ?, last_message_at = ?, unread = unread + 1, updated_at = ?, "
       "last_inbound_at = ? WHERE id = ?", (body[:200], now, now, now, tid))


def _ack(ex, s: dict[str, Any], now: float) -> None:
    row = ex("SELECT id, ack, direction FROM messages WHERE connection_id = ? AND wa_id = ?", (1, s["id"])).fetchone()
    if row is None or row[2] != "out" or ACK_RANK.get(s["status"], -1) <= ACK_RANK.get(row[1], 0):
        return
    ex("UPDATE messages SET ack = ?, updated_at = ? WHERE id = ?", (s["status"], now, row[0]))


async def _baseline_child(args: argparse.Namespace) -> None:
    from aiohttp import web

    base = Baseline(Path(args.db), [], args.synchronous)  # the daemon's schema and pragmas, tenant 1, connection 1
    conn = base.conn
    ex = conn.execute
    secret = args.secret.encode()

    def signed(body: bytes, header: str) -> bool:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), header.encode())

    def changes(body: bytes):
        for entry in json.loads(body)["entry"]:
            for change in entry["changes"]:
                yield change["value"]

    def items(value: dict[str, Any]):
        names = {c.get("wa_id", ""): (c.get("profile") or {}).get("name", "") for c in value.get("contacts", ())}
        return names, [m for m in value.get("messages", ()) if m.get("type") == "text"], value.get("statuses", ())

    async def per_message(request: web.Request) -> web.Response:
        body = await request.read()
        if not signed(body, request.headers.get("X-Hub-Signature-256", "")):
            return web.Response(status=401, text="bad signature")
        for value in changes(body):
            names, messages, statuses = items(value)
            for m in messages:
                ex("BEGIN IMMEDIATE")
                _store(ex, m, names, time.time())
                ex("COMMIT")
            for s in statuses:
                ex("BEGIN IMMEDIATE")
                _ack(ex, s, time.time())
                ex("COMMIT")
        return web.Response(text="ok")

    async def per_delivery(request: web.Request) -> web.Response:
        body = await request.read()
        if not signed(body, request.headers.get("X-Hub-Signature-256", "")):
            return web.Response(status=401, text="bad signature")
        now = time.time()
        ex("BEGIN IMMEDIATE")
        for value in changes(body):
            names, messages, statuses = items(value)
            for m in messages:
                _store(ex, m, names, now)
            for s in statuses:
                _ack(ex, s, now)
        ex("COMMIT")
        return web.Response(text="ok")

    app = web.Application(client_max_size=4 << 20)
    app.router.add_post(PATH, per_message)
    app.router.add_post(PATH + "/batched", per_delivery)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _reply({"ready": True, "pid": os.getpid(), "port": port})
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "stop":
            break
        if cmd["cmd"] == "seed":  # outbound messages with these wamids, as zing's outbox left them ('sent')
            now = time.time()
            ex("BEGIN IMMEDIATE")
            for wamid, number in cmd["out"]:
                cid = ex("SELECT id FROM contacts WHERE tenant_id = 1 AND number = ?", (number,)).fetchone()[0]
                tid = ex("SELECT id FROM tickets WHERE connection_id = 1 AND contact_id = ? AND status IN "
                         "('pending', 'open')", (cid,)).fetchone()[0]
                ex("INSERT INTO messages (tenant_id, ticket_id, connection_id, contact_id, wa_id, direction, type, "
                   "body, ack, created_at, updated_at) VALUES (1,?,1,?,?,'out','text','Olá!','sent',?,?)",
                   (tid, cid, wamid, now, now))
            ex("COMMIT")
            _reply({"seeded": len(cmd["out"])})
    await runner.cleanup()
    base.close()


def _reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class BaselineServer(Child):
    """The raw receiver's process (``Child``'s stdin/stdout protocol)."""

    @classmethod
    async def launch(cls, db: Path, secret: str, synchronous: str, log: Path) -> tuple[BaselineServer, dict]:
        args = [sys.executable, "-m", "bench.cloud", "--baseline-child", "--db", str(db), "--secret", secret,
                "--synchronous", synchronous]
        with open(log, "ab") as err:
            proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                                        stdout=asyncio.subprocess.PIPE, stderr=err,
                                                        cwd=Path(__file__).resolve().parent.parent, limit=1 << 26)
        server = cls(proc)
        return server, await server.read(60)

    async def seed(self, out: list[tuple[str, str]]) -> None:
        await self.send({"cmd": "seed", "out": out})
        await self.read(120)


# ===================================================================================
# the workload: Meta-shaped signed bodies
# ===================================================================================
class Bodies:
    """Signed webhook bodies for FakeGraph's number (``tests/channels/cloud/webhooks.py`` shapes)."""

    def __init__(self, g, n_customers: int, seed: int = 11) -> None:
        from tests.channels.cloud import webhooks as W
        from zingd.channels.cloud.payloads import digits

        self.W, self.g = W, g
        self.display = digits(g.display_phone)
        self.rng = random.Random(seed)
        self.n_customers = n_customers
        self.numbers = [customer_number(k) for k in range(n_customers)]
        self.names = [f"Cliente {k}" for k in range(n_customers)]
        self.text_seed = seed

    def _signed(self, value: dict[str, Any], secret: str | None) -> tuple[bytes, dict[str, str]]:
        env = self.W.envelope(("messages", value), waba_id=self.g.waba_id)
        body = json.dumps(env, ensure_ascii=False).encode()
        return body, {"Content-Type": "application/json", "User-Agent": "facebookexternalua",
                      "X-Hub-Signature-256": self.g.sign(body, secret)}

    def messages(self, groups: list[list[int]], secret: str | None = None) -> list[tuple[bytes, dict[str, str]]]:
        """One delivery per group of customers: one text each (fresh wamids)."""
        self.text_seed += 1
        texts = iter(bodies(sum(map(len, groups)), seed=self.text_seed))
        W, out = self.W, []
        for group in groups:
            msgs = [W.text(next(texts), sender=self.numbers[k]) for k in group]
            contacts = [W.contact(self.numbers[k], self.names[k]) for k in group]
            out.append(self._signed(W.value(*msgs, contacts=contacts, phone_number_id=self.g.phone_number_id,
                                            display_phone=self.display), secret))
        return out

    def ongoing(self, n_deliveries: int, k: int, secret: str | None = None) -> list[tuple[bytes, dict[str, str]]]:
        """Deliveries of k messages from k distinct customers of the pool, picked at random."""
        return self.messages([self.rng.sample(range(self.n_customers), k) for _ in range(n_deliveries)], secret)

    def first(self, k: int) -> list[tuple[bytes, dict[str, str]]]:
        """Every customer's first message, k per delivery."""
        order = list(range(self.n_customers))
        self.rng.shuffle(order)
        return self.messages([order[i:i + k] for i in range(0, len(order), k)])

    def statuses(self, sent: list[dict[str, Any]], state: str, k: int) -> list[tuple[bytes, dict[str, str]]]:
        """Statuses of messages the number sent (FakeGraph's records), k per delivery."""
        out = []
        for i in range(0, len(sent), k):
            items = [self.g.statuses(s["wamid"], state, s["to"], ours=s["json"].get("biz_opaque_callback_data"))
                     ["statuses"][0] for s in sent[i:i + k]]
            out.append(self._signed(self.W.value(statuses=items, phone_number_id=self.g.phone_number_id,
                                                 display_phone=self.display), None))
        return out


def messages_in(items: list[tuple[bytes, dict[str, str]]]) -> int:
    return sum(body.count(b'"type": "text"') for body, _ in items)


# ===================================================================================
# the client (this process)
# ===================================================================================
async def post_all(session, url: str, items: list[tuple[bytes, dict[str, str]]], inflight: int) -> dict[str, Any]:
    """POST every body, ``inflight`` at a time; per-delivery POST sent → answer read."""
    n = len(items)
    lat = [0.0] * n
    codes: Counter[int] = Counter()
    it = iter(range(n))
    pc = time.perf_counter

    async def worker() -> None:
        for i in it:
            body, headers = items[i]
            t = pc()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                codes[resp.status] += 1
            lat[i] = pc() - t

    cpu0 = thread_cpu(os.getpid())
    t0 = time.time()
    await asyncio.gather(*(worker() for _ in range(min(inflight, n))))
    t1 = time.time()
    return {"t0": t0, "t1": t1, "lat": lat, "codes": dict(codes),
            "client_cpu": round(sum(cpu_delta(cpu0, thread_cpu(os.getpid())).values()), 2)}


def ro_count(db: Path, sql: str, args: tuple = ()) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


async def until_count(db: Path, sql: str, args: tuple, want: int, timeout: float = 60.0) -> int:
    """Poll a read-only count until it reaches ``want`` (a condition, not a fixed wait)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await asyncio.to_thread(ro_count, db, sql, args)
        if got >= want or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.02)


class Sides:
    """Both receivers, their databases and the bookkeeping of what each should hold."""

    def __init__(self, session, inflight: int, z, zurl: str, zdb: Path, cloud_id: int, sub, base_url: str,
                 base_db: Path) -> None:
        self.session, self.inflight = session, inflight
        self.z, self.zurl, self.zdb, self.cloud_id, self.sub = z, zurl, zdb, cloud_id, sub
        self.base_url, self.base_db = base_url, base_db
        self.z_in = self.base_in = 0

    def _result(self, name: str, res: dict[str, Any], n_msgs: int, end: float, stored: int, want: int,
                ok_code: int = 200) -> dict[str, Any]:
        res["lat_s"] = summary(res.pop("lat"))
        wall = end - res["t0"]
        res.update(name=name, n=n_msgs, wall=wall, rate=n_msgs / wall if wall > 0 else float("nan"),
                   stored=stored, want=want, complete=stored == want and set(res["codes"]) == {ok_code})
        return res

    def writes(self) -> dict[str, int]:
        """zingd's writer counters (daemon.status, as the operator): units of work and group commits."""
        with self.z.client() as c:
            return c.call("daemon.status")["writes"]

    async def zing(self, name: str, items, expect: int = 200, inflight: int | None = None) -> dict[str, Any]:
        n = messages_in(items)
        start = len(self.sub.arrivals)
        w0 = await asyncio.to_thread(self.writes)
        cpu0 = thread_cpu(self.z.proc.pid)
        res = await post_all(self.session, self.zurl, items, inflight or self.inflight)
        got_all = await self.sub.until(start + n, 60) if expect == 200 else True
        res["cpu"] = cpu_delta(cpu0, thread_cpu(self.z.proc.pid))
        w1 = await asyncio.to_thread(self.writes)
        res["units"], res["commits"] = w1["units"] - w0["units"], w1["commits"] - w0["commits"]
        arrivals = self.sub.arrivals[start:start + n]
        end = max([res["t1"], *(a[0] for a in arrivals)])
        if expect == 200:
            self.z_in += n
        stored = await until_count(self.zdb, "SELECT count(*) FROM messages WHERE connection_id = ? AND "
                                   "direction = 'in'", (self.cloud_id,), self.z_in, 30 if got_all else 1)
        out = self._result(name, res, len(items) if expect != 200 else n, end if expect == 200 else res["t1"],
                           stored, self.z_in, expect)
        progress(f"zing {name}: {out['rate']:,.0f}/s, p50 {ms(out['lat_s']['p50'])} p99 {ms(out['lat_s']['p99'])}, "
                 f"codes {out['codes']}, stored {stored}/{self.z_in}, {res['units']} units in "
                 f"{res['commits']} commits, zingd cpu s {res['cpu']}, client cpu s {res['client_cpu']}")
        return out

    async def base(self, name: str, items, batched: bool = False, expect: int = 200,
                   n_items: int | None = None, inflight: int | None = None) -> dict[str, Any]:
        """``n_items``: what the rate counts when the bodies carry no messages (statuses)."""
        n = messages_in(items)
        url = self.base_url + ("/batched" if batched else "")
        res = await post_all(self.session, url, items, inflight or self.inflight)
        if expect == 200:
            self.base_in += n
        stored = await asyncio.to_thread(ro_count, self.base_db, "SELECT count(*) FROM messages WHERE direction = 'in'")
        count = n_items if n_items is not None else n if expect == 200 else len(items)
        out = self._result(name, res, count, res["t1"], stored, self.base_in, expect)
        progress(f"baseline {name}: {out['rate']:,.0f}/s, p50 {ms(out['lat_s']['p50'])} "
                 f"p99 {ms(out['lat_s']['p99'])}, codes {out['codes']}, client cpu s {res['client_cpu']}")
        return out


# ===================================================================================
# orchestration
# ===================================================================================
def free_port() -> int:
    from tests.integration.template_desk import free_port as fp

    return fp()


def start_zingd(root: Path, port: int, synchronous: str, g) -> tuple[Any, int]:
    """A real zingd with HTTP on, an admin linked to this OS user, one cloud number on FakeGraph."""
    from tests.helpers import Zingd

    env = {"ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port), "ZING_LOG_LEVEL": "WARNING",
           "ZING_DATABASE__SYNCHRONOUS": synchronous,
           # the statuses phase sends N replies first: no outbox rate limit in the way
           "ZING_OUTBOX__RATE_PER_CONNECTION": "1000000", "ZING_OUTBOX__BURST": "1000000"}
    z = Zingd(root, env=env).start(60)
    with z.client() as c:
        c.call("auth.bootstrap", {"email": "boss@acme.test", "password": "boss-pass1", "tenant": "Acme"})
        cloud = c.call("connection.create", {"name": "Cloud", "kind": "cloud", "cloud": g.cloud_params()})
        deadline = time.monotonic() + 30
        while c.call("connection.get", {"id": cloud["id"]})["status"] != "connected":
            if time.monotonic() > deadline:
                raise RuntimeError("the cloud number did not connect to FakeGraph")
            time.sleep(0.02)
    return z, cloud["id"]


def send_replies(z, cloud_id: int, n: int) -> tuple[float, int]:
    """An agent (the admin) answers the first n tickets of the cloud number: message.send, one each."""
    db = z.data_dir / "zing.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    tickets = [r[0] for r in conn.execute("SELECT id FROM tickets WHERE connection_id = ? AND status IN "
                                          "('pending', 'open') ORDER BY id LIMIT ?", (cloud_id, n))]
    conn.close()
    t0 = time.time()
    with z.client() as c:
        for tid in tickets:
            c.call("message.send", {"ticket_id": tid, "body": "Olá! Já vou ver o seu pedido."})
    return t0, len(tickets)


def send_trouble(z, cloud_id: int, g, got: int, want: int, waited: float) -> str:
    """Why the replies did not all reach ack 'sent': the number's state, the acks, the outbox, Graph's view."""
    db = z.data_dir / "zing.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        acks = dict(conn.execute("SELECT ack, count(*) FROM messages WHERE connection_id = ? AND direction = 'out' "
                                 "GROUP BY ack", (cloud_id,)).fetchall())
        outbox = conn.execute("SELECT count(*), max(attempts), max(last_error) FROM outbox WHERE connection_id = ?",
                              (cloud_id,)).fetchone()
    finally:
        conn.close()
    with z.client() as c:
        number = c.call("connection.get", {"id": cloud_id})
    paths = Counter(f"{r['method']} {r['path']}" for r in list(g.requests)[-50:])
    tail = " | ".join(z.log.read_text(errors="replace").strip().splitlines()[-5:]) if z.log.exists() else ""
    return (f"only {got}/{want} replies reached ack 'sent' within {waited:.0f} s: number {number.get('status')} "
            f"({number.get('status_reason') or number.get('reason') or ''}), out acks {acks}, outbox rows "
            f"{outbox[0]} (max attempts {outbox[1]}, last error {outbox[2]!r}), FakeGraph saw {len(g.sent)} sends "
            f"and {len(g.requests)} requests (last: {dict(paths)}); zingd log ends: {tail[-600:]}")


async def main_async(args: argparse.Namespace) -> None:
    import aiohttp

    from tests.channels.cloud.graph_fake import FakeGraph

    q = args.quick
    rounds = args.rounds or (2 if q else 3)
    n_customers = args.customers or (1000 if q else 5000)
    d1 = args.deliveries_k1 or (1500 if q else 6000)
    d20 = args.deliveries_k20 or (150 if q else 600)
    n_refused = args.refusals or (3000 if q else 10000)
    n_status = min(args.statuses or (500 if q else 2000), n_customers)
    n_one = 50 if q else 200  # K=20 deliveries one at a time (and 4x as many K=1)
    k = args.k
    report = Report("bench.cloud: inbound through the Cloud API webhook" + (" (--quick)" if q else ""))
    work = Path(tempfile.mkdtemp(prefix="zb-cloud-", dir=args.tmp))
    progress(f"work dir {work}")
    t_run = time.monotonic()
    z = server = sub = None
    stop_warning = None
    try:
        with FakeGraph() as g:
            port = free_port()
            progress(f"zingd (HTTP on {port}) with a cloud number on FakeGraph; raw receiver process")
            (z, cloud_id), (server, ready) = await asyncio.gather(
                asyncio.to_thread(start_zingd, work / "z", port, args.synchronous, g),
                BaselineServer.launch(work / "baseline.db", g.app_secret, args.synchronous, work / "baseline.log"))
            sub = await subscribe(z.socket)
            connector = aiohttp.TCPConnector(limit=args.inflight)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
                s = Sides(session, args.inflight, z, f"http://127.0.0.1:{port}{PATH}", z.data_dir / "zing.db",
                          cloud_id, sub, f"http://127.0.0.1:{ready['port']}{PATH}", work / "baseline.db")
                w = Bodies(g, n_customers)

                # -- every customer's first message (contact + ticket), k per delivery ------------
                first = w.first(k)
                base_new = await s.base(f"new conversations, {k} per delivery", first)
                new = await s.zing(f"new conversations, {k} per delivery", first)
                sent_by_bot = len(g.sent)

                # -- ongoing conversations, alternating rounds -----------------------------------
                runs: dict[str, list[dict[str, Any]]] = {"b1": [], "z1": [], "bk": [], "zk": [], "bb": []}
                for r in range(rounds):
                    items = w.ongoing(d1, 1)
                    runs["b1"].append(await s.base(f"K=1 round {r + 1}", items))
                    runs["z1"].append(await s.zing(f"K=1 round {r + 1}", items))
                    items = w.ongoing(d20, k)
                    runs["bk"].append(await s.base(f"K={k} round {r + 1}", items))
                    runs["zk"].append(await s.zing(f"K={k} round {r + 1}", items))
                    runs["bb"].append(await s.base(f"K={k} one transaction per delivery, round {r + 1}",
                                                   w.ongoing(d20, k), batched=True))
                best = {key: max(v, key=lambda x: x["rate"]) for key, v in runs.items()}

                # -- one delivery at a time: what a batch's latency is when nothing queues ----------
                one: dict[int, tuple[dict, dict]] = {}
                for kk, nd in ((1, n_one * 4), (k, n_one)):
                    items = w.ongoing(nd, kk)
                    b = await s.base(f"K={kk} one at a time", items, inflight=1)
                    one[kk] = (await s.zing(f"K={kk} one at a time", items, inflight=1), b)

                # -- refused: signed with another secret -----------------------------------------
                bad = w.ongoing(n_refused, k, secret="not-the-app-secret")
                base_bad = await s.base("refused (bad signature)", bad, expect=401)
                z_bad = await s.zing("refused (bad signature)", bad, expect=401)

                # -- statuses of sent messages -------------------------------------------------
                progress(f"statuses: the agent answers {n_status} customers (outbox -> FakeGraph)")
                g.sent.clear()
                t_send, n_sent = await asyncio.to_thread(send_replies, z, cloud_id, n_status)
                out_sql = ("SELECT count(*) FROM messages WHERE connection_id = ? AND direction = 'out' AND "
                           "ack = ? AND wa_id LIKE 'wamid.%'")
                got = await until_count(s.zdb, out_sql, (cloud_id, "sent"), n_sent, 120)
                send_wall = time.time() - t_send
                sent = list(g.sent)
                progress(f"{got}/{n_sent} sent through Graph in {send_wall:.1f} s")
                stat: dict[str, tuple[dict, dict]] = {}
                send_problem = None
                if got < n_sent or len(sent) < n_sent:
                    send_problem = await asyncio.to_thread(send_trouble, z, cloud_id, g, got, n_sent, send_wall)
                    progress(send_problem)
                    args.keep = True
                else:
                    await server.seed([(x["wamid"], x["to"]) for x in sent])
                for state, ks in (("delivered", 1), ("read", k)) if send_problem is None else ():
                    items = w.statuses(sent, state, ks)
                    b = await s.base(f"statuses '{state}', {ks} per delivery", items, n_items=len(sent))
                    w0 = await asyncio.to_thread(s.writes)
                    cpu0 = thread_cpu(z.proc.pid)
                    res = await post_all(session, s.zurl, items, args.inflight)
                    applied = await until_count(s.zdb, out_sql, (cloud_id, state), len(sent), 30)
                    t_applied = time.time()
                    res["cpu"] = cpu_delta(cpu0, thread_cpu(z.proc.pid))
                    w1 = await asyncio.to_thread(s.writes)
                    res["units"], res["commits"] = w1["units"] - w0["units"], w1["commits"] - w0["commits"]
                    zres = s._result(f"statuses '{state}'", res, len(sent), res["t1"], applied, len(sent))
                    zres["to_db"] = t_applied - res["t0"]
                    base_ok = await asyncio.to_thread(
                        ro_count, s.base_db, "SELECT count(*) FROM messages WHERE direction = 'out' AND ack = ?",
                        (state,))
                    b["complete"] = b["complete"] and base_ok == len(sent)
                    progress(f"zing statuses '{state}' x{ks}: {zres['rate']:,.0f}/s, applied {applied}/{len(sent)}, "
                             f"codes {zres['codes']}, zingd cpu s {res['cpu']}")
                    stat[state] = (zres, b)
                acks = sub.other.get("message.ack", 0)
            sub.transport.close()
            sub = None
            stop_warning = await asyncio.to_thread(stop_zingd, z)
            z = None
        await server.stop()
        server = None

        # -- the table -------------------------------------------------------------------
        def lat(res: dict[str, Any]) -> str:
            return f"{ms(res['lat_s']['p50'])} / {ms(res['lat_s']['p99'])}"

        z1, b1, zk, bk, bb = best["z1"], best["b1"], best["zk"], best["bk"], best["bb"]
        report.add(f"baseline: raw aiohttp + sqlite3, K=1 (best of {rounds})", rate(b1["rate"]))
        report.add(f"webhook K=1 ({args.inflight} deliveries in flight), messages", rate(z1["rate"]),
                   rate(b1["rate"]), z1["rate"] / b1["rate"])
        report.add("  delivery latency POST -> 200, p50 / p99", lat(z1), lat(b1))
        report.add(f"webhook K={k} (a batch of {k} customers each), messages", rate(zk["rate"]), rate(bk["rate"]),
                   zk["rate"] / bk["rate"], f">= {TARGET_RATIO_K20}x", zk["rate"] / bk["rate"] >= TARGET_RATIO_K20)
        report.add("  delivery latency POST -> 200, p50 / p99", lat(zk), lat(bk))
        report.add("  raw, one transaction per delivery (reference)", rate(zk["rate"]), rate(bb["rate"]),
                   zk["rate"] / bb["rate"])
        for kk in (1, k):
            zo, bo = one[kk]
            report.add(f"one delivery at a time, K={kk}: latency POST -> 200, p50 / p99", lat(zo), lat(bo),
                       zo["lat_s"]["p50"] / bo["lat_s"]["p50"])
        report.add(f"new conversations (contact + ticket), K={k}", rate(new["rate"]), rate(base_new["rate"]),
                   new["rate"] / base_new["rate"])
        report.add(f"refused deliveries (bad signature, K={k} bodies)", rate(z_bad["rate"]), rate(base_bad["rate"]),
                   z_bad["rate"] / base_bad["rate"], f">= {TARGET_REFUSED:,.0f}/s", z_bad["rate"] >= TARGET_REFUSED)
        report.add("  latency POST -> 401, p50 / p99", lat(z_bad), lat(base_bad))
        for state, ks in (("delivered", 1), ("read", k)) if stat else ():
            zs, bs = stat[state]
            report.add(f"statuses '{state}', {ks} per delivery, applied", rate(zs["rate"]), rate(bs["rate"]),
                       zs["rate"] / bs["rate"])
            report.add("  delivery latency POST -> 200, p50 / p99", lat(zs), lat(bs))
        report.add(f"outbound (setup): {n_sent} message.send -> Graph (fake) -> ack 'sent'", rate(got / send_wall))
        if send_problem:
            report.note(f"INCOMPLETE statuses: not measured, {send_problem}")

        def cpu(res: dict[str, Any]) -> str:
            n = res["n"]
            total = sum(res.get("cpu", {}).values())
            units = (f", {res['units']} units in {res['commits']} group commits "
                     f"(avg {res['units'] / max(1, res['commits']):.1f})") if res.get("commits") else ""
            return (f"zingd {total / n * 1e6:.0f} us CPU per item ({res['cpu']}){units}, client "
                    f"{res['client_cpu'] / n * 1e6:.0f} us")

        report.note(f"CPU, K=1 best run: {cpu(z1)}; K={k}: {cpu(zk)}; refused: {cpu(z_bad)}"
                    + (f"; statuses x1: {cpu(stat['delivered'][0])}" if stat else ""))
        report.note("rounds (zing / raw msg/s): K=1 " + ", ".join(
            f"{a['rate']:,.0f} / {b['rate']:,.0f}" for a, b in zip(runs["z1"], runs["b1"], strict=True))
            + f"; K={k} " + ", ".join(f"{a['rate']:,.0f} / {b['rate']:,.0f}"
                                       for a, b in zip(runs["zk"], runs["bk"], strict=True)))
        incomplete = [r for r in (new, base_new, *sum(runs.values(), []), *(x for pair in one.values() for x in pair),
                                  z_bad, base_bad,
                                  *(x for pair in stat.values() for x in pair)) if not r["complete"]]
        for r in incomplete:
            report.note(f"INCOMPLETE {r['name']}: codes {r['codes']}, stored {r['stored']}/{r['want']}")
        if sent_by_bot:
            report.note(f"zing sent {sent_by_bot} automatic replies during the first messages")
        report.note(f"{acks} message.ack events reached the subscriber (want {3 * n_sent}: sent, delivered, read)")
        if stop_warning:
            report.note(stop_warning)
        report.note(busy_note(args.busy))
        report.note(f"{n_customers} customers; K=1: {d1} deliveries a round, K={k}: {d20} deliveries "
                    f"({d20 * k} messages) a round; {rounds} rounds, best of each side; {n_refused} refused; "
                    f"{n_sent} sent messages' statuses; client: aiohttp, {args.inflight} in flight, in this process "
                    f"with FakeGraph and one events subscriber; synchronous={args.synchronous} on both sides; "
                    f"run took {time.monotonic() - t_run:.0f} s")
        report.print()
        figures = {
            "bench": "cloud", "quick": q, "inflight": args.inflight, "k": k,
            "k1_msgs_per_s": round(z1["rate"]), "k1_raw_msgs_per_s": round(b1["rate"]),
            "k1_ratio": round(z1["rate"] / b1["rate"], 3),
            "k1_p50_ms": round(z1["lat_s"]["p50"] * 1e3, 3), "k1_p99_ms": round(z1["lat_s"]["p99"] * 1e3, 3),
            "k20_msgs_per_s": round(zk["rate"]), "k20_raw_msgs_per_s": round(bk["rate"]),
            "k20_ratio": round(zk["rate"] / bk["rate"], 3),
            "k20_p50_ms": round(zk["lat_s"]["p50"] * 1e3, 3), "k20_p99_ms": round(zk["lat_s"]["p99"] * 1e3, 3),
            "k20_raw_batched_msgs_per_s": round(bb["rate"]),
            "one_k1_p50_ms": round(one[1][0]["lat_s"]["p50"] * 1e3, 3),
            "one_k1_raw_p50_ms": round(one[1][1]["lat_s"]["p50"] * 1e3, 3),
            f"one_k{k}_p50_ms": round(one[k][0]["lat_s"]["p50"] * 1e3, 3),
            f"one_k{k}_raw_p50_ms": round(one[k][1]["lat_s"]["p50"] * 1e3, 3),
            "new_msgs_per_s": round(new["rate"]), "new_raw_msgs_per_s": round(base_new["rate"]),
            "refused_per_s": round(z_bad["rate"]), "refused_raw_per_s": round(base_bad["rate"]),
            **({"statuses_x1_per_s": round(stat["delivered"][0]["rate"]),
                "statuses_x1_raw_per_s": round(stat["delivered"][1]["rate"]),
                f"statuses_x{k}_per_s": round(stat["read"][0]["rate"]),
                f"statuses_x{k}_raw_per_s": round(stat["read"][1]["rate"])} if stat else {}),
            "outbound_sends_per_s": round(got / send_wall),
            "pass_k20_ratio": zk["rate"] / bk["rate"] >= TARGET_RATIO_K20,
            "pass_refused": z_bad["rate"] >= TARGET_REFUSED, "complete": not incomplete and not send_problem,
            "busy_before": round(args.busy, 3),
        }
        print(json.dumps(figures), flush=True)
    finally:
        if sub is not None:
            sub.transport.close()
        if z is not None:
            z.kill()
        if server is not None:
            await server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cloud", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (< 60 s)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                   help="on a shared machine, wait up to S seconds for other processes to leave the CPUs idle")
    p.add_argument("--inflight", type=int, default=8, help="deliveries in flight (default 8)")
    p.add_argument("--k", type=int, default=20, help="messages per delivery in the batched runs (default 20)")
    p.add_argument("--customers", type=int, help="distinct customers (default 5000, quick 1000)")
    p.add_argument("--rounds", type=int, help="alternating baseline/zing rounds, best reported (default 3, quick 2)")
    p.add_argument("--deliveries-k1", type=int, help="K=1 deliveries per round (default 6000, quick 1500)")
    p.add_argument("--deliveries-k20", type=int, help="K=20 deliveries per round (default 600, quick 150)")
    p.add_argument("--refusals", type=int, help="bad-signature deliveries (default 10000, quick 3000)")
    p.add_argument("--statuses", type=int, help="sent messages whose statuses come in (default 2000, quick 500)")
    p.add_argument("--synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL", "EXTRA"],
                   help="SQLite synchronous for both sides (default FULL, zingd's default)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    p.add_argument("--tmp", default=None, help="where temporary data dirs go (default: system temp)")
    # internal: the raw receiver process
    p.add_argument("--baseline-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--secret", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    if args.baseline_child:
        run(_baseline_child(args))
        return 0
    args.busy = wait_quiet(args.wait_quiet)
    run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
