"""zingctl templates / messages send-template / campaigns create --template against a real zingd
with a cloud number on FakeGraph."""

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.cli.conftest import Cli
from tests.integration.template_desk import cloud_desk


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with FakeGraph() as g:
        g.add_template("pedido_saiu")
        g.add_template("boas_vindas", body="Oi {{first_name}}!", examples=["Maria"])
        g.add_template("em_analise", status="PENDING")
        cd = cloud_desk(tmp_path_factory.mktemp("templates-cli"), g)
        cd.admin.call("contact.import", {"data": "number,name\n5511930000011,Ana Souza\n5511930000012,Bruno Lima\n"})
        yield cd, g, Cli(cd.d.z.socket)
        cd.close()


def test_sync_and_list(world):
    cd, g, cli = world
    out = cli("templates", "sync", str(cd.cloud_id)).stdout
    assert "3 templates from Meta (3 new, 0 changed, 0 gone); 2 of 3 approved" in out
    rows = cli.json("templates", "list", "--connection", str(cd.cloud_id), "--status", "APPROVED")
    assert {r["name"] for r in rows} == {"pedido_saiu", "boas_vindas"}
    lines = cli.jsonl("templates", "list")
    assert len(lines) == 3
    table = cli("templates", "list", "--query", "Oi").stdout
    assert "boas_vindas" in table and "body {{first_name}}=Maria" in table and "pedido_saiu" not in table


def contact_id(cd, number: str) -> int:
    return next(c["id"] for c in cd.admin.call("contact.list", {"limit": 100}) if c["number"] == number)


def test_campaign_then_an_agent_sends_a_template_by_name(world):
    cd, g, cli = world
    cli("templates", "sync", str(cd.cloud_id))
    before = len(g.sent)
    ana = contact_id(cd, "5511930000011")
    c = cli.json("campaigns", "create", "Boas-vindas", "--contacts", str(ana), "--connection", str(cd.cloud_id),
                 "--template", "boas_vindas", "--template-param", "{{first_name}}")
    assert c["template"] == {"name": "boas_vindas", "language": "pt_BR", "params": ["{{first_name}}"]}
    cli("campaigns", "start", str(c["id"]))
    sent = g.wait_sent(before + 1, timeout=30)[before]
    assert sent["json"]["template"]["components"][0]["parameters"] == \
        [{"type": "text", "text": "Ana", "parameter_name": "first_name"}]
    assert "template: boas_vindas (pt_BR) {{first_name}}" in cli("campaigns", "show", str(c["id"])).stdout
    cli("campaigns", "create", "Sem modelo", "--contacts", str(ana), "--connection", str(cd.cloud_id),
        "-m", "Oi!", code=1)  # she never wrote: free text can't reach her

    # the campaign recorded its message in a closed ticket: reopened, an agent sends a template by name
    ticket_id = cd.admin.call("ticket.list", {"contact_id": ana})["tickets"][0]["id"]
    cd.admin.call("ticket.reopen", {"id": ticket_id})
    m = cli.json("messages", "send-template", str(ticket_id), "pedido_saiu", "-p", "Ana", "-p", "9")
    assert m["body"] == "Olá Ana, seu pedido 9 saiu." and m["template"]["params"] == ["Ana", "9"]
    assert g.wait_sent(before + 2, timeout=30)[-1]["json"]["template"]["name"] == "pedido_saiu"
    gone = cli("messages", "send-template", str(ticket_id), "em_analise", "-p", "a", code=2)
    assert "no approved template 'em_analise'" in gone.stderr
    err = cli("messages", "send-template", str(ticket_id), "pedido_saiu:pt_BR", "-p", "só um", code=1)
    assert "takes 2 parameter(s)" in err.stderr
    cli("messages", "send", str(ticket_id), "Oi de novo", code=1)  # free text: outside the window

    # writing first to a customer who never wrote: a template, from the cloud number
    cli("messages", "send-to", "5511930000012", "Oi", "--connection", str(cd.cloud_id), code=1)
    m = cli.json("messages", "send-to", "5511930000012", "--connection", str(cd.cloud_id), "--template",
                 "boas_vindas:pt_BR", "-p", "Bruno")
    assert m["body"] == "Oi Bruno!" and m["template"]["params"] == ["Bruno"]
    assert g.wait_sent(before + 3, timeout=30)[-1]["to"] == "5511930000012"
