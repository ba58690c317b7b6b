"""WhatsApp's own timestamps, backlog without automatic replies, calls and voice notes, through a real
zingd and the sim channel (``sim.say`` with ``ts``, ``call``, ``type: audio``)."""

from __future__ import annotations

import base64
import time

import pytest

from tests.helpers import wait_for
from zingd.channels.base import ADVICE
from zingd.errors import Invalid

HOUR = 3600.0


@pytest.fixture
def menu_desk(desk):
    """Two queues (so a live message gets the menu), a greeting, and queues closed all week."""
    closed = {"timezone": "America/Sao_Paulo", "days": {}, "holidays": []}
    desk.queue("Sales", greeting="Sales here!", business_hours=closed, out_of_hours_message="We are closed.")
    desk.queue("Support", greeting="Support here!", business_hours=closed, out_of_hours_message="We are closed.")
    desk.admin.call("connection.update", {"id": desk.connection_id, "greeting": "Welcome!"})
    return desk


def test_a_live_message_keeps_whatsapps_time_and_gets_the_menu(menu_desk):
    sent = time.time() - 30
    menu_desk.say("5511988870001", "oi", ts=sent)
    t = menu_desk.ticket_of("5511988870001")
    [msg] = [m for m in menu_desk.messages(t["id"]) if m["direction"] == "in"]
    assert msg["wa_ts"] == pytest.approx(sent) and msg["created_at"] > sent + 29
    assert msg["offline"] == 0
    assert menu_desk.bot_texts(t["id"]) == ["Welcome!\n*1* - Sales\n*2* - Support"]


def test_backlog_gets_no_menu_greeting_or_out_of_hours_reply(menu_desk):
    sent = time.time() - 2 * HOUR
    menu_desk.say("5511988870002", "oi, alguém aí?", ts=sent)
    menu_desk.say("5511988870002", "preciso de ajuda", ts=sent + 60)
    t = menu_desk.ticket_of("5511988870002")
    inbound = [m for m in menu_desk.messages(t["id"]) if m["direction"] == "in"]
    assert [(m["offline"], m["wa_ts"]) for m in inbound] == [(1, pytest.approx(sent)), (1, pytest.approx(sent + 60))]
    assert menu_desk.bot_texts(t["id"]) == []
    # Still a ticket in a queue (the first, no default set), marked in its history as backlog.
    ticket = menu_desk.admin.call("ticket.get", {"id": t["id"]})
    assert ticket["queue_id"] == menu_desk.queues["Sales"]
    history = menu_desk.admin.call("ticket.history", {"id": t["id"]})
    assert {"queue_id": menu_desk.queues["Sales"], "backlog": True} in [e["data"] for e in history
                                                                        if e["action"] == "queue"]
    # The customer's next live message is answered as usual (its queue is closed: out of hours).
    menu_desk.say("5511988870002", "hello?")
    assert menu_desk.admin.call("ticket.get", {"id": t["id"]})["queue_id"] == menu_desk.queues["Sales"]


def test_backlog_goes_to_the_default_queue(menu_desk):
    support = menu_desk.queues["Support"]
    menu_desk.admin.call("connection.update", {"id": menu_desk.connection_id,
                                               "settings": {"default_queue_id": support}})
    menu_desk.say("5511988870003", "oi", ts=time.time() - HOUR)
    t = menu_desk.ticket_of("5511988870003")
    assert menu_desk.admin.call("ticket.get", {"id": t["id"]})["queue_id"] == support
    assert menu_desk.bot_texts(t["id"]) == []


def test_backlog_age_is_configurable(tmp_path):
    from tests.integration.desk import make_desk

    desk = make_desk(tmp_path, env={"ZING_TICKETS__BACKLOG_AGE_S": "5"})
    try:
        desk.queue("Sales")
        desk.queue("Support")
        desk.say("5511988870004", "oi", ts=time.time() - 60)  # a minute: live by default, backlog here
        t = desk.ticket_of("5511988870004")
        assert [m["offline"] for m in desk.messages(t["id"])] == [1]
        assert desk.bot_texts(t["id"]) == []
    finally:
        desk.close()
        desk.z.kill()


