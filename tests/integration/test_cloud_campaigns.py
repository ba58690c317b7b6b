"""Campaigns on a cloud number through a real zingd and FakeGraph: recipients outside the 24-hour
window need an approved template (checked before anything is stored or sent), the template goes out
with per-recipient parameters, other numbers send the text, and a template Meta pauses pauses the
campaign."""

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import wait_for
from tests.integration.support import call_err, db_rows
from tests.integration.template_desk import NO_LIMITS, cloud_desk

CSV = "number,name,pedido\n5511930000001,Ana Souza,A-1\n5511930000002,Bruno Lima,B-2\n5511930000003,Carla Dias,C-3\n"
TEMPLATE = {"name": "pedido_saiu", "params": ["{{first_name}}", "{{pedido}}"]}


@pytest.fixture
def g():
    with FakeGraph() as fake:
        fake.add_template("pedido_saiu")
        fake.add_template("pedido_saiu", language="en_US", body="Hi {{1}}, order {{2}} shipped.")
        fake.add_template("em_analise", status="PENDING")
        yield fake


@pytest.fixture
def cd(tmp_path, g):
    desk = cloud_desk(tmp_path, g, env={"ZING_OUTBOX__RATE_PER_CONNECTION": "5000", "ZING_OUTBOX__BURST": "500"})
    for cid in (desk.cloud_id, desk.d.connection_id):
        desk.admin.call("connection.update", {"id": cid, "settings": {"pacing": NO_LIMITS}})
    desk.admin.call("contact.import", {"data": CSV})
    desk.sync()
    desk.contact_ids = [c["id"] for c in desk.admin.call("contact.list", {"limit": 100})
                        if c["number"].startswith("55119300000")]
    assert len(desk.contact_ids) == 3
    yield desk
    desk.close()


def campaign(cd, **extra):
    return {"name": "Pedidos", "variants": [], "contact_ids": cd.contact_ids, "connection_ids": [cd.cloud_id],
            **extra}


def test_cold_recipients_without_a_template_are_refused_before_anything_is_stored(cd, g):
    for dry_run in (True, False):
        err = call_err(cd.admin, "campaign.create", campaign(cd, variants=["Oi {{first_name}}"], dry_run=dry_run))
        assert err.kind == "invalid" and err.details["cold"] == 3
        assert f"3 recipient(s) have not written to cloud number {cd.cloud_id} in the last 24 hours" in err.message
        assert "--template" in err.message
    err = call_err(cd.admin, "campaign.create", campaign(cd, template={"name": "em_analise", "params": ["a", "b"]}))
    assert err.kind == "conflict" and "PENDING" in err.message
    err = call_err(cd.admin, "campaign.create", campaign(cd, template={"name": "pedido_saiu", "params": ["a", "b"]}))
    assert err.kind == "invalid" and "exists in en_US, pt_BR: give its language" in err.message
    err = call_err(cd.admin, "campaign.create", campaign(cd, template={**TEMPLATE, "language": "pt_BR",
                                                                       "params": ["{{first_name}}"]}))
    assert err.kind == "invalid" and "takes 2 parameter(s)" in err.message
    err = call_err(cd.admin, "campaign.create", campaign(cd, template={**TEMPLATE, "language": "pt_BR",
                                                                       "params": ["{{cidade}}", "x"]}))
    assert err.kind == "invalid" and "no value for a variable" in err.message
    err = call_err(cd.admin, "campaign.create", campaign(cd, connection_ids=[cd.d.connection_id],
                                                         variants=["oi"], template=TEMPLATE))
    assert err.kind == "invalid" and "none of the campaign's numbers is one" in err.message
    assert cd.admin.call("campaign.list") == [] and g.sent == []


def test_a_template_campaign_sends_each_recipient_their_own_parameters(cd, g):
    preview = cd.admin.call("campaign.create", campaign(cd, template={**TEMPLATE, "language": "pt_BR"},
                                                        dry_run=True))
    assert preview["sample"][0]["message"] == "Olá Ana, seu pedido A-1 saiu."
    c = cd.admin.call("campaign.create", campaign(cd, template={**TEMPLATE, "language": "pt_BR"}))
    assert c["template"] == {"name": "pedido_saiu", "language": "pt_BR", "params": ["{{first_name}}", "{{pedido}}"]}
    cd.admin.call("campaign.start", {"id": c["id"]})
    sent = g.wait_sent(3, timeout=30)
    got = {s["to"]: [p["text"] for p in s["json"]["template"]["components"][0]["parameters"]] for s in sent}
    assert got == {"5511930000001": ["Ana", "A-1"], "5511930000002": ["Bruno", "B-2"],
                   "5511930000003": ["Carla", "C-3"]}
    assert all(s["json"]["type"] == "template" and s["json"]["template"]["language"]["code"] == "pt_BR"
               for s in sent)
    wait_for(lambda: cd.admin.call("campaign.get", {"id": c["id"]})["counts"]["sent"] == 3, timeout=30)
    rows = db_rows(cd.d.z, "SELECT body, template, automated FROM messages WHERE direction = 'out' ORDER BY id")
    assert rows[0]["body"] == "Olá Ana, seu pedido A-1 saiu." and rows[0]["automated"] == 1
    assert '"params":["Ana","A-1"]' in rows[0]["template"]


