"""Companies, people and permissions: limits, users, tokens, audit, contacts in and out."""

import os
import sqlite3
import stat

import pytest

from tests.integration.desk import make_desk
from zingd.actor import RANK
from zingd.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from zingd.services.permissions import PERMISSIONS, PUBLIC


def test_role_matrix_every_method(desk):
    """Every method x role: below the method's role is forbidden, at or above it is not."""
    clients = {"superadmin": desk.admin}
    for role in ("admin", "supervisor", "agent"):
        clients[role] = desk.agent(f"{role}1", role=role)
    discovered = {m["name"]: m["x-role"] for m in desk.admin.call("rpc.discover")["methods"]}
    assert discovered == PERMISSIONS
    skip = {"auth.logout", "auth.login", "auth.token", "auth.bootstrap", "events.subscribe"}
    for method, need in sorted(discovered.items()):
        if method in skip or need == PUBLIC:
            continue
        for role, client in clients.items():
            try:
                client.call(method, {})
                outcome = "ok"
            except Forbidden:
                outcome = "forbidden"
            except Unauthenticated:
                outcome = "unauthenticated"
            except Exception as e:  # invalid params, not found...: past the permission check
                outcome = getattr(e, "kind", "error")
            if RANK[role] < RANK[need]:
                assert outcome == "forbidden", (method, role, outcome)
            else:
                assert outcome not in ("forbidden", "unauthenticated"), (method, role, outcome)


def test_tenant_limits_and_grants(desk):
    desk.admin.call("tenant.update", {"id": 1, "max_users": 2})
    desk.agent("ana")
    with pytest.raises(Conflict, match="raise max_users"):
        desk.agent("bia")
    admin = desk.admin.call("tenant.update", {"id": 1, "max_users": 10})
    assert admin["max_users"] == 10
    boss = desk.agent("boss2", role="admin")
    with pytest.raises(Forbidden, match="cannot grant"):
        boss.call("user.create", {"email": "x@acme.test", "password": "secret-pw", "role": "superadmin"})
    with pytest.raises(Forbidden):
        boss.call("tenant.create", {"name": "Other"})
    desk.admin.call("tenant.update", {"id": 1, "max_connections": 1})
    with pytest.raises(Conflict, match="max_connections"):
        desk.admin.call("connection.create", {"name": "Second", "kind": "sim"})
    with pytest.raises(Invalid, match="kind"):
        desk.admin.call("connection.create", {"name": "Bad", "kind": "telegram"})


def test_disable_user_and_reset_password(desk):
    ana = desk.agent("ana")
    desk.admin.call("user.update", {"id": desk.agent_ids["ana"], "password": "new-secret"})
    with pytest.raises(Unauthenticated):
        desk.z.client().call("auth.login", {"email": "ana@acme.test", "password": "secret-pw"})
    desk.z.client().call("auth.login", {"email": "ana@acme.test", "password": "new-secret"})
    desk.admin.call("user.update", {"id": desk.agent_ids["ana"], "enabled": False})
    with pytest.raises(ConnectionError):
        ana.call("auth.whoami")  # her live connection was closed
    with pytest.raises(Unauthenticated, match="disabled"):
        desk.z.client().call("auth.login", {"email": "ana@acme.test", "password": "new-secret"})
    with pytest.raises(Invalid, match="8 characters"):
        desk.admin.call("user.create", {"email": "short@acme.test", "password": "short"})


def test_a_new_role_applies_to_live_connections(desk):
    """The server follows the committed user.updated: the same connection acts with the new role."""
    ana = desk.agent("ana")
    with pytest.raises(Forbidden):
        ana.call("user.list")
    desk.admin.call("user.update", {"id": desk.agent_ids["ana"], "role": "supervisor"})
    assert ana.call("auth.whoami")["role"] == "supervisor"
    assert [u["email"] for u in ana.call("user.list")][:1] == ["boss@acme.test"]
    desk.admin.call("user.update", {"id": desk.agent_ids["ana"], "role": "agent", "name": "Ana B."})
    with pytest.raises(Forbidden):
        ana.call("user.list")
    assert ana.call("auth.whoami")["name"] == "Ana B."


