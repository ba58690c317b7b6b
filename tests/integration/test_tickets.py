"""Tickets and conversations: accept races, transfer, close with farewell and rating,
reopen rules, auto-close, notes, tags, quick replies, signature, history, search."""

import threading

import pytest

from tests.helpers import wait_for
from tests.integration.desk import make_desk
from zingd.errors import Conflict, Forbidden, Invalid, NotFound


@pytest.fixture
def desk(tmp_path):
    d = make_desk(tmp_path, env={"ZING_TICKETS__REOPEN_WINDOW_MINUTES": "0"})
    d.agent("ana")
    d.agent("bia")
    d.queue("Support", members=["ana", "bia"])  # one queue: no menu
    yield d
    d.close()
    d.z.kill()


def test_two_agents_accept_at_once_exactly_one_wins(desk):
    for round_ in range(5):
        number = f"55118000000{round_:02d}"
        desk.say(number, "help")
        tid = desk.ticket_of(number)["id"]
        results = {}

        def accept(name):
            try:
                results[name] = desk.z.client(token=None)
                c = results[name]
                c.call("auth.login", {"email": f"{name}@acme.test", "password": "secret-pw"})
                results[name] = c.call("ticket.accept", {"id": tid})["user_name"]
            except NotFound as e:  # the loser: the ticket is a colleague's now, so not in its view
                results[name] = e
        threads = [threading.Thread(target=accept, args=(n,)) for n in ("ana", "bia")]
        [t.start() for t in threads]
        [t.join() for t in threads]
        wins = [v for v in results.values() if isinstance(v, str)]
        losses = [v for v in results.values() if isinstance(v, NotFound)]
        assert len(wins) == 1 and len(losses) == 1
        assert "someone else took it" in losses[0].message and wins[0] not in losses[0].message


def test_agent_cannot_touch_a_colleagues_ticket(desk):
    desk.say("5511800000100", "help")
    tid = desk.ticket_of("5511800000100")["id"]
    desk.agents["ana"].call("ticket.accept", {"id": tid})
    for method, params in [("ticket.close", {"id": tid}), ("message.send", {"ticket_id": tid, "body": "x"}),
                           ("ticket.get", {"id": tid})]:
        with pytest.raises(NotFound):  # an agent doesn't even see another agent's open ticket
            desk.agents["bia"].call(method, params)
    with pytest.raises(Conflict, match="already closed|not pending"):
        desk.agents["ana"].call("ticket.accept", {"id": tid})


def test_transfer_with_message_and_history(desk):
    desk.say("5511800000200", "help")
    tid = desk.ticket_of("5511800000200")["id"]
    desk.agents["ana"].call("ticket.accept", {"id": tid})
    out = desk.agents["ana"].call("ticket.transfer", {"id": tid, "user_id": desk.agent_ids["bia"],
                                                      "message": "Passing you to {{queue}}, {{name}}"})
    assert out["user_name"] == "Bia" and out["status"] == "open"
    assert desk.messages(tid)[-1]["body"].startswith("Passing you to Support")
    back = desk.agents["bia"].call("ticket.transfer", {"id": tid, "queue_id": desk.queues["Support"]})
    assert back["status"] == "pending" and back["user_id"] is None
    actions = [h["action"] for h in desk.admin.call("ticket.history", {"id": tid})]
    assert actions == ["queue", "accept", "transfer", "transfer"]
    with pytest.raises(Invalid):
        desk.admin.call("ticket.transfer", {"id": tid})
    with pytest.raises(NotFound):
        desk.admin.call("ticket.transfer", {"id": tid, "user_id": 999})


def test_close_with_farewell_and_rating_does_not_open_a_ticket(desk):
    desk.admin.call("connection.update", {"id": desk.connection_id, "farewell": "Bye {{first_name}}, protocol {{protocol}}"})
    desk.admin.call("tenant.settings", {"rating": True, "rating_thanks": "Thanks!"})
    desk.say("5511800000300", "help", name="Rita Lee")
    tid = desk.ticket_of("5511800000300")["id"]
    desk.agents["ana"].call("ticket.accept", {"id": tid})
    closed = desk.agents["ana"].call("ticket.close", {"id": tid})
    assert closed["status"] == "closed"
    bodies = [m["body"] for m in desk.messages(tid)[-2:]]
    assert bodies[0].startswith("Bye Rita, protocol ") and "1 to 5" in bodies[1]
    desk.say("5511800000300", " 5 ")
    rated = desk.admin.call("ticket.get", {"id": tid})
    assert rated["rating"] == 5 and rated["status"] == "closed"
    assert desk.messages(tid)[-1]["body"] == "Thanks!"
    assert len(desk.admin.call("ticket.list", {"contact_id": rated["contact_id"]})["tickets"]) == 1
    desk.say("5511800000300", "new question")
    tickets = desk.admin.call("ticket.list", {"contact_id": rated["contact_id"]})["tickets"]
    assert len(tickets) == 2 and tickets[0]["status"] == "pending"
    with pytest.raises(Conflict, match="already closed"):
        desk.agents["ana"].call("ticket.close", {"id": tid})
    with pytest.raises(Conflict, match="already has ticket"):
        desk.admin.call("ticket.reopen", {"id": tid})


