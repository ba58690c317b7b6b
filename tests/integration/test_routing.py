"""Routing: chatbot menu, business hours, auto-assignment, wallet, groups."""

import pytest

from tests.helpers import wait_for
from zingd.errors import Invalid


def test_menu_invalid_answers_repeat_then_default_queue(desk):
    desk.queue("Sales")
    support = desk.queue("Support")
    desk.admin.call("connection.update", {"id": desk.connection_id, "greeting": "Welcome!",
                                          "settings": {"menu_max_retries": 2, "default_queue_id": support}})
    desk.say("5511988880001", "hello")
    t = desk.ticket_of("5511988880001")
    assert desk.bot_texts(t["id"]) == ["Welcome!\n*1* - Sales\n*2* - Support"]
    desk.say("5511988880001", "9")
    assert "invalid option" in desk.bot_texts(t["id"])[-1]
    assert desk.admin.call("ticket.get", {"id": t["id"]})["queue_id"] is None
    desk.say("5511988880001", "what?")
    assert desk.admin.call("ticket.get", {"id": t["id"]})["queue_id"] == support


def test_nested_menu_and_queue_greeting(desk):
    sales = desk.queue("Sales", greeting="Sales here, {{first_name}}!")
    internet = desk.queue("Internet")
    menu = [{"label": "Buy", "queue_id": sales},
            {"label": "Help", "options": [{"label": "Internet", "queue_id": internet}]}]
    desk.admin.call("connection.update", {"id": desk.connection_id, "settings": {"menu": menu}})
    desk.say("5511988880002", "hi", name="Maria Silva")
    desk.say("5511988880002", "2")
    t = desk.ticket_of("5511988880002")
    assert desk.bot_texts(t["id"])[-1] == "*1* - Internet"
    desk.say("5511988880002", "1")
    assert desk.admin.call("ticket.get", {"id": t["id"]})["queue_name"] == "Internet"

    desk.say("5511988880003", "hi", name="João Souza")
    desk.say("5511988880003", "1")
    t2 = desk.ticket_of("5511988880003")
    assert desk.bot_texts(t2["id"])[-1] == "Sales here, João!"


def test_bad_menu_is_rejected(desk):
    with pytest.raises(Invalid, match="needs a queue_id or options"):
        desk.admin.call("connection.update", {"id": desk.connection_id, "settings": {"menu": [{"label": "x"}]}})


def test_single_queue_skips_the_menu(desk):
    only = desk.queue("Only", greeting="Hi from Only")
    desk.admin.call("connection.set_queues", {"id": desk.connection_id, "queue_ids": [only]})
    desk.queue("Other")
    desk.say("5511988880004", "hello")
    t = desk.ticket_of("5511988880004")
    assert t["queue_id"] == only
    assert desk.bot_texts(t["id"]) == ["Hi from Only"]


def test_out_of_hours_message_and_no_assignment(desk):
    desk.agent("ana", status="online")
    closed = {"timezone": "America/Sao_Paulo", "days": {}, "holidays": []}
    desk.queue("Night", members=["ana"], business_hours=closed, assign_mode="round_robin",
               out_of_hours_message="We are closed; back at 8.")
    desk.say("5511988880005", "anyone?")
    t = desk.admin.call("ticket.get", {"id": desk.ticket_of("5511988880005")["id"]})
    assert desk.bot_texts(t["id"]) == ["We are closed; back at 8."]
    assert t["user_id"] is None and t["status"] == "pending"
    queues = desk.admin.call("queue.list")
    assert queues[0]["open_now"] is False


@pytest.mark.parametrize("spec, message", [
    ({"days": {"mon": [["09:00", "08:00"]]}}, "ends before it starts"),
    ({"days": {"mon": [["08:00", "10:00"], ["09:00", "11:00"]]}}, "overlap"),
    ({"days": {"mon": [["8h", "10:00"]]}}, "HH:MM"),
    ({"days": {"xyz": []}}, "unknown day"),
    ({"timezone": "Mars/Base"}, "unknown time zone"),
    ({"days": {"mon": [["08:00", "09:00"]] * 3}}, "at most two"),
    ({"holidays": ["25/12/2026"]}, "YYYY-MM-DD"),
])
def test_bad_business_hours_say_what_to_fix(desk, spec, message):
    with pytest.raises(Invalid, match=message):
        desk.admin.call("queue.create", {"name": "Q", "business_hours": spec})