def test_queue_membership_reaches_live_subscriptions(desk):
    """Who hears a pending ticket of a queue follows the committed queue.updated / queue.deleted events."""
    from tests.integration.support import Raw

    desk.agent("ana")
    one, two = desk.queue("One"), desk.queue("Two")
    desk.say("5511700000301", "hi")
    t = desk.ticket_of("5511700000301")
    desk.admin.call("ticket.transfer", {"id": t["id"], "queue_id": one})
    with Raw(desk.z.socket) as ana:
        ana.call("auth.login", {"email": "ana@acme.test", "password": "secret-pw"})
        ana.call("events.subscribe", {"topics": ["tenant"]})

        def heard() -> list[int | None]:
            ana.read_available(quiet=0.3)
            return [e["data"]["ticket"]["queue_id"] for e in ana.drain_events() if e["type"] == "ticket.updated"]

        desk.admin.call("ticket.transfer", {"id": t["id"], "queue_id": two})   # One -> Two: not hers
        assert heard() == []
        desk.admin.call("queue.set_members", {"id": two, "user_ids": [desk.agent_ids["ana"]]})
        desk.admin.call("ticket.transfer", {"id": t["id"], "queue_id": one})   # from Two, hers now
        assert heard() == [one]
        desk.admin.call("ticket.transfer", {"id": t["id"], "queue_id": two})
        assert heard() == [two]
        desk.admin.call("queue.set_members", {"id": two, "user_ids": []})
        desk.admin.call("ticket.transfer", {"id": t["id"], "queue_id": one})   # she left Two
        assert heard() == []
        desk.admin.call("queue.set_members", {"id": one, "user_ids": [desk.agent_ids["ana"]]})
        desk.admin.call("ticket.transfer", {"id": t["id"], "queue_id": two})
        assert heard() == [two]
        desk.admin.call("ticket.transfer", {"id": t["id"], "queue_id": one})
        assert heard() == [one]


def test_session_tokens_expire(tmp_path):
    d = make_desk(tmp_path, env={"ZING_RPC__SESSION_TTL_HOURS": "0"})
    try:
        with pytest.raises(Unauthenticated):
            c = d.z.client()
            token = c.call("auth.login", {"email": "boss@acme.test", "password": "boss-pass1"})["token"]
            d.z.client(token=token)
    finally:
        d.close()
        d.z.kill()


def test_api_tokens_are_scoped_shown_once_and_revocable(desk):
    out = desk.admin.call("token.create", {"name": "crm sync", "role": "agent"})
    token = out["token"]
    assert token.startswith("za_") and out["role"] == "agent"
    assert all("token" not in t for t in desk.admin.call("token.list"))
    script = desk.z.client(token=token)
    assert script.call("auth.whoami")["role"] == "agent"
    with pytest.raises(Forbidden):
        script.call("user.create", {"email": "a@b.co", "password": "12345678"})
    desk.admin.call("token.revoke", {"id": out["id"]})
    with pytest.raises(ConnectionError):
        script.call("auth.whoami")
    with pytest.raises(Unauthenticated, match="revoked"):
        desk.z.client(token=token)
    db = sqlite3.connect(desk.z.data_dir / "zing.db")
    assert token not in str(db.execute("SELECT * FROM tokens").fetchall())  # stored hashed
    ana = desk.agent("ana")
    with pytest.raises(Forbidden):
        ana.call("token.create", {"name": "x", "role": "admin"})


def test_audit_log_records_actions_and_cannot_be_edited(desk):
    desk.agent("ana")
    desk.say("5511700000001", "hi")
    t = desk.ticket_of("5511700000001")
    desk.admin.call("ticket.accept", {"id": t["id"]})
    desk.admin.call("ticket.close", {"id": t["id"], "farewell": False})
    entries = desk.admin.call("audit.list", {"action": "ticket.*"})
    assert [(e["action"], e["target_id"], e["user_name"]) for e in entries] == [
        ("ticket.accept", t["id"], "boss"), ("ticket.close", t["id"], "boss")]
    assert {e["action"] for e in desk.admin.call("audit.list")} >= {"auth.bootstrap", "user.create", "auth.login"}
    assert not [m for m in desk.admin.call("rpc.discover")["methods"]
                if m["name"].startswith("audit.") and m["name"] != "audit.list"]
    db = sqlite3.connect(desk.z.data_dir / "zing.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_log SET action = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_log")


CSV = """number,name,email,plan,tags
+55 11 91234-5678,Ana Souza,ana@x.com,gold,vip;lead
(11) 91234-5679,Bruno,,silver,
5511912345678,Ana S.,,platinum,
not a number,Broken,,,
"""