def test_reopen_window(tmp_path):
    d = make_desk(tmp_path, env={"ZING_TICKETS__REOPEN_WINDOW_MINUTES": "30"})
    try:
        d.say("5511800000400", "help")
        t = d.ticket_of("5511800000400")
        d.admin.call("ticket.accept", {"id": t["id"]})
        d.admin.call("ticket.close", {"id": t["id"], "farewell": False})
        d.say("5511800000400", "one more thing")
        again = d.ticket_of("5511800000400")
        assert again["id"] == t["id"] and again["status"] == "open"
    finally:
        d.close()
        d.z.kill()


def test_auto_close_on_inactivity(tmp_path):
    d = make_desk(tmp_path, env={"ZING_TICKETS__AUTO_CLOSE_INTERVAL_S": "0.2"})
    try:
        d.queue("Fast", auto_close_hours=0.0003, auto_close_message="Closing for inactivity")
        d.say("5511800000500", "hello")
        t = d.ticket_of("5511800000500")
        closed = wait_for(lambda: (x := d.admin.call("ticket.get", {"id": t["id"]}))["status"] == "closed" and x)
        assert d.messages(t["id"])[-1]["body"] == "Closing for inactivity"
        assert closed["closed_at"] >= closed["last_inbound_at"] + 1.0
    finally:
        d.close()
        d.z.kill()


def test_notes_are_private_and_in_the_timeline(desk):
    desk.say("5511800000600", "help")
    tid = desk.ticket_of("5511800000600")["id"]
    note = desk.agents["ana"].call("note.create", {"ticket_id": tid, "body": "VIP customer"})
    assert note["user_name"] == "Ana"
    assert [n["body"] for n in desk.admin.call("note.list", {"ticket_id": tid})] == ["VIP customer"]
    assert all(m["body"] != "VIP customer" for m in desk.messages(tid))
    assert desk.admin.call("sim.journal")["customer_received"] == 0  # nothing reached WhatsApp
    with pytest.raises(Invalid):
        desk.admin.call("note.create", {"ticket_id": tid, "body": "  "})


def test_tags_on_tickets_and_contacts(desk):
    desk.say("5511800000700", "help")
    t = desk.ticket_of("5511800000700")
    with pytest.raises(NotFound, match="a supervisor creates tags"):
        desk.agents["ana"].call("ticket.tag", {"id": t["id"], "tags": ["vip"]})
    for name in ("vip", "billing"):
        desk.admin.call("tag.create", {"name": name})
    out = desk.agents["ana"].call("ticket.tag", {"id": t["id"], "tags": ["vip", "billing", "vip"]})
    assert out["tags"] == ["billing", "vip"]
    desk.admin.call("contact.tag", {"id": t["contact_id"], "tags": ["lead"]})
    assert desk.admin.call("contact.get", {"id": t["contact_id"]})["tags"] == ["lead"]
    tags = {g["name"]: g for g in desk.admin.call("tag.list")}
    assert tags["vip"]["tickets"] == 1 and tags["lead"]["contacts"] == 1
    assert [x["id"] for x in desk.admin.call("ticket.list", {"tag": "vip"})["tickets"]] == [t["id"]]
    with pytest.raises(Forbidden):
        desk.agents["ana"].call("tag.delete", {"id": tags["vip"]["id"]})
    desk.admin.call("tag.delete", {"id": tags["vip"]["id"]})
    assert desk.admin.call("ticket.get", {"id": t["id"]})["tags"] == ["billing"]


def test_quick_replies_expand_and_signature(desk):
    with pytest.raises(Forbidden):
        desk.agents["ana"].call("quickreply.create", {"shortcut": "hi", "body": "x"})
    desk.admin.call("quickreply.create", {"shortcut": "/obrigado", "body": "Obrigado, {{first_name}}! Protocolo {{protocol}}."})
    desk.agents["ana"].call("quickreply.create", {"shortcut": "mine", "body": "Personal {{agent}}", "personal": True})
    with pytest.raises(Conflict):
        desk.agents["ana"].call("quickreply.create", {"shortcut": "mine", "body": "again", "personal": True})
    assert [q["shortcut"] for q in desk.agents["ana"].call("quickreply.list", {"query": "ob"})] == ["obrigado"]
    assert [q["shortcut"] for q in desk.agents["bia"].call("quickreply.list")] == ["obrigado"]
    desk.say("5511800000800", "help", name="Carlos Dias")
    tid = desk.ticket_of("5511800000800")["id"]
    [reply] = desk.agents["ana"].call("quickreply.list", {"query": "obrigado"})
    sent = desk.agents["ana"].call("message.send", {"ticket_id": tid, "body": reply["body"], "signature": True})
    assert sent["body"].startswith("*Ana:*\nObrigado, Carlos! Protocolo ")
    desk.agents["ana"].call("user.update_me", {"signature": True})
    assert desk.agents["ana"].call("message.send", {"ticket_id": tid, "body": "{{unknown}} ok"})["body"] \
        == "*Ana:*\n{{unknown}} ok"


