"""A cloud number's secrets (access token, app secret, verify token) stay in zingd's database, through
a real zingd logging at DEBUG and the fake Graph server: a walk that creates, reads, rotates every
secret, restarts, has the token refused by Meta, logs out and makes bad requests finds none of them in
any answer or error, the audit log, the events, the HTTP endpoint, the daemon's log or any other file
of its data dir; the audit names what changed, never a value."""

from __future__ import annotations

import json

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import Zingd, bootstrap, wait_for
from tests.integration.support import db_rows
from tests.integration.test_http import free_port, http
from zingd.errors import ZingError

NEW = {"access_token": "EAAGrotated-token-77aa11", "app_secret": "rotated-app-secret-88bb22",
       "verify_token": "rotated-verify-99cc33"}
BAD = "EAAG secret with spaces 1234"


@pytest.fixture(scope="module")
def g():
    with FakeGraph() as server:
        yield server


@pytest.fixture(scope="module")
def walked(tmp_path_factory, g):
    """A zingd whose cloud number went through every admin action; what it answered, on the side."""
    port = free_port()
    z = Zingd(tmp_path_factory.mktemp("cloud-secrets"), env={
        "ZING_LOG_LEVEL": "DEBUG", "ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port)}).start()
    answers: list = []
    try:
        with z.client(bootstrap(z)) as c:
            def call(method: str, params: dict | None = None):
                answers.append(result := c.call(method, params))
                return result

            cid = call("connection.create", {"name": "Secret", "kind": "cloud", "cloud": g.cloud_params()})["id"]
            wait_for(lambda: call("connection.get", {"id": cid})["status"] == "connected")
            call("connection.list")
            g.token = NEW["access_token"]  # Meta's new token: the old one is refused from now on
            for key, value in NEW.items():
                call("connection.update", {"id": cid, "cloud": {key: value}})
            wait_for(lambda: call("connection.get", {"id": cid})["status"] == "connected")
            hook = f"http://127.0.0.1:{port}/webhooks/whatsapp"  # Meta's calls, with the rotated secrets
            assert g.verify(hook, token=NEW["verify_token"], challenge="42") == (200, "42")
            assert g.verify(hook, token=g.verify_token)[0] == 403
            status = g.statuses(g.new_wamid(), "delivered", "5511900000001")
            assert g.post_webhook(hook, g.envelope(status), secret=NEW["app_secret"])[0] == 200
            assert g.post_webhook(hook, g.envelope(status), secret=g.app_secret)[0] == 401
            g.token_valid = False  # Meta refuses every token: logged_out, with Meta's words logged
            call("connection.restart", {"id": cid})
            wait_for(lambda: call("connection.get", {"id": cid})["status"] == "logged_out")
            g.token_valid = True
            for params in ({"id": cid, "cloud": {"access_token": BAD}},
                           {"id": cid, "cloud": {"base_url": f"http://{NEW['app_secret']}.example.com"}}):
                with pytest.raises(ZingError) as e:
                    c.call("connection.update", params)
                answers.append({"error": str(e.value), "details": e.value.details})
            with pytest.raises(ZingError) as e:
                c.call("connection.create", {"name": "Twice", "kind": "cloud", "cloud": g.cloud_params(
                    access_token=NEW["access_token"], app_secret=NEW["app_secret"])})
            answers.append({"error": str(e.value), "details": e.value.details})
            call("connection.restart", {"id": cid})
            wait_for(lambda: call("connection.get", {"id": cid})["status"] == "connected")
            answers.append(http("GET", f"http://127.0.0.1:{port}/health"))
            call("connection.logout", {"id": cid})
            audit = call("audit.list", {"limit": 500})
            events = db_rows(z, "SELECT type, data FROM events")
    finally:
        z.stop()
    secrets = {g.app_secret, g.verify_token, "EAAGfake-token-0001", *NEW.values(), BAD}
    yield {"z": z, "answers": answers, "audit": audit, "events": events, "secrets": secrets, "cid": cid}


def _leaks(text: str, secrets: set[str]) -> list[str]:
    return [s for s in secrets if s in text]


def test_no_answer_or_error_carries_a_secret(walked):
    text = json.dumps(walked["answers"], ensure_ascii=False)
    assert not _leaks(text, walked["secrets"])
    assert "…" + NEW["access_token"][-4:] in text  # the hints are there, so the walk did show the account


def test_the_audit_names_what_changed_never_a_value(walked):
    assert not _leaks(json.dumps(walked["audit"], ensure_ascii=False), walked["secrets"])
    updates = [a["data"] for a in walked["audit"] if a["action"] == "connection.update"
               and a["target_id"] == walked["cid"]]
    assert [u.get("cloud") for u in updates if u.get("cloud")] == [["access_token"], ["app_secret"], ["verify_token"]]
    assert any(a["action"] == "connection.create" for a in walked["audit"])


def test_no_event_carries_a_secret(walked):
    assert any(e["type"] == "connection.updated" for e in walked["events"])
    assert not _leaks(json.dumps(walked["events"], ensure_ascii=False), walked["secrets"])


def test_no_log_line_nor_file_beside_the_database_carries_a_secret(walked):
    z = walked["z"]
    log = z.log.read_text(errors="replace")
    assert "DEBUG" in log or "debug" in log.lower()  # it did log at DEBUG
    assert not _leaks(log, walked["secrets"])
    for path in z.data_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("zing.db"):
            assert not _leaks(path.read_bytes().decode("latin-1"), walked["secrets"]), path
