"""The Cloud API's webhook through a real zingd (HTTP on) and FakeGraph: Meta's handshake, signatures
checked before anything is read, every entry and change of a batch stored, replays changing nothing,
and one tenant's app secret unable to deliver into another tenant's number."""

from __future__ import annotations

import hashlib
import hmac
import json

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.channels.cloud import webhooks as W
from tests.helpers import wait_for
from tests.integration.support import db_rows, login
from tests.integration.template_desk import cd, g  # noqa: F401 - cd, g: fixtures
from zingd.channels.cloud import webhook
from zingd.channels.cloud.account import CloudAccount


def stored(cd, table: str = "messages") -> int:
    return db_rows(cd.d.z, f"SELECT count(*) AS n FROM {table} WHERE connection_id = ?", (cd.cloud_id,))[0]["n"]


def bodies(cd) -> list[str]:
    return [r["body"] for r in db_rows(cd.d.z, "SELECT body FROM messages WHERE connection_id = ? ORDER BY id",
                                       (cd.cloud_id,))]


def test_the_handshake_answers_only_a_known_verify_token(cd, g):
    assert g.verify(cd.url) == (200, "1158201444")
    assert g.verify(cd.url, challenge="987654321") == (200, "987654321")
    assert g.verify(cd.url, token="someone-elses")[0] == 403
    assert g.verify(cd.url, mode="unsubscribe")[0] == 403
    assert g.verify(cd.url, token="")[0] == 403


def test_no_signature_or_a_wrong_one_is_refused_before_anything_is_read(cd, g):
    body = W.envelope(("messages", W.value(W.text("forged", sender="5511900000001"))))
    assert g.post_webhook(cd.url, body, signature="")[0] == 401
    assert g.post_webhook(cd.url, body, secret="not-the-app-secret")[0] == 401
    assert g.post_webhook(cd.url, body, signature="sha256=" + "0" * 64)[0] == 401
    assert g.post_webhook(cd.url, body, signature="sha1=abc")[0] == 401
    # signed over other bytes than the ones sent: the signature is of the raw body, not of its JSON
    raw = json.dumps(body).encode()
    assert g.post_webhook(cd.url, body, raw=raw + b" ", signature=g.sign(raw))[0] == 401
    assert stored(cd) == 0
    assert g.post_webhook(cd.url, b"", raw=b"{not json")[0] == 400  # signed, then unreadable: 400
    log = cd.d.z.log.read_text()
    assert "webhook from 127.0.0.1 refused" in log and g.app_secret not in log


def test_every_entry_and_change_of_a_batch_is_stored(cd, g):
    a, b, c, d = (W.text(f"m{i}", sender=f"55119000000{i}") for i in range(1, 5))
    first = W.entry(("messages", W.value(a)), ("messages", W.value(b)))
    second = W.entry(("messages", W.value(c, d)), ("calls", {"calls": []}))  # a field zing doesn't read: skipped
    status, text = g.post_webhook(cd.url, W.envelope(entries=[first, second]))
    assert (status, text) == (200, "ok")
    assert sorted(bodies(cd)) == ["m1", "m2", "m3", "m4"]
    assert len(db_rows(cd.d.z, "SELECT id FROM tickets WHERE connection_id = ?", (cd.cloud_id,))) == 4


def test_a_replayed_delivery_changes_nothing(cd, g):
    body = W.envelope(("messages", W.value(W.text("uma vez", sender="5511900000009"))))
    assert g.post_webhook(cd.url, body)[0] == 200
    ticket = wait_for(lambda: cd.ticket("5511900000009"))
    seq = db_rows(cd.d.z, "SELECT max(seq) AS seq FROM events")[0]["seq"]
    for _ in range(3):
        assert g.post_webhook(cd.url, body) == (200, "ok")
    assert bodies(cd) == ["uma vez"]
    assert cd.ticket("5511900000009")["unread"] == ticket["unread"] == 1
    assert db_rows(cd.d.z, "SELECT count(*) AS n FROM events WHERE seq > ?", (seq,))[0]["n"] == 0


def test_a_change_for_an_unknown_number_is_skipped(cd, g):
    body = W.envelope(("messages", W.value(W.text("para outro", sender="5511900000010"),
                                           phone_number_id="1099999999999")),
                      ("messages", W.value(W.text("para nós", sender="5511900000011"))))
    assert g.post_webhook(cd.url, body) == (200, "ok")
    assert bodies(cd) == ["para nós"]


