"""message.send with a client_ref: a send repeated after a lost answer queues nothing twice (issue 13)."""

import pytest

from tests.integration.desk import make_desk
from zingd.errors import Conflict, Invalid


@pytest.fixture
def desk(tmp_path):
    d = make_desk(tmp_path)
    d.agent("ana")
    d.agent("bia")
    d.queue("Support", members=["ana", "bia"])
    yield d
    d.close()
    d.z.kill()


def outbound(desk, ticket_id: int) -> list[dict]:
    return [m for m in desk.messages(ticket_id) if m["direction"] == "out" and m["user_id"] is not None]


def test_the_same_client_ref_sends_one_message(desk):
    desk.say("5511800001000", "oi")
    tid = desk.ticket_of("5511800001000")["id"]
    ana = desk.agents["ana"]
    first = ana.call("message.send", {"ticket_id": tid, "body": "já vejo", "client_ref": "r-1"})
    again = ana.call("message.send", {"ticket_id": tid, "body": "já vejo", "client_ref": "r-1"})
    assert again["id"] == first["id"] and again["client_ref"] == "r-1"
    assert [m["body"] for m in outbound(desk, tid)] == ["já vejo"]
    # the ticket closed since: the repeat still answers with the message, not with "closed"
    ana.call("ticket.close", {"id": tid, "farewell": False})
    assert ana.call("message.send", {"ticket_id": tid, "body": "já vejo", "client_ref": "r-1"})["id"] == first["id"]
    assert len(outbound(desk, tid)) == 1


def test_a_client_ref_is_the_senders_own_and_for_one_ticket(desk):
    desk.say("5511800001001", "oi")
    desk.say("5511800001002", "oi")
    one, two = desk.ticket_of("5511800001001")["id"], desk.ticket_of("5511800001002")["id"]
    ana, bia = desk.agents["ana"], desk.agents["bia"]
    ana.call("message.send", {"ticket_id": one, "body": "a", "client_ref": "same"})
    with pytest.raises(Conflict, match="client_ref 'same' was used for a message in ticket"):
        ana.call("message.send", {"ticket_id": two, "body": "b", "client_ref": "same"})
    bia.call("message.send", {"ticket_id": two, "body": "b", "client_ref": "same"})  # another user's key space
    assert [m["body"] for m in outbound(desk, two)] == ["b"]
    with pytest.raises(Invalid, match="client_ref"):
        ana.call("message.send", {"ticket_id": one, "body": "c", "client_ref": "has space"})
