"""Templates of a cloud number through a real zingd and FakeGraph: sync (every page, variables,
statuses, gone ones), the status webhook, message.send_template's rules, and who may do what."""

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import wait_for
from tests.integration.support import call_err
from tests.integration.template_desk import cd  # noqa: F401 - a fixture

NUMBER = "5511987650001"


@pytest.fixture
def g():
    with FakeGraph() as fake:
        fake.add_template("pedido_saiu")                                      # body {{1}} {{2}}
        fake.add_template("boas_vindas", body="Oi {{first_name}}, seu código é {{code}}.",
                          examples=["Maria", "X1"])                           # named
        fake.add_template("rastreio", language="en_US", body="Order {{1}} shipped.", header="Order {{1}}",
                          buttons=[{"type": "URL", "text": "Track", "url": "https://t.example/{{1}}",
                                    "example": ["https://t.example/abc123"]},
                                   {"type": "QUICK_REPLY", "text": "Stop"}])
        fake.add_template("em_analise", status="PENDING")
        fake.add_template("promo", category="MARKETING", status="REJECTED")
        yield fake


def test_sync_reads_every_page_with_variables_and_statuses(cd, g):
    r = cd.sync()
    assert (r["fetched"], r["added"], r["updated"], r["deleted"], r["total"], r["approved"]) == (5, 5, 0, 0, 5, 3)
    assert sum("after" in q["query"] for q in g.requests if q["path"].endswith("/message_templates")) == 2  # 3 pages
    pedido = cd.template("pedido_saiu")
    assert [(p["component"], p["name"], p["example"]) for p in pedido["params"]] == \
        [("body", "1", "exemplo1"), ("body", "2", "exemplo2")]
    assert pedido["body"] == "Olá {{1}}, seu pedido {{2}} saiu." and pedido["status"] == "APPROVED"
    named = cd.template("boas_vindas")
    assert [(p["name"], p["example"]) for p in named["params"]] == [("first_name", "Maria"), ("code", "X1")]
    track = cd.template("rastreio", "en_US")
    assert [(p["component"], p["name"], p["index"], p["example"]) for p in track["params"]] == \
        [("header", "1", None, "cabecalho1"), ("body", "1", None, "exemplo1"), ("button", "1", 0, "abc123")]
    assert cd.template("em_analise")["status"] == "PENDING"
    assert {t["name"] for t in cd.admin.call("template.list", {"status": "approved"})} == \
        {"pedido_saiu", "boas_vindas", "rastreio"}
    assert [t["name"] for t in cd.admin.call("template.list", {"q": "código"})] == ["boas_vindas"]
    assert cd.admin.call("template.list", {"connection_id": cd.d.connection_id}) == []  # the sim number has none

    # Meta approves one, another leaves the account: a sync brings both, the gone one kept as DELETED
    g.templates[g.waba_id] = [t for t in g.templates[g.waba_id] if t["name"] != "promo"]
    next(t for t in g.templates[g.waba_id] if t["name"] == "em_analise")["status"] = "APPROVED"
    r = cd.sync()
    assert (r["fetched"], r["added"], r["updated"], r["deleted"], r["total"], r["approved"]) == (4, 0, 1, 1, 4, 4)
    assert cd.template("promo")["status"] == "DELETED"
    assert cd.sync()["updated"] == 0  # nothing changed: nothing told


def test_sync_refuses_non_cloud_numbers_and_other_tenants(cd):
    err = call_err(cd.admin, "template.sync", {"connection_id": cd.d.connection_id})
    assert err.kind == "conflict" and "only cloud numbers have templates" in err.message
    assert call_err(cd.admin, "template.sync", {"connection_id": 999}).kind == "not_found"


def test_status_webhook_updates_the_template(cd, g):
    cd.sync()
    t = cd.template("pedido_saiu")
    value = g.template_status("pedido_saiu", "pt_BR", "PAUSED", reason="Low quality")
    status, text = g.post_webhook(cd.url, g.envelope(value, field="message_template_status_update"))
    assert status == 200, text
    paused = wait_for(lambda: (x := cd.template("pedido_saiu"))["status"] == "PAUSED" and x)
    assert paused["id"] == t["id"] and "Low quality" in paused["reason"]
    ticket = cd.writes(NUMBER, "oi")
    err = call_err(cd.admin, "message.send_template", {"ticket_id": ticket["id"], "template_id": t["id"],
                                                      "params": ["Ana", "42"]})
    assert err.kind == "conflict" and "PAUSED" in err.message


