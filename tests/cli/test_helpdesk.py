"""zingctl on Demo Co (its admin is this OS user, so no login): every helpdesk command group.

Each test makes its own customers (own numbers), so tests share one daemon without stepping on each other.
"""

from __future__ import annotations

import re

from tests.helpers import wait_for


def new_ticket(cli, number: str, text: str, name: str = "") -> dict:
    cli("sim", "say", "--from", number, text, *(("--name", name) if name else ()))
    [ticket] = [t for t in cli.json("tickets", "list", "--status", "pending") if t["contact_number"] == number]
    return ticket


def test_status_shows_daemon_connections_and_token_location(cli, demo_d):
    out = cli("status").stdout
    for text in ("zingd 0.1.0", str(demo_d.socket), "admin@demo.zing (superadmin, via os_user)", "Demo WhatsApp",
                 "connected", "event seq", "none: peer-uid login", "outbox"):
        assert text in out
    info = cli.json("status")
    assert info["authenticated"] is True and info["token_location"] == "none: peer-uid login"
    assert info["pid"] == demo_d.proc.pid and isinstance(info["uptime_s"], float)
    assert {"queued", "oldest_age_s"} <= info["outbox"].keys() and info["database_bytes"] > 0
    assert info["connections"][0]["status"] == "connected"
    [line] = cli("status", "--jsonl").stdout.splitlines()
    assert '"event_seq"' in line


def test_sim_customers_say_fault_and_journal(cli):
    customers = cli.jsonl("sim", "customers")
    assert len(customers) >= 2 and set(customers[0]) == {"number", "name"}
    assert "Ana Souza" in cli("sim", "customers").stdout
    said = cli.json("sim", "say", "--from", "5511900000001", "-", "--name", "Stdin Sam", input="from stdin\n")
    assert said["delivered"] is True and said["wa_id"]
    assert "stored" in cli("sim", "say", "--from", "5511900000001", "--image", "a picture").stdout
    cli("sim", "say", "--from", "12", "too short", code=1)
    assert cli.json("sim", "fault", "--fail-rate", "0.25", "--duplicates")["send_failure_rate"] == 0.25
    reset = cli.json("sim", "fault", "--fail-rate", "0", "--no-duplicates")
    assert reset["send_failure_rate"] == 0 and reset["duplicate_inbound"] is False
    assert "customer_sent" in cli("sim", "journal").stdout
    assert cli.json("sim", "journal")["customer_sent"] >= 2


def test_ticket_lifecycle(cli):
    t = new_ticket(cli, "5511900000002", "quero comprar", name="Lia Lifecycle")
    assert "Lia Lifecycle" in cli("tickets", "list", "--status", "pending").stdout
    assert "accepted: open (Demo Admin)" in cli("tickets", "accept", str(t["id"])).stdout
    assert any(m["id"] == t["id"] for m in cli.json("tickets", "list", "--mine"))
    err = cli("tickets", "accept", str(t["id"]), code=1).stderr
    assert "error:" in err and "[conflict]" in err
    moved = cli.json("tickets", "transfer", str(t["id"]), "--to-user", "2")
    assert moved["user_name"] == "Ana Agent"
    assert [x["id"] for x in cli.json("tickets", "list", "--user", "2")] == [t["id"]]
    assert cli.json("tickets", "close", str(t["id"]), "--no-farewell")["status"] == "closed"
    err = cli("tickets", "accept", str(t["id"]), code=1).stderr
    assert "closed" in err and "[conflict]" in err
    assert cli.json("tickets", "reopen", str(t["id"]))["status"] == "open"
    shown = cli("tickets", "show", str(t["id"])).stdout
    assert "quero comprar" in shown and "Lia Lifecycle" in shown and "messages" in shown
    full = cli.json("tickets", "show", str(t["id"]))
    assert full["id"] == t["id"] and full["messages"][0]["body"] == "quero comprar"
    cli("tickets", "transfer", str(t["id"]), code=2)  # neither --to-user nor --to-queue
    [sales] = [q for q in cli.json("rpc", "queue.list") if q["name"] == "Vendas"]
    assert cli.json("tickets", "transfer", str(t["id"]), "--to-queue", str(sales["id"]))["queue_name"] == "Vendas"
    assert t["id"] in [x["id"] for x in cli.json("tickets", "list", "--queue", str(sales["id"]))]