def test_read_and_typing(desk):
    desk.say("5511800000900", "one")
    desk.say("5511800000900", "two")
    t = desk.ticket_of("5511800000900")
    assert t["unread"] == 2
    assert desk.admin.call("message.read", {"ticket_id": t["id"]})["marked"] == 2
    assert desk.admin.call("ticket.get", {"id": t["id"]})["unread"] == 0
    assert desk.admin.call("message.typing", {"ticket_id": t["id"], "composing": True})["sent"] is True


def test_search_with_filters(desk):
    desk.say("5511800001000", "meu boleto venceu ontem")
    desk.say("5511800001001", "the invoice is wrong")
    t = desk.ticket_of("5511800001000")
    desk.agents["ana"].call("ticket.accept", {"id": t["id"]})
    hits = desk.admin.call("message.search", {"query": "BOLETO"})
    assert [h["ticket_id"] for h in hits] == [t["id"]]
    assert desk.admin.call("message.search", {"query": "boleto", "status": "pending"}) == []
    assert desk.admin.call("message.search", {"query": "bol*", "user_id": desk.agent_ids["ana"]})[0]["ticket_id"] == t["id"]
    assert desk.admin.call("message.search", {"query": "invoice", "queue_id": desk.queues["Support"]})
    with pytest.raises(Invalid):
        desk.admin.call("message.search", {"query": "  ** "})


def test_agents_hear_when_a_ticket_leaves_their_view(desk):
    desk.say("5511800001100", "help")
    tid = desk.ticket_of("5511800001100")["id"]
    bia = desk.agents["bia"]
    bia.call("events.subscribe", {"topics": ["tenant"]})
    desk.agents["ana"].call("ticket.accept", {"id": tid})
    bia.call("rpc.hello")  # events published before this answer are already in bia.events
    [moved] = [e for e in bia.events if e["type"] == "ticket.updated" and e["data"]["ticket"]["id"] == tid]
    assert moved["data"]["ticket"]["user_name"] == "Ana" and moved["data"]["was"]["status"] == "pending"
    directory = {u["name"] for u in bia.call("user.directory")}
    assert {"Ana", "Bia", "boss"} <= directory


def test_custom_fields_can_be_removed(desk):
    c = desk.admin.call("contact.create", {"number": "5511980001200", "custom_fields": {"plan": "gold", "city": "Rio"}})
    out = desk.admin.call("contact.update", {"id": c["id"], "custom_fields": {"plan": None, "vip": True}})
    assert out["custom_fields"] == {"city": "Rio", "vip": True}


def test_an_agents_closed_and_all_lists_page_in_order(desk):
    """An agent's Closed list is own closed tickets only, and All is own tickets of any status plus the
    pending ones of her queues; paged two at a time both come out in the admin's order, nothing twice."""
    ana, bia = desk.agents["ana"], desk.agents["bia"]
    ids = []
    for n in range(8):
        desk.say(f"55118000013{n:02d}", "help")
        ids.append(desk.ticket_of(f"55118000013{n:02d}")["id"])
    for tid in ids[:5]:
        ana.call("ticket.accept", {"id": tid})
    for tid in ids[:3]:
        ana.call("ticket.close", {"id": tid, "farewell": False})
    bia.call("ticket.accept", {"id": ids[5]})
    bia.call("ticket.close", {"id": ids[5], "farewell": False})
    desk.say("5511800001301", "one more thing")  # a closed one of Ana's customers writes: a new pending ticket

    def pages(client, **params):
        out, before = [], None
        while True:
            res = client.call("ticket.list", {**params, "limit": 2, **({"before": before} if before else {})})
            out += res["tickets"]
            if "next" not in res:
                return [t["id"] for t in out]
            before = res["next"]

    me = desk.agent_ids["ana"]
    everything = desk.admin.call("ticket.list", {"limit": 100})["tickets"]
    assert pages(desk.admin) == [t["id"] for t in everything]
    assert pages(ana, status="closed") == [t["id"] for t in everything
                                           if t["status"] == "closed" and t["user_id"] == me] == ids[2::-1]
    mine_or_pending = [t["id"] for t in everything if t["user_id"] == me or t["status"] == "pending"]
    assert pages(ana) == mine_or_pending and len(mine_or_pending) == 8
    assert pages(bia, status="closed") == [ids[5]]
