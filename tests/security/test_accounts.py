"""Accounts (issue 11), through a real zingd: logging out revokes the session everywhere, password
guessing is throttled per account and per peer and can't tell known emails from unknown ones,
user.create says nothing about other tenants, a suspended tenant is held out while its numbers
wait (nothing lost), and daemon.status is daemon-wide only for a superadmin."""

from __future__ import annotations

import statistics
import time

import pytest

from tests.helpers import Zingd, bootstrap, wait_for
from tests.integration.desk import make_desk
from tests.integration.test_campaigns import NO_LIMITS
from tests.integration.support import (
    SENT_OR_LATER, UNAUTHENTICATED, Raw, call_err, db_rows, error_code, journal_path, login, read_journal,
)
from zingd.errors import RateLimited

PW = "secret-pw"
BOSS = {"email": "boss@acme.test", "password": "boss-pass1"}  # tests.integration.desk's superadmin
DAEMON_WIDE = ("pid", "data_dir", "database_bytes", "subscribers", "sessions", "inbound", "writes")


def throttle(window_s: float, account: int, peer: int) -> dict[str, str]:
    return {"ZING_RPC__LOGIN_WINDOW_S": str(window_s), "ZING_RPC__LOGIN_ACCOUNT_FAILURES": str(account),
            "ZING_RPC__LOGIN_PEER_FAILURES": str(peer)}


def hung_up(raw: Raw) -> bool:
    """True once zingd has closed this connection."""
    raw.read_available(quiet=0.05, limit=0.5)
    return raw.eof


def message(z: Zingd, message_id: int) -> dict:
    [row] = db_rows(z, "SELECT * FROM messages WHERE id = ?", (message_id,))
    return row


def logs_in(client, email: str, password: str) -> bool:
    """One login try: False while it is throttled."""
    try:
        client.call("auth.login", {"email": email, "password": password})
    except RateLimited:
        return False
    return True


# -- logout ---------------------------------------------------------------------------------------

def test_logout_revokes_the_session_and_closes_its_other_connections(desk):
    desk.admin.call("user.create", {"email": "ana@acme.test", "password": PW})
    with Raw(desk.z.socket) as first, Raw(desk.z.socket) as second:
        token = first.call("auth.login", {"email": "ana@acme.test", "password": PW})["token"]
        assert second.call("auth.token", {"token": token})["email"] == "ana@acme.test"
        assert first.call("auth.logout") == {"revoked": True}
        wait_for(lambda: hung_up(second), timeout=5)
        # the connection that logged out stays open, logged out
        assert error_code(first.request("auth.whoami")) == UNAUTHENTICATED
    with Raw(desk.z.socket) as later:
        assert later.request("auth.token", {"token": token})["error"]["data"]["kind"] == "unauthenticated"
    [row] = db_rows(desk.z, "SELECT revoked_at FROM tokens t JOIN users u ON u.id = t.user_id "
                            "WHERE u.email = 'ana@acme.test'")
    assert row["revoked_at"] is not None
    with desk.z.client() as linked:  # a peer-uid login has no token to revoke
        assert linked.call("auth.logout") == {"revoked": False}
        assert call_err(linked, "auth.whoami").kind == "unauthenticated"


# -- throttling -----------------------------------------------------------------------------------

def test_wrong_passwords_are_throttled_per_account_until_the_window_refills(tmp_path):
    d = make_desk(tmp_path, env=throttle(window_s=6, account=3, peer=100))
    try:
        d.admin.call("user.create", {"email": "ana@acme.test", "password": PW})
        wrong, right = {"email": "ana@acme.test", "password": "not-it-1"}, {"email": "ana@acme.test", "password": PW}
        with d.z.client() as c:
            assert [call_err(c, "auth.login", wrong).kind for _ in range(3)] == ["unauthenticated"] * 3
            limited = call_err(c, "auth.login", wrong)
            assert limited.kind == "rate_limited" and limited.code == -32006, limited
            assert 0 < limited.details["retry_after"] <= 6
            refused = call_err(c, "auth.login", right)  # the right password waits too
            assert refused.kind == "rate_limited"
            assert call_err(c, "auth.login", {**right, "email": "ANA@acme.test"}).kind == "rate_limited"
            assert c.call("auth.login", BOSS)["user"]["email"] == BOSS["email"]  # other accounts go on
            wait_for(lambda: logs_in(c, "ana@acme.test", PW), timeout=15, interval=0.1)
            # a good login clears the account's count: three more tries, then the wait again
            assert [call_err(c, "auth.login", wrong).kind for _ in range(3)] == ["unauthenticated"] * 3
            assert call_err(c, "auth.login", wrong).kind == "rate_limited"
    finally:
        d.close()
        d.z.kill()