def test_a_call_is_a_line_in_the_ticket_with_the_configured_reply(desk):
    desk.say("5511988870005", "", call="voice")
    t = desk.ticket_of("5511988870005")
    [line] = desk.messages(t["id"])
    assert (line["type"], line["body"], line["direction"]) == ("system", "📞 missed voice call", "in")
    assert desk.bot_texts(t["id"]) == []  # no reply configured, and a call is no menu answer

    desk.admin.call("connection.update", {"id": desk.connection_id,
                                          "settings": {"call_reply": "We can't take calls, please write."}})
    desk.say("5511988870005", "", call="video")
    bodies = [m["body"] for m in desk.messages(t["id"])]
    assert "📹 missed video call" in bodies
    assert desk.bot_texts(t["id"]) == ["We can't take calls, please write."]

    desk.say("5511988870005", "", call="voice", ts=time.time() - HOUR)  # an old call: no reply hours late
    assert desk.bot_texts(t["id"]) == ["We can't take calls, please write."]


def test_call_reply_is_bounded(desk):
    with pytest.raises(Invalid, match="call_reply"):
        desk.admin.call("connection.update", {"id": desk.connection_id, "settings": {"call_reply": "x" * 5000}})


def test_a_voice_note_keeps_its_length_and_waveform(desk):
    desk.say("5511988870006", "", type="audio", seconds=42)
    t = desk.ticket_of("5511988870006")
    [note] = desk.messages(t["id"])
    assert (note["type"], note["media_seconds"]) == ("audio", 42)
    levels = base64.b64decode(note["media_waveform"])
    assert len(levels) == 64 and max(levels) <= 100
    assert note["media_path"].endswith(".ogg")


def test_sim_say_refuses_a_future_timestamp(desk):
    with pytest.raises(Invalid, match="ts"):
        desk.say("5511988870007", "hi", ts=time.time() + HOUR)


def test_zingctl_sets_the_call_reply_and_lists_a_banned_numbers_advice(desk, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from zingctl.main import app

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("ZING_TOKEN", raising=False)

    def zingctl(*args: str) -> str:
        result = CliRunner().invoke(app, ["--socket", str(desk.z.socket), *args])
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    zingctl("connections", "update", str(desk.connection_id), "--call-reply", "Só por escrito, por favor.")
    settings = desk.admin.call("connection.get", {"id": desk.connection_id})["settings"]
    assert settings["call_reply"] == "Só por escrito, por favor."
    zingctl("connections", "update", str(desk.connection_id), "--call-reply", "")
    assert "call_reply" not in desk.admin.call("connection.get", {"id": desk.connection_id})["settings"]

    assert desk.admin.call("connection.get", {"id": desk.connection_id})["advice"] == ""
    desk.admin.call("sim.fault", {"ban_s": 30})
    [listed] = desk.admin.call("connection.list")
    assert (listed["status"], listed["advice"]) == ("banned", ADVICE["banned"])
    assert '"advice": "WhatsApp banned the number' in zingctl("connections", "list", "--json")


def test_a_whatsapp_connection_reports_its_sync_progress_and_advice(desk):
    c = desk.admin.call("connection.create", {"name": "Real", "kind": "whatsapp"})
    desk.admin.call("connection.pair", {"id": c["id"]})  # offline: it starts, and can't reach WhatsApp
    health = wait_for(lambda: (h := desk.admin.call("connection.get", {"id": c["id"]})["health"]) and "sync" in h
                      and h)  # once its client is made
    assert health["sync"] == {"state": "idle", "total": 0, "done": 0, "history_chunks": 0, "history_percent": 0}
    assert desk.admin.call("connection.logout", {"id": c["id"]})["advice"] == \
        f"pair again: zingctl connections pair {c['id']}"
