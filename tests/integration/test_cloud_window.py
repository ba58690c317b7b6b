"""WhatsApp's 24-hour window on a cloud number, through a real zingd and FakeGraph: free-form messages
only within 24 h of the customer's last message, refused before anything is queued after that; a
message Meta refuses for the window anyway fails with a clear error; other numbers have no window."""

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import wait_for
from tests.integration.support import call_err
from tests.integration.template_desk import cd  # noqa: F401 - a fixture

NUMBER = "5511987650002"


@pytest.fixture
def g():
    with FakeGraph() as fake:
        fake.add_template("pedido_saiu")
        yield fake


def outbound(cd, ticket_id: int) -> list[dict]:
    return [m for m in cd.d.messages(ticket_id) if m["direction"] == "out"]


def test_free_form_inside_the_window_goes_and_outside_is_refused(cd, g):
    ticket = cd.writes(NUMBER, "oi, tudo bem?")
    assert ticket["connection_kind"] == "cloud"
    assert ticket["window_closes_at"] == pytest.approx(ticket["last_inbound_at"] + 86400)
    cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "Olá! Como posso ajudar?"})
    [sent] = g.wait_sent(1)
    assert sent["json"]["text"]["body"] == "Olá! Como posso ajudar?"

    cd.age(NUMBER, 25)
    err = call_err(cd.admin, "message.send", {"ticket_id": ticket["id"], "body": "Ainda está aí?"})
    assert err.kind == "conflict"
    assert "outside WhatsApp's 24-hour window (the customer last wrote 1d 1h ago, " in err.message
    assert "send an approved template (template.list)" in err.message
    assert err.details["window_closed_at"] == pytest.approx(ticket["last_inbound_at"] - 3600, abs=1)
    assert len(outbound(cd, ticket["id"])) == 1 and len(g.sent) == 1  # nothing queued, nothing sent
    err = call_err(cd.admin, "message.send_to", {"number": NUMBER, "body": "oi", "connection_id": cd.cloud_id})
    assert err.kind == "conflict" and "24-hour window" in err.message

    cd.writes(NUMBER, "voltei")  # the customer writes again: the window opens again
    cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "Que bom!"})
    assert g.wait_sent(2)[1]["json"]["text"]["body"] == "Que bom!"


def test_a_customer_who_never_wrote_gets_only_templates(cd, g):
    err = call_err(cd.admin, "message.send_to", {"number": "5511987650099", "body": "Promoção!",
                                                 "connection_id": cd.cloud_id})
    assert err.kind == "conflict" and "the customer has never written to this number" in err.message
    assert err.details["window_closed_at"] == 0
    assert g.sent == []
    cd.sync()
    t = cd.template("pedido_saiu")
    err = call_err(cd.admin, "message.send_to", {"number": "5511987650099", "body": "oi", "template_id": t["id"],
                                                 "connection_id": cd.cloud_id})
    assert err.kind == "invalid" and "brings its own text" in err.message
    err = call_err(cd.admin, "message.send_to", {"number": "5511987650099", "template_id": t["id"],
                                                 "params": ["Rui", "5"], "connection_id": cd.d.connection_id})
    assert err.kind == "conflict" and "this message goes from connection" in err.message
    m = cd.admin.call("message.send_to", {"number": "5511987650099", "template_id": t["id"], "params": ["Rui", "5"],
                                          "connection_id": cd.cloud_id})
    assert m["body"] == "Olá Rui, seu pedido 5 saiu." and m["template"]["name"] == "pedido_saiu"
    ticket = cd.admin.call("ticket.get", {"id": m["ticket_id"]})
    assert ticket["status"] == "open" and ticket["window_closes_at"] == 0  # written to, but not yet heard from
    [sent] = g.wait_sent(1)
    assert sent["to"] == "5511987650099" and sent["json"]["type"] == "template"