def test_failures_across_many_emails_are_throttled_per_peer(tmp_path):
    z = Zingd(tmp_path, env=throttle(window_s=60, account=3, peer=6)).start()
    try:
        bootstrap(z)  # root@example.com / rootpass1; its good login costs the peer nothing
        with z.client() as c:
            kinds = [call_err(c, "auth.login", {"email": f"guess{i}@example.com", "password": "x" * 8}).kind
                     for i in range(6)]
            assert kinds == ["unauthenticated"] * 6
            limited = call_err(c, "auth.login", {"email": "guess99@example.com", "password": "x" * 8})
            assert limited.kind == "rate_limited" and 0 < limited.details["retry_after"] <= 10
        with z.client() as fresh:  # the peer is the OS user, not the connection
            refused = call_err(fresh, "auth.login", {"email": "root@example.com", "password": "rootpass1"})
            assert refused.kind == "rate_limited"
    finally:
        z.kill()


def test_an_unknown_email_answers_as_slowly_as_a_known_one(tmp_path):
    z = Zingd(tmp_path, env=throttle(window_s=60, account=1000, peer=1000)).start()
    try:
        bootstrap(z)

        def took(email: str) -> float:
            t0 = time.perf_counter()
            err = call_err(c, "auth.login", {"email": email, "password": "wrong-pass"})
            assert err.kind == "unauthenticated" and err.message == "wrong email or password"
            return time.perf_counter() - t0

        with z.client() as c:
            known, unknown = [], []
            for i in range(11):  # interleaved, so load on the machine hits both alike
                known.append(took("root@example.com"))
                unknown.append(took(f"nobody{i}@example.com"))
        k, u = statistics.median(known), statistics.median(unknown)
        assert max(k, u) / min(k, u) < 1.6, f"median known {k * 1000:.1f} ms, unknown {u * 1000:.1f} ms"
    finally:
        z.kill()


# -- tenants --------------------------------------------------------------------------------------

def test_user_create_says_nothing_of_another_tenants_email(desk):
    boss = desk.admin
    globex = boss.call("tenant.create", {"name": "Globex"})
    boss.call("user.create", {"email": "hank@globex.test", "password": PW, "tenant_id": globex["id"]})
    boss.call("user.create", {"email": "ana@acme.test", "password": PW})
    boss.call("user.create", {"email": "adam@acme.test", "password": PW, "role": "admin"})
    with login(desk.z, "adam@acme.test", PW) as adam:
        foreign = call_err(adam, "user.create", {"email": "hank@globex.test", "password": PW})
        shouted = call_err(adam, "user.create", {"email": "HANK@GLOBEX.TEST", "password": PW})
        own = call_err(adam, "user.create", {"email": "ana@acme.test", "password": PW})
    assert foreign.kind == shouted.kind == own.kind == "conflict"
    assert foreign.message.replace("hank@globex.test", "<e>") == own.message.replace("ana@acme.test", "<e>") \
        == shouted.message.replace("HANK@GLOBEX.TEST", "<e>")
    assert foreign.details == own.details == {"field": "email"}
    assert "Globex" not in foreign.message and str(globex["id"]) not in foreign.message


