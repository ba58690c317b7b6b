"""zingctl's desk commands on Demo Co: queues, settings, tags, notes, quick replies, contacts in and out,
send-to, tokens, audit, reports, schedules, webhooks, backup.

Each test makes its own customers (own numbers) and names, so they share one daemon.
"""

from __future__ import annotations

import csv
import io
import json
import types

from tests.cli.conftest import Cli
from tests.helpers import Zingd
from zingctl import audit
from zingd.rpc.client import SyncClient

SALES_HOURS = {"timezone": "America/Sao_Paulo", "days": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]]},
               "holidays": ["2026-12-25"]}


def new_ticket(cli, number: str, text: str) -> dict:
    cli("sim", "say", "--from", number, text)
    [ticket] = [t for t in cli.json("tickets", "list") if t["contact_number"] == number and t["status"] != "closed"]
    return ticket


def test_queues_members_and_connection_settings(cli, tmp_path):
    assert {"Vendas", "Suporte"} <= {q["name"] for q in cli.json("queues", "list")}
    hours = tmp_path / "hours.json"
    hours.write_text(json.dumps(SALES_HOURS))
    q = cli.json("queues", "create", "Cobrança", "--hours", str(hours), "--greeting", "Oi!", "--out-of-hours",
                 "Fechado", "--color", "#112233", "--assign", "round_robin", "--auto-close-hours", "48",
                 "--auto-close-message", "Encerrado por inatividade")
    assert (q["name"], q["business_hours"], q["greeting"], q["out_of_hours_message"], q["color"], q["assign_mode"],
            q["auto_close_hours"], q["auto_close_message"]) == (
        "Cobrança", SALES_HOURS, "Oi!", "Fechado", "#112233", "round_robin", 48, "Encerrado por inatividade")
    out = cli("queues", "list").stdout
    assert "Cobrança" in out and "mon 08:00-12:00,13:00-18:00 (America/Sao_Paulo)" in out and "48h" in out
    q2 = cli.json("queues", "update", str(q["id"]), "--hours", "-", "--assign-mode", "balanced", "--name",
                  "Cobranças", input="{}")
    assert (q2["business_hours"], q2["assign_mode"], q2["name"]) == ({}, "balanced", "Cobranças")
    assert cli.json("queues", "members", str(q["id"]), "2", "3")["members"] == [2, 3]
    assert "members: none" in cli("queues", "members", str(q["id"]), "--clear").stdout
    cli("queues", "members", str(q["id"]), code=2)  # neither ids nor --clear
    cli("queues", "create", "Bad", "--assign", "sometimes", code=2)
    assert "[invalid]" in cli("queues", "update", str(q["id"]), "--color", "red", code=1).stderr

    assert cli.json("connections", "queues", "1", str(q["id"]), "1") == {"id": 1, "queue_ids": sorted([1, q["id"]])}
    assert "all of the tenant's queues" in cli("connections", "queues", "1", "--all").stdout
    menu = tmp_path / "menu.json"
    menu.write_text(json.dumps([{"label": "Vendas", "queue_id": 1}, {"label": "Suporte", "queue_id": 2}]))
    c = cli.json("connections", "update", "1", "--menu", str(menu), "--groups", "route", "--default-queue", "2",
                 "--menu-retries", "2", "--pacing", "-", input='{"daily_cap": 250}')
    s = c["settings"]
    assert s["menu"][1] == {"label": "Suporte", "queue_id": 2} and s["pacing"] == {"daily_cap": 250}
    assert (s["groups"], s["default_queue_id"], s["menu_max_retries"]) == ("route", 2, 2)
    cli("connections", "update", "1", "--menu", "-", "--pacing", "-", input="[]", code=2)  # one stdin only
    cli("connections", "update", "1", "--pacing", "-", input="[1]", code=2)  # not an object
    cli("connections", "update", "1", "--groups", "maybe", code=2)
    cli.json("connections", "update", "1", "--pacing", "-", input="{}")

    assert cli.json("queues", "delete", str(q["id"]))["id"] == q["id"]
    assert "no queue" in cli("queues", "delete", str(q["id"]), code=1).stderr
    assert "[not_found]" in cli("connections", "queues", "999", "1", code=1).stderr