def test_unknown_ids_exit_1_with_the_kind(cli):
    result = cli("tickets", "show", "999999", code=1)
    assert result.stdout == "" and "no ticket 999999" in result.stderr and "[not_found]" in result.stderr
    err = cli("users", "show", "999999", "--json", code=1).stderr
    assert '"kind": "not_found"' in err


def test_ticket_paging_follows_every_page(cli):
    for i in range(3):
        new_ticket(cli, f"55119000001{i}0", f"paging {i}")
    assert len(cli.jsonl("tickets", "list", "--limit", "1")) == 1
    every = cli.jsonl("tickets", "list", "--limit", "1", "--all")
    ids = [t["id"] for t in every]
    assert len(ids) >= 3 and len(set(ids)) == len(ids)
    assert len(cli.json("tickets", "list", "--all", "--limit", "2")) == len(ids)
    assert len(cli.jsonl("tickets", "list", "--all", "--connection", "1")) == len(ids)
    assert cli.jsonl("tickets", "list", "--connection", "999") == []
    assert "no tickets" in cli("tickets", "list", "--connection", "999").stdout
    cli("tickets", "list", "--limit", "0", code=2)


def test_messages_send_list_search_retry(cli, demo_d, tmp_path):
    t = new_ticket(cli, "5511900000003", "preciso de ajuda")
    tid = str(t["id"])
    cli("tickets", "accept", tid)
    sent = cli.json("messages", "send", tid, "Olá! Como posso ajudar?")
    assert sent["ack"] == "queued" and sent["direction"] == "out"
    cli("messages", "send", tid, "-", input="linha um\nlinha dois\n")
    doc = tmp_path / "manual.txt"
    doc.write_text("manual")
    first_in = cli.json("messages", "list", tid)[0]
    with_file = cli.json("messages", "send", tid, "o manual", "--file", str(doc), "--quote", str(first_in["id"]))
    assert with_file["media_path"] and with_file["quoted_id"] == first_in["id"]
    cli("messages", "send", tid, code=2)  # nothing to send
    cli("messages", "send", tid, "x", "--file", str(tmp_path / "missing"), code=2)

    msgs = wait_for(lambda: (m := cli.json("messages", "list", tid)) and m[-1]["ack"] == "read" and m)
    ours = ["preciso de ajuda", "Olá! Como posso ajudar?", "linha um\nlinha dois", "o manual"]
    assert [m["body"] for m in msgs if m["body"] in ours] == ours  # the demo's chatbot menu comes in between
    table = cli("messages", "list", tid).stdout
    assert "linha um" in table and "read" in table
    assert re.search(r"\d\d:\d\d", table) and str(msgs[0]["created_at"]) not in table
    older = cli.json("messages", "list", tid, "--before", str(msgs[-1]["id"]), "--limit", "1")
    assert [m["id"] for m in older] == [msgs[-2]["id"]]

    [hit] = cli.json("messages", "search", "ajudar", "--ticket", tid)
    assert hit["id"] == sent["id"]
    assert "no matches" in cli("messages", "search", "zzzyyyxxx").stdout

    assert "[conflict]" in cli("messages", "retry", str(msgs[0]["id"]), code=1).stderr
    cli("sim", "fault", "--fail-rate", "1")
    try:
        doomed = cli.json("messages", "send", tid, "vai falhar")
        wait_for(lambda: cli.json("messages", "list", tid)[-1]["ack"] == "failed")
    finally:
        cli("sim", "fault", "--fail-rate", "0")
    assert "queued again" in cli("messages", "retry", str(doomed["id"])).stdout
    wait_for(lambda: cli.json("messages", "list", tid)[-1]["ack"] in ("sent", "delivered", "read"))