def test_a_suspended_tenant_is_held_out_and_its_number_waits(desk):
    z, boss = desk.z, desk.admin
    globex = boss.call("tenant.create", {"name": "Globex"})
    boss.call("user.create", {"email": "gina@globex.test", "password": PW, "role": "admin",
                              "tenant_id": globex["id"]})
    gina = z.client()
    session_token = gina.call("auth.login", {"email": "gina@globex.test", "password": PW})["token"]
    api_token = gina.call("token.create", {"name": "crm"})["token"]
    line = gina.call("connection.create", {"name": "Globex line", "kind": "sim"})["id"]
    wait_for(lambda: gina.call("connection.get", {"id": line})["status"] == "connected")
    gina.call("sim.say", {"from": "5511955550001", "body": "hello", "connection_id": line})
    [ticket] = gina.call("ticket.list")["tickets"]
    first = gina.call("message.send", {"ticket_id": ticket["id"], "body": "hi, how can we help?"})
    wait_for(lambda: message(z, first["id"])["ack"] in SENT_OR_LATER)

    gina.call("sim.fault", {"connection_id": line, "disconnect_s": 3})
    t_down = time.monotonic()
    said = gina.call("sim.say", {"from": "5511955550001", "body": "are you there?", "connection_id": line})
    held = gina.call("message.send", {"ticket_id": ticket["id"], "body": "written before the suspension"})
    assert held["ack"] == "queued"
    with Raw(z.socket) as by_session, Raw(z.socket) as by_api:
        by_session.call("auth.token", {"token": session_token})
        by_api.call("auth.token", {"token": api_token})
        boss.call("tenant.update", {"id": globex["id"], "status": "suspended"})
        assert time.monotonic() - t_down < 3, "the test must suspend inside the outage"
        wait_for(lambda: hung_up(by_session) and hung_up(by_api), timeout=5)  # live sessions closed
    gina.close()

    # the number is back and the customer's message arrives: stored, though nobody may read it now
    wait_for(lambda: db_rows(z, "SELECT status FROM connections WHERE id = ?", (line,))[0]["status"] == "connected",
             timeout=10)
    wait_for(lambda: db_rows(z, "SELECT id FROM messages WHERE wa_id = ?", (said["wa_id"],)), timeout=10)
    # another tenant's number still sends; by the time its reply is read, Globex's would have left
    desk.say("5511977770001", "oi")
    control = boss.call("message.send", {"ticket_id": desk.ticket_of("5511977770001")["id"], "body": "olá"})
    wait_for(lambda: message(z, control["id"])["ack"] == "read")
    assert message(z, held["id"])["ack"] == "queued"
    assert db_rows(z, "SELECT message_id FROM outbox WHERE message_id = ?", (held["id"],))
    assert read_journal(journal_path(z, line)).outs[held["wa_id"]] == 0

    with z.client() as c:
        refused = call_err(c, "auth.login", {"email": "gina@globex.test", "password": PW})
        assert refused.kind == "forbidden" and "tenant Globex is suspended" in refused.message, refused
        assert refused.details["reason"] == "tenant_suspended"
        assert call_err(c, "auth.login", {"email": "gina@globex.test", "password": "wrong-pw"}).kind \
            == "unauthenticated"  # a guesser learns nothing of the suspension
        for token in (api_token, session_token):
            assert call_err(c, "auth.token", {"token": token}).kind == "forbidden"

    boss.call("tenant.update", {"id": globex["id"], "status": "active"})
    wait_for(lambda: message(z, held["id"])["ack"] in SENT_OR_LATER, timeout=10)
    wait_for(lambda: read_journal(journal_path(z, line)).outs[held["wa_id"]] == 1)
    with z.client(token=api_token) as again:
        assert again.call("auth.whoami")["email"] == "gina@globex.test"


