"""The first loop a user runs: a customer writes, picks a department, an agent answers, receipts arrive."""

from tests.helpers import wait_for


def test_inbound_menu_reply_and_receipts(demo):
    with demo.client() as c:
        said = c.call("sim.say", {"from": "5511999990001", "body": "oi, preciso de ajuda"})
        assert said["delivered"] is True
        [ticket] = c.call("ticket.list", {"status": "pending"})["tickets"]
        assert ticket["unread"] == 1 and ticket["queue_id"] is None
        menu = c.call("message.list", {"ticket_id": ticket["id"]})["messages"][-1]
        assert menu["direction"] == "out" and "*1* - Vendas" in menu["body"] and menu["user_id"] is None

        c.call("sim.say", {"from": "5511999990001", "body": "2"})
        ticket = c.call("ticket.get", {"id": ticket["id"]})
        assert ticket["queue_name"] == "Suporte" and ticket["status"] == "pending"

        sent = c.call("message.send", {"ticket_id": ticket["id"], "body": "Olá {{first_name}}! Como posso ajudar?"})
        assert sent["ack"] == "queued" and sent["body"] == "Olá Ana! Como posso ajudar?"

        def read():
            msgs = c.call("message.list", {"ticket_id": ticket["id"]})["messages"]
            return msgs[-1]["ack"] == "read" and msgs
        msgs = wait_for(read)
        assert [m["direction"] for m in msgs] == ["in", "out", "in", "out"]
        assert c.call("ticket.get", {"id": ticket["id"]})["status"] == "open"
