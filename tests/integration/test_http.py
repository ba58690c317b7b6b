"""The optional HTTP side: health, metrics, the token API, signed webhooks; plus
message.send_to and backup/restore."""

import asyncio
import hashlib
import hmac
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from aiohttp import web

from tests.helpers import wait_for
from tests.integration.desk import make_desk
from zingd.errors import Conflict, Invalid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as e:
        raw, status = e.read().decode(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


class Receiver:
    """A local webhook receiver that fails the first ``fail_first`` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.port = free_port()
        self.hits: list[tuple[dict, dict]] = []
        self.fail_first = fail_first
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def hook(request: web.Request) -> web.Response:
            body = await request.read()
            if self.fail_first > 0:
                self.fail_first -= 1
                return web.Response(status=500)
            self.hits.append((dict(request.headers), {"raw": body, **json.loads(body)}))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()


@pytest.fixture
def desk(tmp_path):
    port = free_port()
    d = make_desk(tmp_path, env={"ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port)})
    d.base = f"http://127.0.0.1:{port}"
    yield d
    d.close()
    d.z.kill()


def test_health_metrics_and_token_api(desk):
    status, health = http("GET", f"{desk.base}/health")
    assert status == 200 and health["status"] == "ok" and health["connections"][0]["state"] == "connected"
    desk.say("5511960000001", "oi")
    status, metrics = http("GET", f"{desk.base}/metrics")
    assert status == 200 and "zing_inbound_messages_total 1.0" in metrics and 'zing_connection_up{connection="1"} 1.0' in metrics
    assert "# HELP zing_inbound_parked " in metrics

    token = desk.admin.call("token.create", {"name": "crm", "role": "agent"})["token"]
    status, out = http("POST", f"{desk.base}/api/v1/ticket.list", {"status": "pending"}, token)
    assert status == 200 and out["result"]["tickets"][0]["contact_number"] == "5511960000001"
    assert http("POST", f"{desk.base}/api/v1/ticket.list", {})[0] == 401
    assert http("POST", f"{desk.base}/api/v1/ticket.list", {}, "za_wrong")[0] == 401
    assert http("POST", f"{desk.base}/api/v1/user.create", {"email": "x@y.z", "password": "12345678"}, token)[0] == 403
    assert http("POST", f"{desk.base}/api/v1/ticket.get", {"id": 999}, token)[0] == 404
    assert http("POST", f"{desk.base}/api/v1/ticket.get", {"id": "x"}, token)[0] == 422
    assert http("POST", f"{desk.base}/api/v1/events.subscribe", {}, token)[0] == 404
    assert http("POST", f"{desk.base}/api/v1/nope.nope", {}, token)[0] == 404


def test_api_sends_to_a_number_paced_by_the_governor(desk):
    token = desk.admin.call("token.create", {"name": "erp"})["token"]
    status, out = http("POST", f"{desk.base}/api/v1/message.send_to",
                       {"number": "+55 (11) 96000-0002", "body": "Seu pedido saiu, {{first_name}}"}, token)
    assert status == 200 and out["result"]["automated"] == 1
    t = desk.ticket_of("5511960000002")
    assert t["status"] == "open" and t["user_name"] == "boss"
    status, out = http("POST", f"{desk.base}/api/v1/message.send_to", {"number": "123", "body": "x"}, token)
    assert status == 422 and out["error"]["data"]["field"] == "number"
    # a person at the console is not paced
    msg = desk.admin.call("message.send_to", {"number": "5511960000003", "body": "Oi!"})
    assert msg["automated"] == 0


def test_webhooks_are_signed_ordered_and_retried(desk):
    rx = Receiver(fail_first=1)
    hook = desk.admin.call("webhook.create", {"url": f"http://127.0.0.1:{rx.port}/hook",
                                              "event_types": ["message.created", "ticket.created"]})
    secret = hook["secret"]
    assert "secret" not in desk.admin.call("webhook.list")[0]
    desk.say("5511960000010", "primeira")
    desk.say("5511960000010", "segunda")
    wait_for(lambda: len(rx.hits) >= 3, timeout=20)
    types = [body["type"] for _, body in rx.hits]
    assert types == ["ticket.created", "message.created", "message.created"]
    seqs = [body["seq"] for _, body in rx.hits]
    assert seqs == sorted(seqs)
    headers, body = rx.hits[0]
    expected = "sha256=" + hmac.new(secret.encode(), headers["X-Zing-Timestamp"].encode() + b"." + body["raw"],
                                    hashlib.sha256).hexdigest()
    assert headers["X-Zing-Signature"] == expected and headers["X-Zing-Event"] == "ticket.created"
    assert body["data"]["message"]["body"] if body["type"] == "message.created" else body["data"]["ticket"]["id"]
    with pytest.raises(Invalid):
        desk.admin.call("webhook.create", {"url": "ftp://x"})


def test_webhook_gives_up_on_a_refused_event_and_moves_on(desk):
    port = free_port()  # nothing listens there: connection refused on every attempt
    hook = desk.admin.call("webhook.create", {"url": f"http://127.0.0.1:{port}/", "event_types": ["ticket.created"]})
    desk.admin.call("webhook.enable", {"id": hook["id"], "enabled": False})
    assert desk.admin.call("webhook.list")[0]["enabled"] == 0
    desk.admin.call("webhook.delete", {"id": hook["id"]})
    assert desk.admin.call("webhook.list") == []


def test_backup_and_restore(tmp_path):
    d = make_desk(tmp_path / "a")
    try:
        d.say("5511960000020", "guarde isto")
        out = d.admin.call("daemon.backup", {"name": "backup.db"})
        target = d.z.data_dir / "backups" / "backup.db"
        assert out["bytes"] > 0 and out["path"] == str(target) and target.exists()
        with pytest.raises(Conflict):
            d.admin.call("daemon.backup", {"name": "backup.db"})
        d.say("5511960000021", "depois do backup")
        # a running daemon refuses to be restored under
        cmd = [sys.executable, "-m", "zingd", "--data-dir", str(d.z.data_dir), "--restore", str(target)]
        busy = subprocess.run(cmd, capture_output=True, text=True, env=d.z.env)
        assert busy.returncode == 1 and "stop it" in busy.stderr
        d.close()
        d.z.stop()
        done = subprocess.run(cmd, capture_output=True, text=True, env=d.z.env)
        assert done.returncode == 0, done.stderr
        db = sqlite3.connect(d.z.data_dir / "zing.db")
        numbers = {r[0] for r in db.execute("SELECT number FROM contacts")}
        assert numbers == {"5511960000020"}
        bad = tmp_path / "bad.db"
        bad.write_text("not sqlite")
        refused = subprocess.run([*cmd[:-1], str(bad)], capture_output=True, text=True, env=d.z.env)
        assert refused.returncode == 1 and "restore failed" in refused.stderr
    finally:
        d.z.kill()


def test_metrics_time_inbound_outbox_and_rpc_and_count_waiting_tickets_with_no_tenant_label(desk):
    """After some traffic: every latency histogram has observations; the waiting-tickets gauges
    are daemon-wide (no series names a tenant) and read on the pending-list index."""
    from prometheus_client.parser import text_string_to_metric_families

    from tests.integration.support import db_ro
    from zingd.metrics import WAITING

    desk.say("5511960000031", "oi")
    desk.say("5511960000032", "olá")
    answered = desk.ticket_of("5511960000031")
    desk.admin.call("message.send", {"ticket_id": answered["id"], "body": "em que posso ajudar?"})
    wait_for(lambda: desk.messages(answered["id"])[-1]["ack"] != "queued")  # handed to the channel
    status, text = http("GET", f"{desk.base}/metrics")
    assert status == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("zing_inbound_commit_seconds_count", ())] >= 2
    assert samples[("zing_outbox_queue_seconds_count", ())] >= 1
    assert samples[("zing_rpc_seconds_count", (("method", "message.send"),))] == 1
    assert samples[("zing_tickets_pending", ())] == 1  # the other customer's ticket
    assert 0 < samples[("zing_tickets_pending_oldest_seconds", ())] < 60
    assert not [key for key in samples if "tenant" in key[0] or any("tenant" in k for k, _ in key[1])]
    conn = db_ro(desk.z)
    try:
        plan = [row["detail"] for row in conn.execute("EXPLAIN QUERY PLAN " + WAITING)]
    finally:
        conn.close()
    assert "SEARCH k USING COVERING INDEX ix_tickets_queue_list (tenant_id=? AND status=?)" in plan, plan


def test_bodies_that_are_no_params_get_clear_errors_not_500(desk):
    """A body too large, not UTF-8, not JSON or not an object: a JSON error with its kind."""
    token = desk.admin.call("token.create", {"name": "crm"})["token"]

    def post(body: bytes) -> tuple[int, dict]:
        req = urllib.request.Request(f"{desk.base}/api/v1/rpc.hello", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    status, out = post(b"[" + b"1," * (1 << 20) + b"1]")
    assert status == 413 and out["error"]["data"] == {"kind": "frame_too_large", "limit": 1 << 20}, out
    for body, code, kind in ((b'{"x": "\xff"}', 400, "parse_error"), (b'{"x": ', 400, "parse_error"),
                             (b"[1]", 422, "invalid_params"), (b'"x"', 422, "invalid_params")):
        status, out = post(body)
        assert (status, out["error"]["data"]["kind"]) == (code, kind), (body, status, out)
    assert post(b"")[0] == post(b"null")[0] == 200