def test_one_tenants_secret_cannot_deliver_into_another_tenants_number(cd, g):
    """Bravo's number is on the same Meta app server but has its own secret: Acme's secret naming
    Bravo's phone-number id stores nothing there; Bravo's own does."""
    bravo = cd.admin.call("tenant.create", {"name": "Bravo"})["id"]
    cd.admin.call("user.create", {"email": "boss@bravo.test", "password": "bravo-pass1", "role": "admin",
                                  "name": "Bravo Boss", "tenant_id": bravo})
    b_admin = login(cd.d.z, "boss@bravo.test", "bravo-pass1")
    g.add_number("1090000000777", "+55 21 4000-0777", "2090000000777")
    params = g.cloud_params(phone_number_id="1090000000777", business_account_id="2090000000777",
                            app_secret="bravo-app-secret-0777", verify_token="bravo-verify-0777")
    conn = b_admin.call("connection.create", {"name": "Bravo Cloud", "kind": "cloud", "cloud": params})
    wait_for(lambda: b_admin.call("connection.get", {"id": conn["id"]})["status"] == "connected", timeout=20)

    into_bravo = W.envelope(("messages", W.value(W.text("invasão", sender="5521900000001"),
                                                 phone_number_id="1090000000777")), waba_id="2090000000777")
    assert g.post_webhook(cd.url, into_bravo) == (200, "ok")  # signed with Acme's secret: a valid delivery...
    count = "SELECT count(*) AS n FROM messages WHERE connection_id = ?"
    assert db_rows(cd.d.z, count, (conn["id"],))[0]["n"] == 0  # ...that reaches nothing of Bravo's
    assert stored(cd) == 0
    assert g.post_webhook(cd.url, into_bravo, secret="bravo-app-secret-0777") == (200, "ok")
    assert [r["body"] for r in db_rows(cd.d.z, "SELECT body, tenant_id FROM messages WHERE connection_id = ?",
                                       (conn["id"],))] == ["invasão"]
    # and Bravo's secret can't write into Acme's number
    into_acme = W.envelope(("messages", W.value(W.text("de fora", sender="5511900000020"))))
    assert g.post_webhook(cd.url, into_acme, secret="bravo-app-secret-0777") == (200, "ok")
    assert stored(cd) == 0
    assert g.verify(cd.url, token="bravo-verify-0777")[0] == 200  # either tenant's URL check passes
    b_admin.close()


class Broken:
    """A running cloud number whose store refuses one field's changes (a full disk, say)."""

    kind = "cloud"

    def __init__(self, connection_id: int, account: CloudAccount, fails: str) -> None:
        self.connection_id, self.account, self.fails, self.seen = connection_id, account, fails, []

    async def on_change(self, field: str, value: dict) -> None:
        if field == self.fails:
            raise OSError(28, "No space left on device")
        self.seen.append(field)

    def health(self) -> dict:
        return {}


class Registry:
    def __init__(self, *numbers: Broken) -> None:
        self.numbers = {n.connection_id: n for n in numbers}

    def ids(self) -> list[int]:
        return list(self.numbers)

    def get(self, cid: int) -> Broken | None:
        return self.numbers.get(cid)


async def test_a_change_that_fails_answers_500_and_the_rest_is_still_handled(caplog):
    """The route alone (no daemon: the failure is injected): Meta gets a 500 and delivers the whole
    body again later; the changes that could be stored were, and the log names the one that failed."""
    account = CloudAccount("1090000000001", W.WABA_ID, "EAAG-token", "app-secret-1", "verify-1")
    number = Broken(7, account, fails="message_template_status_update")
    app = web.Application()
    app.add_routes(webhook.routes(Registry(number)))
    body = json.dumps(W.envelope(("messages", W.value(W.text("oi"))),
                                 ("message_template_status_update", W.template_status("1", "t", "pt_BR", "PAUSED")),
                                 ("messages", W.value(W.text("de novo"))))).encode()
    signature = "sha256=" + hmac.new(b"app-secret-1", body, hashlib.sha256).hexdigest()
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(webhook.PATH, data=body, headers={"X-Hub-Signature-256": signature})
        assert (resp.status, await resp.text()) == (500, "1 changes failed")
        resp = await client.post(webhook.PATH, data=b"x" * (webhook.BODY_LIMIT + 1),
                                 headers={"X-Hub-Signature-256": signature})
        assert resp.status == 413
    assert number.seen == ["messages", "messages"]
    assert "the message_template_status_update change for connection 7 failed" in caplog.text
