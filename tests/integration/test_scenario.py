"""A day at a small company, played on the sim channel end to end."""

from tests.helpers import wait_for
from tests.integration.desk import make_desk

CLOSED_ALL_WEEK = {"timezone": "America/Sao_Paulo", "days": {}}


def test_a_day_at_a_small_company(tmp_path):
    d = make_desk(tmp_path, env={"ZING_TICKETS__AUTO_CLOSE_INTERVAL_S": "0.2"})
    try:
        ana, bia = d.agent("ana", status="online"), d.agent("bia", status="online")
        sales = d.queue("Vendas", members=["ana", "bia"], assign_mode="round_robin",
                        greeting="Vendas: um momento, {{first_name}}.")
        d.queue("Plantão", business_hours=CLOSED_ALL_WEEK, out_of_hours_message="Plantão fechado agora.")
        d.queue("Suporte", members=["bia"], auto_close_hours=0.0005, auto_close_message="Encerrado por inatividade.")
        d.admin.call("connection.update", {"id": d.connection_id, "greeting": "Olá! Escolha:",
                                           "farewell": "Até logo, {{first_name}}!"})
        d.admin.call("tenant.settings", {"rating": True})
        d.admin.call("quickreply.create", {"shortcut": "preco", "body": "O plano custa R$ 99, {{first_name}}."})

        # morning: three customers, three menu choices
        for number, name, choice in [("5511911110001", "Paula Reis", "1"), ("5511911110002", "Otto Lima", "1"),
                                     ("5511911110003", "Nina Melo", "2"), ("5511911110004", "Igor Paz", "3")]:
            d.say(number, "bom dia", name=name)
            d.say(number, choice)
        paula, otto = d.ticket_of("5511911110001"), d.ticket_of("5511911110002")
        nina, igor = d.ticket_of("5511911110003"), d.ticket_of("5511911110004")
        assert (paula["user_name"], otto["user_name"]) == ("Ana", "Bia")  # round robin
        assert nina["user_id"] is None and d.bot_texts(nina["id"])[-1] == "Plantão fechado agora."

        # Ana answers with a quick reply and closes; Paula rates 4
        [reply] = ana.call("quickreply.list", {"query": "preco"})
        ana.call("message.send", {"ticket_id": paula["id"], "body": reply["body"]})
        d.wait_acks(paula["id"], "read")
        ana.call("ticket.close", {"id": paula["id"]})
        d.say("5511911110001", "4")
        # Bia hands Otto to Ana with a note
        bia.call("note.create", {"ticket_id": otto["id"], "body": "quer desconto"})
        bia.call("ticket.transfer", {"id": otto["id"], "user_id": d.agent_ids["ana"], "message": "Vou te passar pra Ana."})
        # Igor (Suporte) goes silent and is auto-closed
        wait_for(lambda: d.admin.call("ticket.get", {"id": igor["id"]})["status"] == "closed")

        paula = d.admin.call("ticket.get", {"id": paula["id"]})
        assert paula["status"] == "closed" and paula["rating"] == 4
        texts = [m["body"] for m in d.messages(paula["id"])]
        assert "O plano custa R$ 99, Paula." in texts and "Até logo, Paula!" in texts
        assert d.admin.call("ticket.get", {"id": otto["id"]})["user_name"] == "Ana"
        assert d.messages(igor["id"])[-1]["body"] == "Encerrado por inatividade."
        statuses = {t["id"]: t["status"] for t in d.admin.call("ticket.list", {"limit": 100})["tickets"]}
        assert statuses == {paula["id"]: "closed", otto["id"]: "open", nina["id"]: "pending", igor["id"]: "closed"}

        actions = [(e["action"], e["user_name"]) for e in d.admin.call("audit.list", {"action": "ticket.*"})]
        assert actions == [("ticket.close", "Ana"), ("ticket.transfer", "Bia")]
        assert {e["action"] for e in d.admin.call("audit.list", {"action": "note.*"})} == {"note.create"}
        report = d.admin.call("report.summary")
        assert report["total"]["tickets"] == 4 and report["total"]["avg_rating"] == 4.0
        assert {q["queue_name"]: q["tickets"] for q in report["queues"]} == {"Vendas": 2, "Plantão": 1, "Suporte": 1}
        journal = d.admin.call("sim.journal")
        assert journal["customer_sent"] == journal["acked"] == 9
        assert journal["duplicate_sends"] == 0
        assert sales in {q["id"] for q in d.admin.call("queue.list")}
    finally:
        d.close()
        d.z.kill()
