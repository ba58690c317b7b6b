"""The desk as a team lives in it: presence follows the consoles, groups are quiet and named after
themselves, the rating survey keeps to its answers."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import wait_for
from tests.integration.desk import make_desk

ZINGTUI = Path(sys.executable).with_name("zingtui")
GRACE = "0.3"


@pytest.fixture
def desk(tmp_path):
    """A desk whose users go offline 0.3 s after their last connection closes."""
    d = make_desk(tmp_path, env={"ZING_RPC__PRESENCE_GRACE_S": GRACE})
    yield d
    d.close()
    d.z.kill()


def _console(desk, tmp_path, email: str) -> subprocess.Popen:
    """A real zingtui on a pseudo-terminal, logged in as ``email`` (its screen kept in console.out)."""
    master, slave = pty.openpty()
    env = {**os.environ, "ZING_SOCKET": str(desk.z.socket), "ZING_PASSWORD": "secret-pw", "TERM": "xterm-256color",
           "XDG_CONFIG_HOME": str(tmp_path / "console-config"), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("ZING_TOKEN", None)
    proc = subprocess.Popen([str(ZINGTUI), "--email", email], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)

    def drain() -> None:
        with open(tmp_path / "console.out", "ab") as screen:
            try:
                while chunk := os.read(master, 65536):
                    screen.write(chunk)
            except OSError:
                pass
            finally:
                os.close(master)

    threading.Thread(target=drain, daemon=True).start()
    return proc


def _status(desk, name: str) -> str:
    return desk.admin.call("user.get", {"id": desk.agent_ids[name]})["status"]


def test_a_killed_console_takes_its_agent_out_of_auto_assignment(desk, tmp_path):
    ana = desk.agent("ana")
    ana.close()  # ana works only through her console
    del desk.agents["ana"]
    bia = desk.agent("bia", status="online")
    desk.queue("Sales", members=["ana", "bia"], assign_mode="round_robin")
    desk.admin.call("user.update", {"id": desk.agent_ids["bia"], "max_tickets": 1})
    bia.call("events.subscribe", {"topics": ["tenant"]})

    console = _console(desk, tmp_path, "ana@acme.test")
    try:
        wait_for(lambda: _status(desk, "ana") == "online", timeout=30)  # the console set her online
        desk.say("5511970000001", "oi")
        desk.say("5511970000002", "oi")
        owners = {desk.ticket_of(n)["user_name"] for n in ("5511970000001", "5511970000002")}
        assert owners == {"Ana", "Bia"}  # round robin: one each; bia is now full
        os.killpg(console.pid, signal.SIGKILL)
        console.wait(10)
    finally:
        if console.poll() is None:
            os.killpg(console.pid, signal.SIGKILL)
            console.wait(10)

    wait_for(lambda: _status(desk, "ana") == "offline")
    desk.say("5511970000003", "oi")
    waiting = desk.ticket_of("5511970000003")
    assert waiting["user_id"] is None and waiting["status"] == "pending"  # nobody online with room
    # the other consoles heard it
    wait_for(lambda: bia.call("rpc.hello") and any(
        e["type"] == "user.updated" and e["data"]["user"] == {"id": desk.agent_ids["ana"], "name": "Ana",
                                                              "status": "offline"} for e in bia.events))
    assert desk.admin.call("audit.list", {"action": "user.presence_lost"})[0]["target_id"] == desk.agent_ids["ana"]


def test_an_agent_stays_online_while_another_connection_of_theirs_is_open(desk):
    desk.agent("ana", status="online")  # this connection stays open
    desk.queue("Sales", members=["ana"], assign_mode="round_robin")
    script = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom zingd.rpc.client import SyncClient\n"
         "c = SyncClient(sys.argv[1])\nc.call('auth.login', {'email': 'ana@acme.test', 'password': 'secret-pw'})\n"
         "c.call('user.set_status', {'status': 'online'})\nprint('ready', flush=True)\ntime.sleep(600)\n",
         str(desk.z.socket)], stdout=subprocess.PIPE, text=True)
    try:
        assert script.stdout.readline() == "ready\n"
        sessions = desk.admin.call("daemon.status")["sessions"]
        script.kill()
        script.wait(10)
    finally:
        if script.poll() is None:
            script.kill()
    wait_for(lambda: desk.admin.call("daemon.status")["sessions"] < sessions)
    # ana's other connection keeps her: the customer still reaches her
    desk.say("5511970000010", "oi")
    assert desk.ticket_of("5511970000010")["user_name"] == "Ana"

    desk.agents.pop("ana").close()  # her last connection goes: now she leaves
    wait_for(lambda: _status(desk, "ana") == "offline")


def test_users_a_stopped_daemon_left_online_go_offline_unless_they_come_back(tmp_path):
    desk = make_desk(tmp_path, env={"ZING_RPC__PRESENCE_GRACE_S": "3"})  # time for a console to log in again
    desk.agent("ana", status="online")
    desk.agent("bia", status="online")
    for c in desk.agents.values():
        c.close()
    desk.agents.clear()
    desk.z.kill()  # no goodbye from anyone
    desk.admin.close()
    desk.z.start()
    desk.admin = desk.z.client()
    back = desk.z.client()
    back.call("auth.login", {"email": "bia@acme.test", "password": "secret-pw"})  # bia's console reconnects
    desk.agents["bia"] = back
    try:
        wait_for(lambda: _status(desk, "ana") == "offline")
        assert _status(desk, "bia") == "online"
    finally:
        desk.close()
        desk.z.kill()


GROUP = "120363000000077"


def test_a_group_gets_no_chatbot_and_is_named_after_itself(desk):
    desk.admin.call("connection.update", {"id": desk.connection_id, "greeting": "Bem-vindo! Escolha:"})
    sales = desk.queue("Sales", greeting="Sales here", out_of_hours_message="Closed now",
                       business_hours={"timezone": "UTC", "days": {}})
    desk.queue("Support")
    desk.say("5511944440001", "oi pessoal", name="Carla", group=GROUP, group_name="Loja Centro")
    desk.say("5511944440002", "alguém viu o pedido?", name="Diego", group=GROUP, group_name="Loja Centro")
    desk.say("5511944440003", "SAIR", name="Eva", group=GROUP, group_name="Loja Centro")
    t = desk.ticket_of(f"{GROUP}@g.us")
    assert desk.bot_texts(t["id"]) == []  # no menu, greeting, out-of-hours note, "invalid option" or opt-out
    assert (t["contact_push_name"], t["queue_id"], t["status"]) == ("Loja Centro", sales, "pending")
    assert [m["participant"] for m in desk.messages(t["id"])] == [
        f"551194444000{n}@s.whatsapp.net" for n in (1, 2, 3)]
    assert desk.admin.call("contact.get", {"id": t["contact_id"]})["opted_out"] == 0

    # a number may ask for the chatbot in groups
    desk.admin.call("connection.update", {"id": desk.connection_id, "settings": {"groups": "chatbot"}})
    desk.say("5511944440001", "oi", name="Carla", group="120363000000078", group_name="Loja Sul")
    other = desk.ticket_of("120363000000078@g.us")
    assert desk.bot_texts(other["id"]) == ["Bem-vindo! Escolha:\n*1* - Sales\n*2* - Support"]
    assert other["contact_push_name"] == "Loja Sul"


def _closed_with_survey(desk, number: str) -> dict:
    desk.admin.call("tenant.update_settings", {"rating": True, "rating_prompt": "Nota de 1 a 5?",
                                               "rating_thanks": "Valeu!"})
    desk.queue("Sales")
    desk.queue("Support")
    desk.say(number, "oi")
    t = desk.ticket_of(number)
    desk.admin.call("ticket.close", {"id": t["id"]})
    assert desk.bot_texts(t["id"])[-1] == "Nota de 1 a 5?"
    return t


def _tickets(desk, contact_id: int) -> list[dict]:
    return desk.admin.call("ticket.list", {"contact_id": contact_id})["tickets"]


def test_the_survey_asks_again_once_on_a_wrong_answer_without_opening_a_ticket(desk):
    t = _closed_with_survey(desk, "5511960000001")
    desk.say("5511960000001", "7")
    assert desk.bot_texts(t["id"])[-2:] == ["Nota de 1 a 5?", "Nota de 1 a 5?"]  # asked again
    assert [x["id"] for x in _tickets(desk, t["contact_id"])] == [t["id"]]  # no ticket, no menu
    desk.say("5511960000001", "4")
    rated = desk.admin.call("ticket.get", {"id": t["id"]})
    assert (rated["rating"], rated["status"]) == (4, "closed")
    assert desk.bot_texts(t["id"])[-1] == "Valeu!"
    assert [m["body"] for m in desk.messages(t["id"]) if m["direction"] == "in"][-2:] == ["7", "4"]
    assert len(_tickets(desk, t["contact_id"])) == 1


def test_the_survey_lets_go_after_asking_again(desk):
    t = _closed_with_survey(desk, "5511960000002")
    desk.say("5511960000002", "obrigado!")
    desk.say("5511960000002", "na verdade tenho outra dúvida")
    old = desk.admin.call("ticket.get", {"id": t["id"]})
    assert old["rating"] is None and desk.bot_texts(t["id"]).count("Nota de 1 a 5?") == 2
    [new, _] = _tickets(desk, t["contact_id"])
    assert new["id"] != t["id"] and new["status"] == "pending"
    assert desk.bot_texts(new["id"]) == ["*1* - Sales\n*2* - Support"]  # a new conversation, as any other
    desk.say("5511960000002", "2")  # the survey is over: a digit now answers the menu
    assert desk.admin.call("ticket.get", {"id": new["id"]})["queue_name"] == "Support"
    assert desk.admin.call("ticket.get", {"id": t["id"]})["rating"] is None


def test_an_opt_out_during_the_survey_is_an_opt_out(desk):
    t = _closed_with_survey(desk, "5511960000003")
    desk.say("5511960000003", "SAIR")
    assert desk.admin.call("contact.get", {"id": t["contact_id"]})["opted_out"] == 1
    assert desk.admin.call("ticket.get", {"id": t["id"]})["chatbot_state"] == {}