def test_tenant_settings_and_users_me(cli):
    s = cli.json("tenants", "settings", "--rating", "--rating-prompt", "Nota de 1 a 5?", "--region", "PT",
                 "--opt-out-keywords", "SAIR, STOP", "--opt-out-reply", "Ok, removido")
    assert s["rating"] is True and s["opt_out_keywords"] == ["SAIR", "STOP"] and s["region"] == "PT"
    out = cli("tenants", "settings").stdout
    assert "Nota de 1 a 5?" in out and "Ok, removido" in out
    assert cli.json("tenants", "settings", "--no-rating", "--region", "BR")["rating"] is False

    me = cli.json("users", "me")
    assert me["email"] == "admin@demo.zing" and me["via"] == "os_user"
    u = cli.json("users", "me", "--name", "Admin Renamed", "--signature")
    assert (u["name"], u["signature"]) == ("Admin Renamed", 1)
    assert "signature off" in cli("users", "me", "--name", me["name"], "--no-signature").stdout
    assert "updated admin@demo.zing" in cli("users", "me", "--password", input="new-pass-1\nnew-pass-1\n").stdout
    with SyncClient(cli.socket) as c:
        assert c.call("auth.login", {"email": "admin@demo.zing", "password": "new-pass-1"})["token"]
    cli("users", "me", "--password-stdin", input="demo-admin\n")
    with SyncClient(cli.socket) as c:
        assert c.call("auth.login", {"email": "admin@demo.zing", "password": "demo-admin"})["token"]


def test_tags_notes_history_and_read(cli):
    t = new_ticket(cli, "5511910000001", "preciso de ajuda")
    tid = str(t["id"])
    for name in ("vip", "billing"):
        cli("tags", "create", name)
    assert cli.json("tickets", "tag", tid, "vip", "billing")["tags"] == ["billing", "vip"]
    assert "tags: billing, vip" in cli("tickets", "tag", tid, "vip", "billing").stdout
    cli("tickets", "tag", tid, code=2)  # no tags and no --clear
    tags = {g["name"]: g for g in cli.json("tags", "list")}
    assert tags["vip"]["tickets"] >= 1
    made = cli.json("tags", "create", "lead", "--color", "#ff0000")
    assert made["color"] == "#ff0000" and "lead" in cli("tags", "list").stdout
    assert cli.json("contacts", "tag", str(t["contact_id"]), "lead", "vip") == {"id": t["contact_id"],
                                                                                "tags": ["lead", "vip"]}
    assert "tags: none" in cli("contacts", "tag", str(t["contact_id"]), "--clear").stdout
    assert cli.json("tags", "delete", str(made["id"]))["name"] == "lead"
    assert "[not_found]" in cli("tags", "delete", str(made["id"]), code=1).stderr

    n = cli.json("notes", "add", tid, "cliente pediu retorno")
    assert n["ticket_id"] == t["id"] and n["user_name"]
    cli("notes", "add", tid, "-", input="segunda nota\n")
    notes = cli.json("notes", "list", tid)
    assert [x["body"] for x in notes] == ["cliente pediu retorno", "segunda nota"]
    assert "segunda nota" in cli("notes", "list", tid).stdout
    history = cli.json("tickets", "history", tid)
    assert {"tags", "note"} <= {h["action"] for h in history}
    assert "tags=" in cli("tickets", "history", tid).stdout
    assert cli.json("tickets", "read", tid) == {"ticket_id": t["id"], "marked": 1}
    assert "0 message(s) marked read" in cli("tickets", "read", tid).stdout
    for args in (("notes", "add", "999999", "x"), ("notes", "list", "999999"), ("tickets", "history", "999999"),
                 ("tickets", "read", "999999"), ("tickets", "tag", "999999", "x")):
        assert "[not_found]" in cli(*args, code=1).stderr


def test_quick_replies(cli):
    q = cli.json("quickreplies", "create", "/obrigado", "Obrigado, {{first_name}}!")
    assert (q["shortcut"], q["scope"]) == ("obrigado", "tenant")
    mine = cli.json("quickreplies", "create", "meu", "-", "--personal", input="só meu\n")
    assert (mine["scope"], mine["body"]) == ("personal", "só meu")
    assert [r["shortcut"] for r in cli.json("quickreplies", "list", "--query", "obg")] == ["obrigado"]
    assert "/meu" in cli("quickreplies", "list").stdout
    up = cli.json("quickreplies", "update", str(q["id"]), "--shortcut", "valeu", "--text", "Valeu!")
    assert (up["shortcut"], up["body"]) == ("valeu", "Valeu!")
    assert "deleted quick reply" in cli("quickreplies", "delete", str(mine["id"])).stdout
    assert "[not_found]" in cli("quickreplies", "update", str(mine["id"]), "--text", "x", code=1).stderr
    assert "[conflict]" in cli("quickreplies", "create", "valeu", "again", code=1).stderr


