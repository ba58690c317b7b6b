"""The first loop a user runs: a customer writes, an agent answers, the receipt arrives."""

from tests.helpers import wait_for


def test_inbound_reply_and_receipts(demo):
    with demo.client() as c:
        said = c.call("sim.say", {"from": "5511999990001", "body": "oi, preciso de ajuda"})
        assert said["delivered"] is True
        [ticket] = c.call("ticket.list", {"status": "pending"})["tickets"]
        assert ticket["last_message"] == "oi, preciso de ajuda" and ticket["unread"] == 1
        sent = c.call("message.send", {"ticket_id": ticket["id"], "body": "Olá! Como posso ajudar?"})
        assert sent["ack"] == "queued" and sent["wa_id"]

        def read():
            msgs = c.call("message.list", {"ticket_id": ticket["id"]})["messages"]
            return msgs[-1]["ack"] == "read" and msgs
        msgs = wait_for(read)
        assert [m["direction"] for m in msgs] == ["in", "out"]
        assert c.call("ticket.get", {"id": ticket["id"]})["status"] == "open"