def test_contacts_import_dry_run_errors_and_all_or_nothing(desk, tmp_path):
    report = desk.admin.call("contact.import", {"data": CSV, "dry_run": True})
    assert report["rows"] == 4 and report["merged_in_file"] == 1 and report["to_create"] == 2
    assert report["invalid"] == [{"row": 5, "column": "number", "error": "not a phone number: 'not a number'"}]
    with pytest.raises(Invalid, match="1 invalid row") as err:
        desk.admin.call("contact.import", {"data": CSV})
    assert err.value.details["report"]["to_create"] == 2
    assert desk.admin.call("contact.list") == []  # nothing half-imported
    path = tmp_path / "c.csv"
    path.write_text(CSV)
    with path.open("rb") as f:
        upload = desk.admin.upload(f, path.name)
    done = desk.admin.call("contact.import", {"upload_id": upload["upload_id"], "skip_invalid": True})
    assert done["imported"] is True
    contacts = {c["number"]: c for c in desk.admin.call("contact.list")}
    assert set(contacts) == {"5511912345678", "5511912345679"}
    ana = contacts["5511912345678"]
    assert ana["name"] == "Ana S." and ana["custom_fields"] == {"plan": "platinum"}
    assert desk.admin.call("contact.get", {"id": ana["id"]})["tags"] == ["lead", "vip"]
    # a second import merges into the existing contact
    desk.admin.call("contact.import", {"data": "telefone,cidade\n5511912345678,Recife\n"})
    again = desk.admin.call("contact.get", {"id": ana["id"]})
    assert again["custom_fields"] == {"plan": "platinum", "cidade": "Recife"}
    with pytest.raises(Invalid, match="no number column"):
        desk.admin.call("contact.import", {"data": "name\nx\n"})
    with pytest.raises(NotFound, match="no upload"):  # used by the import above
        desk.admin.call("contact.import", {"upload_id": upload["upload_id"]})


def test_vcard_import_export_and_merge(desk):
    vcf = ("BEGIN:VCARD\nVERSION:3.0\nFN:Carla Dias\nTEL;TYPE=CELL:+55 21 98888-0003\nEND:VCARD\n"
           "BEGIN:VCARD\nFN:No Phone\nEND:VCARD\n")
    report = desk.admin.call("contact.import", {"format": "vcard", "data": vcf, "skip_invalid": True})
    assert report["to_create"] == 1 and report["invalid"][0]["error"] == "vCard without TEL"
    exported = desk.admin.call("contact.export")
    assert [(c["number"], c["name"]) for c in exported] == [("5521988880003", "Carla Dias")]

    desk.say("5521988880003", "oi")  # the imported contact writes in: same contact, no duplicate
    assert len(desk.admin.call("contact.list")) == 1
    other = desk.admin.call("contact.create", {"number": "+55 21 97777-0004", "name": "Carla (work)",
                                               "custom_fields": {"company": "ACME"}})
    with pytest.raises(Conflict):
        desk.admin.call("contact.create", {"number": "5521977770004"})
    merged = desk.admin.call("contact.merge", {"id": other["id"], "into_id": exported[0]["id"]})
    assert merged["custom_fields"] == {"company": "ACME"}
    assert desk.admin.call("contact.get", {"id": merged["id"]})["ids"] == [
        "5521977770004@s.whatsapp.net", "5521988880003@s.whatsapp.net"]
    with pytest.raises(NotFound):
        desk.admin.call("contact.get", {"id": other["id"]})
    with pytest.raises(Invalid):
        desk.admin.call("contact.merge", {"id": merged["id"], "into_id": merged["id"]})
    history = desk.admin.call("message.list", {"contact_id": merged["id"]})["messages"]
    assert [m["body"] for m in history] == ["oi"]
    with pytest.raises(Conflict, match="merge"):
        desk.admin.call("contact.delete", {"id": merged["id"]})
    lone = desk.admin.call("contact.create", {"number": "5521966660005"})
    assert desk.admin.call("contact.delete", {"id": lone["id"]})["number"] == "5521966660005"


def test_report_summary(desk):
    desk.say("5511700000100", "hi")
    t = desk.ticket_of("5511700000100")
    desk.admin.call("message.send", {"ticket_id": t["id"], "body": "hello"})
    desk.admin.call("ticket.close", {"id": t["id"], "farewell": False})
    report = desk.admin.call("report.summary")
    assert report["total"]["tickets"] == 1 and report["total"]["closed"] == 1
    assert report["total"]["avg_first_response_s"] >= 0
    assert report["agents"][0]["user_name"] == "boss"
    assert report["messages"]["inbound"] == 1


def test_data_dir_is_private(desk):
    mode = stat.S_IMODE(os.stat(desk.z.socket.parent).st_mode)
    assert mode == 0o700 or desk.z.socket.parent == desk.z.root
    assert stat.S_IMODE(os.stat(desk.z.socket).st_mode) == 0o600