def test_round_robin_only_online_agents_under_their_limit(desk):
    desk.agent("ana", status="online")
    desk.agent("bia", status="online")
    desk.agent("caio")  # offline: never assigned
    desk.admin.call("user.update", {"id": desk.agent_ids["bia"], "max_tickets": 1})
    desk.queue("Sales", members=["ana", "bia", "caio"], assign_mode="round_robin")
    owners = []
    for n in range(4):
        number = f"55119777700{n:02d}"
        desk.say(number, "oi")
        owners.append(desk.ticket_of(number)["user_name"])
    assert owners == ["Ana", "Bia", "Ana", "Ana"]

    # caio comes online: the next waiting ticket is his; bia closing frees her slot
    desk.admin.call("user.update", {"id": desk.agent_ids["ana"], "max_tickets": 3})
    desk.say("5511977770010", "oi")
    waiting = desk.ticket_of("5511977770010")
    assert waiting["user_id"] is None
    desk.agents["caio"].call("user.set_status", {"status": "online"})
    assert desk.admin.call("ticket.get", {"id": waiting["id"]})["user_name"] == "Caio"


def test_balanced_picks_the_least_loaded(desk):
    desk.agent("ana", status="online")
    desk.agent("bia", status="online")
    q = desk.queue("Support", members=["ana", "bia"])
    for n in range(2):  # ana already carries two tickets
        desk.say(f"55119666600{n:02d}", "oi")
        t = desk.ticket_of(f"55119666600{n:02d}")
        desk.agents["ana"].call("ticket.accept", {"id": t["id"]})
    desk.admin.call("queue.update", {"id": q, "assign_mode": "balanced"})
    desk.say("5511966660099", "oi")
    assert desk.ticket_of("5511966660099")["user_name"] == "Bia"


def test_wallet_owner_gets_new_tickets_first(desk):
    desk.agent("ana")
    desk.queue("Sales")
    desk.queue("Support")
    desk.say("5511955550001", "first")
    contact = desk.admin.call("contact.list", {"query": "5511955550001"})[0]
    desk.admin.call("contact.update", {"id": contact["id"], "owner_user_id": desk.agent_ids["ana"]})
    t = desk.ticket_of("5511955550001")
    desk.admin.call("ticket.close", {"id": t["id"], "farewell": False})
    desk.say("5511955550001", "back again")
    again = desk.ticket_of("5511955550001")
    assert again["id"] != t["id"] and again["user_name"] == "Ana" and again["status"] == "open"
    assert desk.admin.call("contact.get", {"id": contact["id"]})["owner"]["name"] == "Ana"


def test_groups_route_or_ignore(desk):
    desk.say("5511944440001", "hi all", group="120363000000001")
    t = desk.ticket_of("120363000000001@g.us")
    msgs = desk.messages(t["id"])
    assert t["is_group"] == 1 and msgs[0]["participant"] == "5511944440001@s.whatsapp.net"

    desk.admin.call("connection.update", {"id": desk.connection_id, "settings": {"groups": "ignore"}})
    desk.say("5511944440001", "ignored", group="120363000000002")
    assert desk.admin.call("contact.list", {"query": "120363000000002"}) == []
    journal = desk.admin.call("sim.journal")
    assert journal["customer_sent"] == journal["acked"] == 2  # ignored, yet acknowledged: never redelivered


def test_lid_and_phone_are_one_contact(desk):
    desk.say("5511933330001", "from my phone id")
    desk.say("5511933330001", "from my hidden id", lid="987654321012345")
    contacts = desk.admin.call("contact.list", {"query": "5511933330001"})
    assert len(contacts) == 1
    ids = desk.admin.call("contact.get", {"id": contacts[0]["id"]})["ids"]
    assert ids == ["5511933330001@s.whatsapp.net", "987654321012345@lid"]
    t = desk.ticket_of("5511933330001")
    assert len(desk.messages(t["id"])) == 2


def test_queue_limit(desk):
    desk.admin.call("tenant.update", {"id": 1, "max_queues": 1})
    desk.queue("One")
    from zingd.errors import Conflict
    with pytest.raises(Conflict, match="raise max_queues"):
        desk.queue("Two")
    wait_for(lambda: True)