def test_a_suspended_tenants_campaign_and_schedule_wait_then_go_on(tmp_path):
    """Neither queues anything while the tenant is suspended (so nothing bursts out, unpaced, when it
    is back); the campaign stays running and the schedule pending, and both go on once reactivated."""
    paced = {**NO_LIMITS, "min_interval_s": 30}  # at clock speed 60: one campaign message per 0.5 s
    d = make_desk(tmp_path, env={"ZING_CLOCK_SPEED": "60"})
    try:
        z, boss = d.z, d.admin
        globex = boss.call("tenant.create", {"name": "Globex"})
        boss.call("user.create", {"email": "gina@globex.test", "password": PW, "role": "admin",
                                  "tenant_id": globex["id"]})
        gina = login(z, "gina@globex.test", PW)
        line = gina.call("connection.create", {"name": "Globex line", "kind": "sim"})["id"]
        gina.call("connection.update", {"id": line, "settings": {"pacing": paced}})
        contacts = [gina.call("contact.create", {"number": f"55119300000{i:02d}", "name": f"Cliente {i}"})["id"]
                    for i in range(4)]
        now = boss.call("daemon.status")["clock"]
        schedule = gina.call("schedule.create", {"contact_id": contacts[0], "body": "Lembrete", "run_at": now + 120})
        campaign = gina.call("campaign.create", {"name": "Promo", "variants": ["Oi {{first_name}}"],
                                                 "contact_ids": contacts})
        gina.call("campaign.start", {"id": campaign["id"]})
        wait_for(lambda: gina.call("campaign.get", {"id": campaign["id"]})["counts"]["pending"] < 4, interval=0.01)
        boss.call("tenant.update", {"id": globex["id"], "status": "suspended"})
        gina.close()

        def automated() -> int:
            return db_rows(z, "SELECT count(*) AS n FROM messages WHERE tenant_id = ? AND automated = 1",
                           (globex["id"],))[0]["n"]

        # Acme's schedule, due after Globex's, goes out: the dispatcher ran past Globex's time
        boss.call("connection.update", {"id": d.connection_id, "settings": {"pacing": NO_LIMITS}})
        acme = boss.call("contact.create", {"number": "5511940000001", "name": "Lia"})
        boss.call("schedule.create", {"contact_id": acme["id"], "body": "Acme", "run_at": now + 180})
        wait_for(lambda: boss.call("schedule.list", {"status": "sent"}), timeout=15)
        queued = automated()
        later = boss.call("daemon.status")["clock"] + 4 * 30  # four of the campaign's slots
        wait_for(lambda: boss.call("daemon.status")["clock"] > later, timeout=15)
        assert automated() == queued < 4, "nothing more was queued while suspended"
        [held] = db_rows(z, "SELECT status FROM schedules WHERE id = ?", (schedule["id"],))
        assert held["status"] == "pending"
        [running] = db_rows(z, "SELECT status FROM campaigns WHERE id = ?", (campaign["id"],))
        assert running["status"] == "running"  # held, not paused: no one has to resume it

        boss.call("tenant.update", {"id": globex["id"], "status": "active"})
        wait_for(lambda: db_rows(z, "SELECT status FROM campaigns WHERE id = ?", (campaign["id"],))[0]["status"]
                 == "done", timeout=20)
        wait_for(lambda: db_rows(z, "SELECT status FROM schedules WHERE id = ?", (schedule["id"],))[0]["status"]
                 == "sent", timeout=10)
        assert automated() == 5  # four campaign messages and the reminder, each once
    finally:
        d.close()
        d.z.kill()


# -- daemon.status --------------------------------------------------------------------------------

def test_daemon_status_is_daemon_wide_only_for_a_superadmin(desk):
    z, boss = desk.z, desk.admin
    globex = boss.call("tenant.create", {"name": "Globex"})
    boss.call("user.create", {"email": "gus@globex.test", "password": PW, "tenant_id": globex["id"]})
    boss.call("user.create", {"email": "ana@acme.test", "password": PW})
    boss.call("user.create", {"email": "adam@acme.test", "password": PW, "role": "admin"})
    own_lines = {"gus@globex.test": [], "ana@acme.test": [desk.connection_id], "adam@acme.test": [desk.connection_id]}
    for email, lines in own_lines.items():
        # each connects as the daemon's own OS user, but logs in as someone else
        with login(z, email, PW) as c:
            status = c.call("daemon.status")
        assert status["scope"] == "tenant" and not set(DAEMON_WIDE) & set(status), (email, status)
        assert set(status["outbox"]) == {"queued", "oldest_age_s"}
        assert [line["id"] for line in status["connections"]] == lines
    with login(z, **BOSS) as by_password:
        for c in (boss, by_password):  # the OS user's own login, and the superadmin's password login
            status = c.call("daemon.status")
            assert status["scope"] == "daemon" and set(DAEMON_WIDE) <= set(status)
            assert {"sent", "failed"} <= set(status["outbox"])