def test_cloud_numbers_send_the_template_and_others_the_text(cd, g):
    c = cd.admin.call("campaign.create", campaign(cd, variants=["Oi {{first_name}}, pedido {{pedido}}."],
                                                  connection_ids=[cd.d.connection_id, cd.cloud_id],
                                                  template={"name": "pedido_saiu", "language": "en_US",
                                                            "params": ["{{first_name}}", "{{pedido}}"]}))
    cd.admin.call("campaign.start", {"id": c["id"]})
    wait_for(lambda: cd.admin.call("campaign.get", {"id": c["id"]})["counts"]["pending"] == 0, timeout=30)
    recipients = cd.admin.call("campaign.recipients", {"id": c["id"]})
    on_cloud = {r["number"] for r in recipients if r["connection_id"] == cd.cloud_id}
    assert on_cloud and len(on_cloud) < 3  # they took turns
    sent = g.wait_sent(len(on_cloud), timeout=30)
    assert {s["to"] for s in sent} == on_cloud and all(s["json"]["type"] == "template" for s in sent)
    bodies = {r["number"]: r["body"] for r in db_rows(
        cd.d.z, "SELECT c.number, m.body FROM messages m JOIN contacts c ON c.id = m.contact_id "
                "WHERE m.direction = 'out'")}
    for r in recipients:
        first, order = r["name"].split()[0], {"Ana": "A-1", "Bruno": "B-2", "Carla": "C-3"}[r["name"].split()[0]]
        want = f"Hi {first}, order {order} shipped." if r["number"] in on_cloud else f"Oi {first}, pedido {order}."
        assert bodies[r["number"]] == want


def test_recipients_inside_the_window_get_the_text_and_one_outside_blocks_the_start(cd, g):
    numbers = ["5511930000001", "5511930000002", "5511930000003"]
    for number in numbers:
        cd.writes(number, "oi")
    c = cd.admin.call("campaign.create", campaign(cd, variants=["Oi {{first_name}}, pedido {{pedido}}."]))
    cd.age(numbers[1], 25)
    err = call_err(cd.admin, "campaign.start", {"id": c["id"]})
    assert err.kind == "invalid" and err.details["cold"] == 1
    assert cd.admin.call("campaign.get", {"id": c["id"]})["status"] == "draft"
    cd.writes(numbers[1], "voltei")
    cd.admin.call("campaign.start", {"id": c["id"]})
    sent = g.wait_sent(3, timeout=30)
    assert sorted(s["json"]["text"]["body"] for s in sent) == \
        ["Oi Ana, pedido A-1.", "Oi Bruno, pedido B-2.", "Oi Carla, pedido C-3."]


@pytest.mark.parametrize("told_by", ["webhook", "sync"])
def test_a_template_meta_pauses_pauses_the_campaign(cd, g, told_by):
    cd.admin.call("connection.update", {"id": cd.cloud_id, "settings": {"pacing": {**NO_LIMITS,
                                                                                   "min_interval_s": 3600}}})
    c = cd.admin.call("campaign.create", campaign(cd, template={**TEMPLATE, "language": "pt_BR"}))
    cd.admin.call("campaign.start", {"id": c["id"]})
    g.wait_sent(1, timeout=30)  # the first went; the next waits an hour
    value = g.template_status("pedido_saiu", "pt_BR", "PAUSED", reason="Low quality")
    if told_by == "webhook":
        assert g.post_webhook(cd.url, g.envelope(value, field="message_template_status_update"))[0] == 200
    else:
        cd.sync()
    paused = wait_for(lambda: (x := cd.admin.call("campaign.get", {"id": c["id"]}))["status"] == "paused" and x,
                      timeout=20)
    assert "template pedido_saiu (pt_BR) is PAUSED: Low quality" in paused["stop_reason"]
    assert paused["counts"]["pending"] == 2
    err = call_err(cd.admin, "campaign.start", {"id": c["id"]})
    assert err.kind == "conflict" and "PAUSED" in err.message