def test_contacts_search_show_and_update(cli):
    t = new_ticket(cli, "5511900000004", "oi", name="Carla Contact")
    [c] = cli.json("contacts", "list", "--search", "Carla Contact")
    assert c["id"] == t["contact_id"] and c["number"] == "5511900000004"
    shown = cli("contacts", "show", str(c["id"])).stdout
    assert "5511900000004@s.whatsapp.net" in shown and "tickets" in shown
    assert [x["id"] for x in cli.json("contacts", "show", str(c["id"]))["tickets"]] == [t["id"]]
    cid = str(c["id"])
    updated = cli.json("contacts", "update", cid, "--name", "Carla C.", "--field", "tier=gold",
                       "--field", "city=Recife", "--opt-out")
    assert updated["name"] == "Carla C." and updated["opted_out"]
    assert updated["custom_fields"] == {"tier": "gold", "city": "Recife"}
    again = cli.json("contacts", "update", cid, "-f", "tier=silver", "--opt-in")
    assert again["custom_fields"] == {"tier": "silver", "city": "Recife"} and not again["opted_out"]
    cli("contacts", "update", cid, "--field", "broken", code=2)
    assert cli.jsonl("contacts", "list", "--search", "nobody-by-this-name") == []


def test_connections_add_update_restart_logout_delete(cli):
    added = cli.json("connections", "add", "Spare")
    cid = str(added["id"])
    assert added["kind"] == "sim" and added["status"] == "connected"
    assert "Spare" in cli("connections", "list").stdout
    assert any(c["id"] == added["id"] for c in cli.jsonl("connections", "list"))
    updated = cli.json("connections", "update", cid, "--name", "Spare 2", "--greeting", "Olá!")
    assert updated["name"] == "Spare 2" and updated["greeting"] == "Olá!"
    assert "Olá!" in cli("connections", "show", cid).stdout
    assert "restarted connection" in cli("connections", "restart", cid).stdout
    assert "[conflict]" in cli("connections", "pair", cid, code=1).stderr  # sim numbers don't pair
    assert cli.json("connections", "logout", cid)["status"] == "logged_out"
    assert f"deleted connection {cid}" in cli("connections", "delete", cid).stdout
    cli("connections", "show", cid, code=1)
    wa = cli.json("connections", "add", "Real number", "--kind", "whatsapp", "--farewell", "Tchau")
    assert wa["kind"] == "whatsapp" and wa["farewell"] == "Tchau"
    cli("connections", "delete", str(wa["id"]))


def test_users_as_tenant_admin(cli):
    emails = [u["email"] for u in cli.json("users", "list")]
    assert {"admin@demo.zing", "ana@demo.zing"} <= set(emails)
    assert "Ana Agent" in cli("users", "list").stdout
    assert cli.json("users", "status", "away")["status"] == "away"
    assert "is now online" in cli("users", "status", "online").stdout
    assert "Demo Co" in cli("tenants", "list").stdout  # the demo's admin runs the demo daemon
    assert cli.json("tenants", "show")["name"] == "Demo Co"


def test_rpc_raw_calls(cli):
    assert cli.json("rpc", "rpc.hello")["name"] == "zingd"
    hello = cli("rpc", "rpc.hello").stdout
    assert '"api": 1' in hello
    names = {m["name"] for m in cli.json("rpc", "rpc.discover")["methods"]}
    assert {"ticket.list", "message.send", "events.subscribe"} <= names
    piped = cli.json("rpc", "contact.list", "-", input='{"limit": 1}')
    assert isinstance(piped, list) and len(piped) <= 1
    assert "[method_not_found]" in cli("rpc", "no.such", code=1).stderr
    assert "[invalid_params]" in cli("rpc", "ticket.list", '{"bogus": 1}', code=1).stderr
    cli("rpc", "ticket.get", "{not json", code=2)
    cli("rpc", "ticket.get", "[1, 2]", code=2)


def test_json_and_jsonl_shapes(cli):
    new_ticket(cli, "5511900000005", "shape")
    tickets = cli.json("tickets", "list")
    assert isinstance(tickets, list) and all(isinstance(t["last_message_at"], float) for t in tickets)
    lines = cli("tickets", "list", "--jsonl").stdout.splitlines()
    assert len(lines) == len(tickets) and all(line.startswith("{") for line in lines)
    assert isinstance(cli.json("connections", "show", "1")["created_at"], float)
    cli("tickets", "list", "--json", "--jsonl", code=2)