def test_contacts_create_merge_delete_and_history(cli):
    a = cli.json("contacts", "create", "+55 11 92000-0001", "--name", "Dup Dora", "--field", "plano=ouro",
                 "--tag", "importado")
    assert (a["number"], a["custom_fields"]) == ("5511920000001", {"plano": "ouro"})
    assert "created contact" in cli("contacts", "create", "11920000002", "--name", "Keep Kim").stdout  # BR local
    [b] = cli.json("contacts", "list", "--search", "Kim")
    assert b["number"] == "5511920000002"
    assert "[conflict]" in cli("contacts", "create", "5511920000002", code=1).stderr
    merged = cli.json("contacts", "merge", str(a["id"]), "--into", str(b["id"]), "--yes")
    assert merged["id"] == b["id"] and merged["custom_fields"] == {"plano": "ouro"}
    assert "importado" in cli.json("contacts", "show", str(b["id"]))["tags"]
    assert "[not_found]" in cli("contacts", "merge", str(a["id"]), "--into", str(b["id"]), "--yes", code=1).stderr

    sent = cli.json("messages", "send-to", "+55 11 92000-0002", "olá Kim")
    assert sent["direction"] == "out" and sent["body"] == "olá Kim"
    assert "queued on ticket" in cli("messages", "send-to", "5511920000002", "-", input="de novo\n").stdout
    history = cli.json("contacts", "history", str(b["id"]))
    assert [m["body"] for m in history] == ["olá Kim", "de novo"] and history[0]["ticket_id"] == sent["ticket_id"]
    assert "olá Kim" in cli("contacts", "history", str(b["id"])).stdout
    assert "[conflict]" in cli("contacts", "delete", str(b["id"]), code=1).stderr  # it has a conversation
    assert "[invalid]" in cli("messages", "send-to", "123", "x", code=1).stderr
    lone = cli.json("contacts", "create", "5511920000003")
    assert cli.json("contacts", "delete", str(lone["id"]))["id"] == lone["id"]
    assert "[not_found]" in cli("contacts", "delete", str(lone["id"]), code=1).stderr
    assert "[not_found]" in cli("contacts", "history", str(lone["id"]), code=1).stderr


