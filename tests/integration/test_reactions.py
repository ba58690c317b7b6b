"""message.react through a real zingd: on a sim number queued and sent like any message, one reaction per
message, not an answer, and only where the agent may act; on a cloud number (FakeGraph) it reaches Meta inside
the 24-hour window only; `zingctl messages react`."""

from __future__ import annotations

import importlib

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import wait_for
from tests.integration.support import journal_path, read_journal
from tests.integration.template_desk import cloud_desk
from zingd.errors import ZingError

CUSTOMER = "5511988887777"


def _refused(call, kind: str) -> str:
    with pytest.raises(ZingError) as e:
        call()
    assert e.value.kind == kind, e.value
    return e.value.message


def _customer_message(desk, body: str = "chegou quebrado") -> tuple[dict, dict]:
    desk.say(CUSTOMER, body)
    ticket = wait_for(lambda: desk.ticket_of(CUSTOMER))
    [msg] = [m for m in desk.messages(ticket["id"]) if m["direction"] == "in" and m["body"] == body]
    return ticket, msg


def _sent_reactions(desk) -> list[dict]:
    journal = read_journal(journal_path(desk.z, desk.connection_id))
    return [r for r in journal.out_recs.values() if r["type"] == "reaction"]


def test_a_reaction_goes_out_once_replaces_and_comes_off(desk):
    ana = desk.agent("ana")
    ticket, msg = _customer_message(desk)
    before = desk.admin.call("ticket.get", {"id": ticket["id"]})

    liked = ana.call("message.react", {"message_id": msg["id"], "emoji": "👍"})
    assert liked["type"] == "reaction" and liked["reaction_to"] == msg["id"] and liked["body"] == "👍"
    assert liked["direction"] == "out" and liked["ack"] == "queued" and liked["user_id"] == desk.agent_ids["ana"]
    wait_for(lambda: [r["body"] for r in _sent_reactions(desk)] == ["👍"])
    wait_for(lambda: desk.admin.call("message.list", {"ticket_id": ticket["id"]})["messages"][-1]["ack"] != "queued")

    after = desk.admin.call("ticket.get", {"id": ticket["id"]})  # a reaction is not an answer
    assert after["status"] == "pending" and after["user_id"] is None
    assert after["first_response_at"] is None and after["unread"] == before["unread"]
    assert after["last_message"] == before["last_message"]

    again = ana.call("message.react", {"message_id": msg["id"], "emoji": "👍"})
    assert again["id"] == liked["id"]  # the standing reaction: nothing new goes
    loved = ana.call("message.react", {"message_id": msg["id"], "emoji": "❤️"})
    assert loved["id"] != liked["id"] and loved["body"] == "❤️"
    off = ana.call("message.react", {"message_id": msg["id"], "emoji": ""})
    assert off["body"] == "" and off["reaction_to"] == msg["id"]
    wait_for(lambda: [r["body"] for r in _sent_reactions(desk)] == ["👍", "❤️", ""])
    assert ana.call("message.react", {"message_id": msg["id"], "emoji": ""})["id"] == off["id"]
    desk.say(CUSTOMER, "e agora?")
    newer = wait_for(lambda: [m for m in desk.messages(ticket["id"]) if m["body"] == "e agora?"])[0]
    assert "no reaction to take off" in _refused(
        lambda: ana.call("message.react", {"message_id": newer["id"], "emoji": ""}), "conflict")

    entries = desk.admin.call("audit.list", {"action": "message.react"})
    assert len(entries) == 3 and {e["data"]["reaction_to"] for e in entries} == {msg["id"]}


def test_reacting_to_zings_own_message_and_to_what_cannot_take_one(desk):
    ana = desk.agent("ana")
    ticket, msg = _customer_message(desk)
    ana.call("ticket.accept", {"id": ticket["id"]})
    answer = ana.call("message.send", {"ticket_id": ticket["id"], "body": "vou verificar"})
    wait_for(lambda: next(m for m in desk.messages(ticket["id"]) if m["id"] == answer["id"])["ack"] != "queued")
    own = ana.call("message.react", {"message_id": answer["id"], "emoji": "🙏"})
    assert own["reaction_to"] == answer["id"]

    for emoji in ("ok", "👍👍", "👍 ", "🏽", "x" * 40):
        if emoji.strip() != "👍":
            assert "one emoji" in _refused(
                lambda e=emoji: ana.call("message.react", {"message_id": msg["id"], "emoji": e}), "invalid")
    assert "nothing to react to" in _refused(
        lambda: ana.call("message.react", {"message_id": own["id"], "emoji": "👍"}), "conflict")
    _refused(lambda: ana.call("message.react", {"message_id": 999999, "emoji": "👍"}), "not_found")

    bruno = desk.agent("bruno")  # Ana's open ticket is not his to see
    _refused(lambda: bruno.call("message.react", {"message_id": msg["id"], "emoji": "👍"}), "not_found")

    ana.call("ticket.close", {"id": ticket["id"], "farewell": False})
    assert "closed" in _refused(lambda: ana.call("message.react", {"message_id": msg["id"], "emoji": "👍"}),
                                "conflict")


def test_a_reaction_waits_for_the_message_it_names_and_shows_in_the_conversation(desk):
    ana = desk.agent("ana")
    ticket, msg = _customer_message(desk)
    reacted = ana.call("message.react", {"message_id": msg["id"], "emoji": "😂"})
    page = desk.admin.call("message.list", {"ticket_id": ticket["id"]})["messages"]
    assert [m["id"] for m in page if m["reaction_to"] == msg["id"]] == [reacted["id"]]
    wait_for(lambda: _sent_reactions(desk))
    journal = read_journal(journal_path(desk.z, desk.connection_id))
    [sent] = _sent_reactions(desk)
    assert sent["id"] == reacted["wa_id"] and sent["to"].startswith(CUSTOMER) and journal.outs[reacted["wa_id"]] == 1


def test_on_a_cloud_number_a_reaction_reaches_meta_inside_the_window_only(tmp_path):
    with FakeGraph() as g:
        cd = cloud_desk(tmp_path, g)
        try:
            number = "5511987650003"
            ticket = cd.writes(number, "chegou!")
            [msg] = [m for m in cd.d.messages(ticket["id"]) if m["body"] == "chegou!"]
            cd.admin.call("message.react", {"message_id": msg["id"], "emoji": "👍"})
            [out] = g.wait_sent(1)
            assert out["json"]["type"] == "reaction"
            assert out["json"]["reaction"] == {"message_id": msg["wa_id"], "emoji": "👍"}

            cd.age(number, 25)
            message = _refused(lambda: cd.admin.call("message.react", {"message_id": msg["id"], "emoji": "❤️"}),
                               "conflict")
            assert "24-hour window" in message and len(g.sent) == 1  # nothing queued
        finally:
            cd.close()


def test_zingctl_messages_react(desk, tmp_path, monkeypatch):
    from tests.cli.conftest import Cli

    importlib.import_module("zingctl.reactions")  # registers `messages react`, as zingctl/main.py does

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("ZING_TOKEN", raising=False)
    ticket, msg = _customer_message(desk)
    cli = Cli(desk.z.socket)
    cli("login", "--email", "boss@acme.test", "--password-stdin", input="boss-pass1\n")
    out = cli.json("messages", "react", str(msg["id"]), "🙏")
    assert out["type"] == "reaction" and out["reaction_to"] == msg["id"] and out["body"] == "🙏"
    assert "reaction taken off" in cli("messages", "react", str(msg["id"]), "--remove").stdout
    assert "one EMOJI, or --remove" in cli("messages", "react", str(msg["id"]), code=2).stderr
