"""A day at a small company, played on the sim channel end to end; and a company with both kinds of
WhatsApp number (neonize and the Cloud API) side by side."""

import sqlite3
import time

from tests.channels.cloud import webhooks as W
from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import wait_for
from tests.integration.desk import make_desk
from tests.integration.template_desk import free_port
from zingd.errors import Conflict, Invalid

NO_QUIET = {"ZING_PACING__QUIET_START": "00:00", "ZING_PACING__QUIET_END": "00:00",
            "ZING_PACING__MIN_INTERVAL_S": "0", "ZING_PACING__JITTER_S": "0"}

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


def test_a_company_with_an_unofficial_and_an_official_number(tmp_path):
    """One tenant, two kinds of number side by side: a neonize one (on neonize's real binary, offline
    here, so it keeps retrying) and a Cloud API one on the fake Graph server, with the same queues,
    tickets, console calls and campaigns. Customers reach the cloud number through signed webhooks."""
    with FakeGraph() as g:
        port = free_port()
        d = make_desk(tmp_path, env={"ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port), **NO_QUIET})
        url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
        try:
            d.admin.call("tenant.create", {"name": "Loja Dupla"})
            loja = d.admin.call("tenant.list")[-1]
            d.admin.call("user.create", {"tenant_id": loja["id"], "email": "dona@loja.test", "password": "dona-pass1",
                                         "name": "Dona", "role": "admin"})
            dona = d.z.client()
            dona.call("auth.login", {"email": "dona@loja.test", "password": "dona-pass1"})
            rita_id = dona.call("user.create", {"email": "rita@loja.test", "password": "rita-pass1",
                                                "name": "Rita"})["id"]
            rita = d.z.client()
            rita.call("auth.login", {"email": "rita@loja.test", "password": "rita-pass1"})
            rita.call("user.set_status", {"status": "online"})
            queue = dona.call("queue.create", {"name": "Atendimento"})["id"]
            dona.call("queue.set_members", {"id": queue, "user_ids": [rita_id]})

            unofficial = dona.call("connection.create", {"name": "Loja", "kind": "whatsapp"})
            dona.call("connection.pair", {"id": unofficial["id"]})
            official = dona.call("connection.create", {"name": "Oficial", "kind": "cloud", "is_default": True,
                                                       "cloud": g.cloud_params()})
            wait_for(lambda: dona.call("connection.get", {"id": official["id"]})["status"] == "connected")
            g.add_template("pedido_enviado", body="Olá {{1}}, seu pedido {{2}} saiu.")
            assert dona.call("template.sync", {"connection_id": official["id"]})["approved"] == 1
            [template] = rita.call("template.list", {"connection_id": official["id"], "status": "APPROVED"})

            # a customer writes to the official number, picks the queue, Rita answers
            def writes(*messages):
                status, text = g.post_webhook(url, W.envelope(("messages", W.value(
                    *messages, contacts=[W.contact("5511933330001", "Paula Reis")]))))
                assert status == 200, text

            def messages():
                return dona.call("message.list", {"ticket_id": ticket["id"], "limit": 200})["messages"]

            writes(W.text("oi, meu pedido?", sender="5511933330001"))
            ticket = wait_for(lambda: next(iter(rita.call("ticket.list", {"status": "pending"})["tickets"]), None))
            assert ticket["connection_kind"] == "cloud" and ticket["window_closes_at"] > time.time() + 86000
            rita.call("ticket.accept", {"id": ticket["id"]})
            sent = rita.call("message.send", {"ticket_id": ticket["id"], "body": "Oi Paula! Vou verificar."})
            [out] = g.wait(lambda: [s for s in g.sent if s["json"].get("type") == "text"
                                    and s["json"]["text"]["body"].endswith("Vou verificar.")] or None)
            assert out["json"]["biz_opaque_callback_data"] == sent["wa_id"], "zing's own id travels with it"
            for state in ("delivered", "read"):
                g.post_webhook(url, W.envelope(("messages", W.value(statuses=[
                    W.status(out["wamid"], state, "5511933330001")]))))
            wait_for(lambda: next(m for m in messages() if m["id"] == sent["id"])["ack"] == "read")

            photo = g.add_media(b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")
            writes(W.media("image", photo, "image/png", caption="olha a etiqueta", sender="5511933330001"))
            image = wait_for(lambda: next((m for m in messages() if m["type"] == "image"
                                           and m["media_path"]), None))
            rita.call("message.react", {"message_id": image["id"], "emoji": "👍"})
            g.wait(lambda: [s for s in g.sent if s["json"].get("type") == "reaction"] or None)

            # a day later the window is closed: free text is refused, a template goes out
            db = sqlite3.connect(d.z.data_dir / "zing.db", timeout=10)
            with db:
                db.execute("UPDATE tickets SET last_inbound_at = last_inbound_at - 90000 WHERE id = ?", (ticket["id"],))
            db.close()
            try:
                rita.call("message.send", {"ticket_id": ticket["id"], "body": "Saiu hoje!"})
                raise AssertionError("free text outside the 24-hour window was accepted")
            except Conflict as e:
                assert "24-hour window" in e.message
            rita.call("message.send_template", {"ticket_id": ticket["id"], "template_id": template["id"],
                                                "params": ["Paula", "A-1001"]})
            g.wait(lambda: [s for s in g.sent if s["json"].get("type") == "template"] or None)
            rita.call("ticket.close", {"id": ticket["id"]})

            # a campaign from the official number (one that isn't connected can't start one): contacts who
            # never wrote get the template
            for n in ("5511933330002", "5511933330003"):
                dona.call("contact.create", {"number": n, "name": "Cliente"})
            spec = {"name": "Promo", "variants": ["Oi {{first_name}}!"], "filter": {}, "connection_ids": [official["id"]]}
            try:
                dona.call("campaign.create", spec)
                raise AssertionError("a campaign to cold contacts without a template was accepted")
            except Invalid as e:
                assert "template" in e.message
            campaign = dona.call("campaign.create", {**spec, "template": {
                "id": template["id"], "params": ["{{first_name}}", "boas-vindas"]}})
            dona.call("campaign.start", {"id": campaign["id"]})
            g.wait(lambda: {s["to"] for s in g.sent if s["json"].get("type") == "template"} >=
                   {"5511933330002", "5511933330003"} or None, timeout=30)

            # side by side: the neonize number kept retrying, the official one kept working
            numbers = {c["kind"]: c for c in dona.call("connection.list")}
            assert numbers["cloud"]["status"] == "connected" and numbers["cloud"]["cloud"]["access_token_hint"]
            health = wait_for(lambda: (h := dona.call("connection.get", {"id": unofficial["id"]})["health"])
                              and "could not connect" in h["reason"] and h, timeout=30)
            assert health["state"] == "disconnected"
            assert not [t for t in d.admin.call("ticket.list")["tickets"] if t["connection_id"] == official["id"]], \
                "Acme sees none of Loja Dupla's tickets"
            dona.close()
            rita.close()
        finally:
            d.close()
            d.z.kill()