def test_send_template_renders_and_sends_every_component(cd, g):
    cd.sync()
    ticket = cd.writes(NUMBER, "oi")
    cd.age(NUMBER, 30)  # the window closed: templates still go
    track = cd.template("rastreio", "en_US")
    msg = cd.admin.call("message.send_template", {"ticket_id": ticket["id"], "template_id": track["id"],
                                                  "params": ["A-7", "A-7", "a7x"], "client_ref": "tpl-1"})
    assert msg["body"] == "Order A-7\n\nOrder A-7 shipped." and msg["ack"] == "queued"
    assert msg["template"]["name"] == "rastreio" and msg["template"]["params"] == ["A-7", "A-7", "a7x"]
    [sent] = g.wait_sent(1)
    payload = sent["json"]
    assert payload["type"] == "template" and payload["biz_opaque_callback_data"] == msg["wa_id"]
    assert payload["template"]["name"] == "rastreio" and payload["template"]["language"]["code"] == "en_US"
    components = {c["type"]: c for c in payload["template"]["components"]}
    assert components["header"]["parameters"] == [{"type": "text", "text": "A-7"}]
    assert components["button"]["sub_type"] == "url" and components["button"]["parameters"][0]["text"] == "a7x"
    wait_for(lambda: cd.d.messages(ticket["id"])[-1]["ack"] == "sent")
    again = cd.admin.call("message.send_template", {"ticket_id": ticket["id"], "template_id": track["id"],
                                                    "params": ["A-7", "A-7", "a7x"], "client_ref": "tpl-1"})
    assert again["id"] == msg["id"] and len(g.sent) == 1  # a repeated call sends nothing twice

    named = cd.template("boas_vindas")
    cd.admin.call("message.send_template", {"ticket_id": ticket["id"], "template_id": named["id"],
                                            "params": ["Rita", "Z9"]})
    body = g.wait_sent(2)[1]["json"]["template"]["components"][0]
    assert body["parameters"] == [{"type": "text", "text": "Rita", "parameter_name": "first_name"},
                                  {"type": "text", "text": "Z9", "parameter_name": "code"}]
    assert cd.ticket(NUMBER)["status"] == "open"  # answering took the ticket


@pytest.mark.parametrize("params, words", [
    (["só um"], "takes 2 parameter(s)"), (["Ana", ""], "params[1] (body {{2}}) is empty"),
    (["Ana", "linha\nnova"], "new lines"), (["Ana", "x" * 1025], "the limit is 1024"),
])
def test_send_template_checks_params(cd, params, words):
    cd.sync()
    ticket = cd.writes(NUMBER, "oi")
    err = call_err(cd.admin, "message.send_template", {"ticket_id": ticket["id"],
                                                      "template_id": cd.template("pedido_saiu")["id"],
                                                      "params": params})
    assert err.kind == "invalid" and words in err.message
    assert [m["direction"] for m in cd.d.messages(ticket["id"])] == ["in"]


def test_send_template_refuses_unapproved_other_numbers_and_closed_tickets(cd):
    cd.sync()
    ticket = cd.writes(NUMBER, "oi")
    pending = cd.template("em_analise")
    err = call_err(cd.admin, "message.send_template", {"ticket_id": ticket["id"], "template_id": pending["id"],
                                                      "params": ["a", "b"]})
    assert err.kind == "conflict" and "PENDING" in err.message
    sim_ticket = cd.admin.call("message.send_to", {"number": "5511900000009", "body": "oi",
                                                   "connection_id": cd.d.connection_id})["ticket_id"]
    err = call_err(cd.admin, "message.send_template", {"ticket_id": sim_ticket,
                                                      "template_id": cd.template("pedido_saiu")["id"],
                                                      "params": ["a", "b"]})
    assert err.kind == "conflict" and "this message goes from connection" in err.message
    assert call_err(cd.admin, "message.send_template", {"ticket_id": ticket["id"], "template_id": 999,
                                                        "params": []}).kind == "not_found"
    cd.admin.call("ticket.close", {"id": ticket["id"]})
    err = call_err(cd.admin, "message.send_template", {"ticket_id": ticket["id"],
                                                      "template_id": cd.template("pedido_saiu")["id"],
                                                      "params": ["a", "b"]})
    assert err.kind == "conflict" and "closed" in err.message


def test_who_may_list_sync_and_send_templates(cd):
    cd.sync()
    ana, bruno = cd.d.agent("ana"), cd.d.agent("bruno")
    ticket = cd.writes(NUMBER, "oi")
    cd.admin.call("ticket.transfer", {"id": ticket["id"], "user_id": cd.d.agent_ids["ana"]})
    t = cd.template("pedido_saiu")
    assert {x["name"] for x in ana.call("template.list")} >= {"pedido_saiu"}   # agents read the tenant's
    assert call_err(ana, "template.sync", {"connection_id": cd.cloud_id}).kind == "forbidden"
    assert ana.call("message.send_template", {"ticket_id": ticket["id"], "template_id": t["id"],
                                              "params": ["Ana", "1"]})["user_id"] == cd.d.agent_ids["ana"]
    # a colleague can't see ana's open ticket: it doesn't exist for them
    assert call_err(bruno, "message.send_template", {"ticket_id": ticket["id"], "template_id": t["id"],
                                                     "params": ["Ana", "1"]}).kind == "not_found"
    # another tenant sees none of it
    other = cd.admin.call("tenant.create", {"name": "Bravo"})["id"]
    cd.admin.call("user.create", {"email": "boss@bravo.test", "password": "secret-pw", "role": "admin",
                                  "tenant_id": other, "name": "Boss B"})
    b = cd.d.z.client()
    b.call("auth.login", {"email": "boss@bravo.test", "password": "secret-pw"})
    try:
        assert b.call("template.list") == []
        assert b.call("template.list", {"connection_id": cd.cloud_id}) == []
        assert call_err(b, "template.sync", {"connection_id": cd.cloud_id}).kind == "not_found"
        assert call_err(b, "message.send_template", {"ticket_id": ticket["id"], "template_id": t["id"],
                                                     "params": ["x", "y"]}).kind == "not_found"
    finally:
        b.close()
    assert len([m for m in cd.d.messages(ticket["id"]) if m["direction"] == "out"]) == 1
