"""Sends that are sent once: an answer lost after the network took the message is
``unconfirmed``, never resent on its own; a receipt settles it, the agent may resend it;
a failure that means "not sent" is retried automatically (issue 12, item 7)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.helpers import Zingd, wait_for
from tests.integration.support import Raw, db_rows, journal_path, read_journal, settle
from zingctl.main import app as zingctl
from zingd.errors import Conflict

CUSTOMER = "5511988886666"
FAST = {"ZING_OUTBOX__BACKOFF_BASE_S": "0.05", "ZING_OUTBOX__BACKOFF_CAP_S": "0.2", "ZING_OUTBOX__MAX_ATTEMPTS": "50"}


def _ticket(c) -> dict:
    c.call("sim.say", {"from": CUSTOMER, "body": "hello?"})
    [contact] = [x for x in c.call("contact.list", {"limit": 500}) if x["number"] == CUSTOMER]
    [ticket] = c.call("ticket.list", {"contact_id": contact["id"]})["tickets"]
    return ticket


def _listed(c, ticket_id: int, message_id: int) -> dict:
    return {m["id"]: m for m in c.call("message.list", {"ticket_id": ticket_id})["messages"]}[message_id]


def _unconfirmed_send(z: Zingd, c, ticket: dict, body: str) -> dict:
    settle(z)
    lost = _zingctl(z, "sim", "fault", "--lose-answers", "1", "--json")
    assert json.loads(lost.stdout)["lose_answers"] == 1, lost.output
    sent = c.call("message.send", {"ticket_id": ticket["id"], "body": body})
    return wait_for(lambda: (m := _listed(c, ticket["id"], sent["id"]))["ack"] == "unconfirmed" and m, timeout=15)


@pytest.fixture
def z(tmp_path):
    z = Zingd(tmp_path, demo=True, env=FAST).start()
    yield z
    z.kill()


def test_a_lost_answer_is_unconfirmed_not_resent_and_a_receipt_settles_it(z):
    with Raw(z.socket) as r, z.client() as c:
        r.call("events.subscribe", {"topics": ["type:message.ack"]})
        ticket = _ticket(c)
        msg = _unconfirmed_send(z, c, ticket, "only once, please")
        assert "may not have arrived" in msg["error"], msg
        assert not db_rows(z, "SELECT 1 FROM outbox WHERE message_id = ?", (msg["id"],)), "not queued again"
        # the outbox moves on: a later message goes out and is read, the unconfirmed one is not resent
        later = c.call("message.send", {"ticket_id": ticket["id"], "body": "a later message"})
        wait_for(lambda: _listed(c, ticket["id"], later["id"])["ack"] == "read", timeout=15)
        assert _listed(c, ticket["id"], msg["id"])["ack"] == "unconfirmed"
        j = read_journal(journal_path(z))
        assert (j.outs[msg["wa_id"]], j.dups[msg["wa_id"]]) == (1, 0), "the network got it exactly once"
        r.read_available(quiet=0.2)
        acks = [e["data"]["ack"] for e in r.drain_events() if e["data"]["id"] == msg["id"]]
        assert acks == ["unconfirmed"], acks  # the console hears it live
        with pytest.raises(Conflict, match="resend"):  # a plain retry is refused: it may have arrived
            c.call("message.retry", {"id": msg["id"]})
        # the customer's phone comes online: the receipt proves it arrived
        released = _zingctl(z, "sim", "fault", "--release-receipts", "--json")
        assert json.loads(released.stdout)["released_receipts"] == 1, released.output
        wait_for(lambda: _listed(c, ticket["id"], msg["id"])["ack"] == "read", timeout=15)
        j = read_journal(journal_path(z))
        assert (j.outs[msg["wa_id"]], j.dups[msg["wa_id"]]) == (1, 0)
        assert c.call("daemon.status")["outbox"]["unconfirmed"] == 1


def _zingctl(z: Zingd, *args: str):
    return CliRunner().invoke(zingctl, ["--socket", str(z.socket), *args])


def test_the_agent_resends_an_unconfirmed_message_deliberately(z):
    with z.client() as c:
        ticket = _ticket(c)
        msg = _unconfirmed_send(z, c, ticket, "did you get this?")
        listed = json.loads(_zingctl(z, "messages", "list", str(ticket["id"]), "--json").stdout)
        assert [m["ack"] for m in listed if m["id"] == msg["id"]] == ["unconfirmed"]
        refused = _zingctl(z, "messages", "retry", str(msg["id"]))
        assert refused.exit_code == 1 and "resend" in refused.stderr + refused.stdout
        again = json.loads(_zingctl(z, "messages", "retry", str(msg["id"]), "--resend", "--json").stdout)
        assert (again["ack"], again["wa_id"]) == ("queued", msg["wa_id"])
        wait_for(lambda: _listed(c, ticket["id"], msg["id"])["ack"] == "sent", timeout=15)
        j = read_journal(journal_path(z))
        assert (j.outs[msg["wa_id"]], j.dups[msg["wa_id"]]) == (1, 1), "a second send, as the agent asked"
        [audit] = db_rows(z, "SELECT data FROM audit_log WHERE action = 'message.retry' AND target_id = ?",
                          (msg["id"],))
        assert json.loads(audit["data"]) == {"resend": True}


def test_a_not_sent_failure_is_retried_automatically_and_sent_once(z):
    with z.client() as c:
        ticket = _ticket(c)
        settle(z)
        c.call("sim.fault", {"send_failure_rate": 1.0})
        sent = c.call("message.send", {"ticket_id": ticket["id"], "body": "refused first"})
        wait_for(lambda: db_rows(z, "SELECT attempts FROM outbox WHERE message_id = ? AND attempts >= 2",
                                 (sent["id"],)), timeout=15)
        assert _listed(c, ticket["id"], sent["id"])["ack"] == "queued", "refused before it left: still due"
        c.call("sim.fault", {"send_failure_rate": 0.0})
        wait_for(lambda: _listed(c, ticket["id"], sent["id"])["ack"] == "read", timeout=15)
        j = read_journal(journal_path(z))
        assert (j.outs[sent["wa_id"]], j.dups[sent["wa_id"]]) == (1, 0)