def test_contacts_import_and_export(cli, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("telefone,nome,email,tags,cidade\n5511930000001,Ivo,ivo@x.com,imp;vip,Recife\n"
                    "11930000002,Iara,,imp,Natal\n5511930000001,Ivo Souza,,,\n")
    dry = cli.json("contacts", "import", str(good), "--dry-run")
    assert (dry["rows"], dry["to_create"], dry["merged_in_file"], dry["imported"]) == (3, 2, 1, False)
    out = cli("contacts", "import", str(good)).stdout
    assert "imported" in out and "to create" in out
    again = cli.json("contacts", "import", str(good))
    assert (again["to_create"], again["to_update"], again["imported"]) == (0, 2, True)

    bad = "number,name\n5511930000003,Bia\nnot-a-number,Zé\n"
    result = cli("contacts", "import", "-", input=bad, code=1)
    assert "not a phone number" in result.stdout and "invalid rows" in result.stdout  # the report, as a table
    assert "nothing imported" in result.stderr
    err = json.loads(cli("contacts", "import", "-", "--json", input=bad, code=1).stderr)["error"]
    assert err["kind"] == "invalid" and err["details"]["report"]["invalid"][0]["row"] == 3
    skipped = cli.json("contacts", "import", "-", "--skip-invalid", input=bad)
    assert skipped["imported"] is True and len(skipped["invalid"]) == 1
    vcf = tmp_path / "people.vcf"
    vcf.write_text("BEGIN:VCARD\nFN:Vera Card\nTEL:+55 11 93000-0004\nEND:VCARD\n")
    assert cli.json("contacts", "import", str(vcf))["to_create"] == 1  # vCard by extension
    cli("contacts", "import", str(tmp_path / "missing.csv"), code=2)

    rows = list(csv.DictReader(io.StringIO(cli("contacts", "export").stdout)))
    ivo = next(r for r in rows if r["number"] == "5511930000001")
    assert list(rows[0])[:7] == ["id", "number", "name", "push_name", "email", "opted_out", "tags"]
    assert (ivo["name"], ivo["email"], ivo["tags"], ivo["cidade"]) == ("Ivo Souza", "ivo@x.com", "imp;vip", "Recife")
    as_json = cli.json("contacts", "export")
    assert next(c for c in as_json if c["number"] == "5511930000001")["tags"] == ["imp", "vip"]
    target = tmp_path / "out.json"
    assert cli.json("contacts", "export", "--format", "json", "-o", str(target))["contacts"] == len(as_json)
    assert json.loads(target.read_text()) == as_json
    assert len(cli.jsonl("contacts", "export")) == len(as_json)


def test_tokens(cli):
    t = cli.json("tokens", "create", "crm-sync", "--role", "agent", "--ttl-days", "30")
    assert t["token"] and t["role"] == "agent" and t["expires_at"]
    shown = cli("tokens", "create", "table-one")
    assert "table-one" in shown.stdout and "za_" in shown.stdout and "only this once" in shown.stderr
    quiet = cli("tokens", "create", "quiet-one", "--quiet").stdout
    assert quiet.startswith("za_") and quiet.count("\n") == 1
    assert cli.json("--token", quiet.strip(), "status")["user"]["via"] == "token"
    listed = cli.json("tokens", "list")
    assert {"crm-sync", "table-one", "quiet-one"} <= {x["name"] for x in listed}
    assert all("token" not in x for x in listed)
    assert cli.json("tokens", "list", "--all")
    assert cli.json("tokens", "revoke", str(t["id"]))["revoked_at"]
    assert "[not_found]" in cli("tokens", "revoke", "999999", code=1).stderr
    assert "[invalid]" in cli("tokens", "create", "no-such-role", "--role", "king", code=1).stderr


def test_audit_filters_and_follow(cli, monkeypatch):
    tag = cli.json("tags", "create", "audited")
    entries = cli.json("audit", "--action", "tag.*", "--target-type", "tag", "--target-id", str(tag["id"]))
    assert [(e["action"], e["target_id"]) for e in entries] == [("tag.create", tag["id"])]
    assert entries[0]["user_name"] and entries[0]["data"] == {"name": "audited"}
    assert "tag.create" in cli("audit", "--action", "tag.*", "--user", "1").stdout
    page = cli.json("audit", "--limit", "2")
    assert len(page) == 2 and cli.json("audit", "--after", str(page[0]["id"]), "--limit", "1") == page[1:]
    assert "more: --after" in cli("audit", "--limit", "1").stderr
    assert cli.json("audit", "--user", "999999") == []

    polls = []

    def sleep(_s):  # the first poll found the trail; add an entry, then Ctrl-C on the next
        polls.append(_s)
        if len(polls) == 1:
            with SyncClient(cli.socket) as c:  # not through zingctl: the follow is running in this process
                c.call("tag.create", {"name": "followed"})
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(audit, "time", types.SimpleNamespace(sleep=sleep))
    lines = cli("audit", "--follow", "--action", "tag.create", "--jsonl").stdout.splitlines()
    names = [json.loads(line)["data"]["name"] for line in lines]
    assert names[-2:] == ["audited", "followed"] and len(polls) == 2
    polls.clear()
    out = cli("audit", "-f", "--action", "tag.create").stdout
    assert "tag.create" in out and "followed" in out


def test_reports(cli):
    new_ticket(cli, "5511940000001", "relatório")
    r = cli.json("reports", "--since", "7d")
    assert {"since", "until", "total", "agents", "queues", "messages"} <= r.keys()
    assert r["total"]["tickets"] >= 1 and r["messages"]["inbound"] >= 1
    out = cli("reports").stdout
    assert "per agent" in out and "per queue" in out and "avg first response" in out
    assert cli.json("reports", "--since", "2000-01-01", "--until", "2000-01-02")["total"]["tickets"] == 0
    cli("reports", "--since", "last tuesday", code=2)


def test_schedules(cli):
    c = cli.json("contacts", "create", "5511950000001", "--name", "Sched Sara")
    s = cli.json("schedules", "add", "--contact", str(c["id"]), "--at", "2031-12-01 09:00", "--cron", "0 9 * * 1-5",
                 "bom dia {{first_name}}")
    assert (s["status"], s["cron"], s["body"]) == ("pending", "0 9 * * 1-5", "bom dia {{first_name}}")
    t = new_ticket(cli, "5511950000002", "me lembre")
    s2 = cli.json("schedules", "add", "--ticket", str(t["id"]), "--at", "2031-12-02 10:00", "-", input="lembrete\n")
    assert s2["ticket_id"] == t["id"] and s2["body"] == "lembrete" and s2["cron"] is None
    assert "then on '0 9 * * 1-5'" in cli("schedules", "update", str(s["id"]), "--text", "olá").stdout
    once = cli.json("schedules", "update", str(s["id"]), "--no-cron", "--at", "2031-12-03 10:00")
    assert once["cron"] is None and once["body"] == "olá"
    listed = cli.json("schedules", "list", "--status", "pending")
    assert {s["id"], s2["id"]} <= {x["id"] for x in listed}
    assert "Sched Sara" in cli("schedules", "list", "--contact", str(c["id"])).stdout
    assert cli.json("schedules", "cancel", str(s2["id"]))["status"] == "cancelled"
    assert [x["id"] for x in cli.json("schedules", "list", "--status", "cancelled")] == [s2["id"]]
    assert "[conflict]" in cli("schedules", "cancel", str(s2["id"]), code=1).stderr
    assert "[not_found]" in cli("schedules", "cancel", "999999", code=1).stderr
    assert "[invalid]" in cli("schedules", "add", "--contact", str(c["id"]), "--at", "2001-01-01 09:00", "x",
                              code=1).stderr
    cli("schedules", "add", "--at", "2031-01-01 09:00", "x", code=2)  # neither --contact nor --ticket
    cli("schedules", "add", "--contact", str(c["id"]), "x", code=2)  # neither --at nor --cron


def test_webhooks(cli):
    w = cli.json("webhooks", "create", "http://127.0.0.1:9/hook", "--event", "ticket.updated", "-e",
                 "ticket.created")
    assert w["secret"].startswith("whsec_") and w["event_types"] == ["ticket.created", "ticket.updated"]
    shown = cli("webhooks", "create", "https://example.invalid/all")
    assert "whsec_" in shown.stdout and "only this once" in shown.stderr
    listed = cli.json("webhooks", "list")
    assert w["id"] in {x["id"] for x in listed} and all("secret" not in x for x in listed)
    assert cli.json("webhooks", "disable", str(w["id"]))["enabled"] == 0
    assert "(enabled)" in cli("webhooks", "enable", str(w["id"])).stdout
    assert cli.json("webhooks", "deliveries", str(w["id"])) == []
    assert "deleted webhook" in cli("webhooks", "delete", str(w["id"])).stdout
    assert "[not_found]" in cli("webhooks", "dead-letters", str(w["id"]), code=1).stderr
    assert "[invalid]" in cli("webhooks", "create", "ftp://x", code=1).stderr


def test_backup(tmp_path, monkeypatch):
    """On a daemon of its own whose OS-user-linked admin is a superadmin (backups are the operator's)."""
    z = Zingd(tmp_path / "zingd").start()
    try:
        with SyncClient(z.socket) as c:
            c.call("auth.bootstrap", {"email": "op@example.com", "password": "operator1", "tenant": "Ops",
                                      "link_os_user": True})
        cli = Cli(z.socket)
        monkeypatch.chdir(tmp_path)
        out = cli("backup", "zing.db")  # a name: the daemon writes into its own backups directory
        target = z.data_dir / "backups" / "zing.db"
        assert target.stat().st_size > 0 and f"backed up the database to {target}" in out.stdout
        assert "KiB" in out.stdout and f"zingd --restore {target}" in out.stderr
        assert not (tmp_path / "zing.db").exists()
        b = cli.json("backup")  # the daemon picks the name
        assert b["path"].startswith(str(z.data_dir / "backups" / "zing-")) and b["bytes"] > 0
        assert b["schema_version"] >= 1
        assert "[conflict]" in cli("backup", "zing.db", code=1).stderr
        assert "[invalid]" in cli("backup", str(tmp_path / "no" / "such.db"), code=1).stderr
    finally:
        z.kill()