def test_the_sim_number_has_no_window(cd):
    m = cd.admin.call("message.send_to", {"number": "5511987650098", "body": "oi",
                                          "connection_id": cd.d.connection_id})
    t = cd.admin.call("ticket.get", {"id": m["ticket_id"]})
    assert t["window_closes_at"] is None and t["connection_kind"] == "sim"


def test_meta_refusing_for_the_window_fails_the_message_and_a_retry_outside_is_refused(cd, g):
    ticket = cd.writes(NUMBER, "oi")
    g.cold.add(NUMBER)  # Meta's clock says the window closed (zing's says not yet)
    msg = cd.admin.call("message.send", {"ticket_id": ticket["id"], "body": "Olá!"})
    failed = wait_for(lambda: (m := outbound(cd, ticket["id"])[0])["ack"] == "failed" and m, timeout=20)
    assert failed["id"] == msg["id"] and "24-hour window" in failed["error"]
    assert "template" in failed["error"]

    cd.age(NUMBER, 30)
    err = call_err(cd.admin, "message.retry", {"id": msg["id"]})
    assert err.kind == "conflict" and "24-hour window" in err.message

    # a template is what goes outside the window, and its retry is not refused
    cd.sync()
    t = cd.template("pedido_saiu")
    g.fail_next(132001)  # Meta doesn't know it (yet): final
    tpl = cd.admin.call("message.send_template", {"ticket_id": ticket["id"], "template_id": t["id"],
                                                  "params": ["Ana", "7"]})
    wait_for(lambda: next(m for m in outbound(cd, ticket["id"]) if m["id"] == tpl["id"])["ack"] == "failed",
             timeout=20)
    assert cd.admin.call("message.retry", {"id": tpl["id"]})["id"] == tpl["id"]
    sent = wait_for(lambda: [s for s in g.sent if s["json"]["type"] == "template"], timeout=20)
    assert sent[0]["json"]["biz_opaque_callback_data"] == tpl["wa_id"]


def test_zings_own_words_wait_for_the_window_and_an_agents_are_refused(cd, g):
    """Closing, transferring and scheduled messages on a cloud number: outside the window zing's own
    (farewell, rating survey, auto-close note, a schedule) are left out, an agent's are refused whole."""
    cd.admin.call("connection.update", {"id": cd.cloud_id, "farewell": "Até logo!"})
    cd.admin.call("tenant.update_settings", {"rating": True})
    ticket = cd.writes(NUMBER, "oi")
    cd.admin.call("ticket.accept", {"id": ticket["id"]})
    cd.age(NUMBER, 25)
    queue = cd.admin.call("queue.create", {"name": "Vendas"})["id"]
    err = call_err(cd.admin, "ticket.transfer", {"id": ticket["id"], "queue_id": queue, "message": "Passando."})
    assert err.kind == "conflict" and "24-hour window" in err.message
    err = call_err(cd.admin, "ticket.close", {"id": ticket["id"], "message": "Resolvido!"})
    assert err.kind == "conflict" and "24-hour window" in err.message
    assert cd.admin.call("ticket.get", {"id": ticket["id"]})["status"] == "open", "refused whole: nothing closed"
    closed = cd.admin.call("ticket.close", {"id": ticket["id"]})
    assert closed["status"] == "closed" and closed["chatbot_state"] == {}, "no survey it couldn't send"
    assert outbound(cd, ticket["id"]) == [] and g.sent == [], "no farewell, no survey"

    schedule = cd.admin.call("schedule.create", {"contact_id": ticket["contact_id"], "connection_id": cd.cloud_id,
                                                 "body": "Lembrete",
                                                 "run_at": cd.admin.call("daemon.status")["clock"] + 1})
    done = wait_for(lambda: (s := cd.admin.call("schedule.list", {}))[0]["status"] != "pending" and s[0])
    assert done["id"] == schedule["id"] and done["status"] == "skipped" and "24-hour window" in done["error"]
    assert g.sent == []
