"""Inbound and outbound invariants (DESIGN "Data" and "Flows"), against a real daemon and the sim journal."""

from __future__ import annotations

import threading
import time

import pytest

from tests.helpers import Zingd, wait_for
from tests.integration.support import (
    ACK_RANK,
    SENT_OR_LATER,
    Raw,
    assert_serves,
    db_rows,
    journal_path,
    read_journal,
    settle,
)
from zingd.errors import Conflict

CUSTOMER = "5511988887777"


def _ticket_for(c, number: str) -> dict:
    contacts = [x for x in c.call("contact.list", {"limit": 500}) if x["number"] == number]
    assert len(contacts) == 1, f"one contact per number, got {contacts}"
    tickets = c.call("ticket.list", {"contact_id": contacts[0]["id"]})["tickets"]
    active = [t for t in tickets if t["status"] in ("pending", "open")]
    assert len(active) == 1, f"exactly one active ticket, got {[(t['id'], t['status']) for t in tickets]}"
    return active[0]


def _active_tickets(z: Zingd) -> list[dict]:
    return db_rows(z, "SELECT connection_id, contact_id, count(*) AS n FROM tickets "
                      "WHERE status IN ('pending', 'open') GROUP BY connection_id, contact_id")


def _message(z: Zingd, message_id: int) -> dict:
    [row] = db_rows(z, "SELECT * FROM messages WHERE id = ?", (message_id,))
    return row


# -- inbound ----------------------------------------------------------------------

def test_redelivered_inbound_changes_nothing(demo):
    z = demo
    with z.client() as c:
        c.call("sim.say", {"from": CUSTOMER, "body": "first"})
        settle(z)
        before = db_rows(z, "SELECT count(*) AS n FROM events")[0]["n"]
        fault = c.call("sim.fault", {"duplicate_inbound": True})
        assert fault["duplicate_inbound"] is True
        said = c.call("sim.say", {"from": CUSTOMER, "body": "said once, delivered twice"})
        assert said["delivered"] is True
        c.call("sim.fault", {"duplicate_inbound": False})
        settle(z)
        rows = db_rows(z, "SELECT * FROM messages WHERE wa_id = ?", (said["wa_id"],))
        assert len(rows) == 1 and rows[0]["direction"] == "in"
        created = db_rows(z, "SELECT data FROM events WHERE type = 'message.created' AND seq > ? "
                             "AND data LIKE ?", (before, f'%{said["wa_id"]}%'))
        assert len(created) == 1, "one message.created for one message"
        ticket = _ticket_for(c, CUSTOMER)
        assert ticket["unread"] >= 1
        unread_msgs = db_rows(z, "SELECT count(*) AS n FROM messages WHERE ticket_id = ? AND direction = 'in'",
                              (ticket["id"],))[0]["n"]
        assert ticket["unread"] <= unread_msgs, "a duplicate delivery must not count as unread twice"
        status = c.call("daemon.status")
        assert status["inbound"]["duplicates_ignored"] >= 1
    j = read_journal(journal_path(z))
    assert j.in_count[said["wa_id"]] == 1 and j.acks[said["wa_id"]] == 1
    assert_serves(z)


def _concurrent_say(z: Zingd, number: str, n: int) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def one(i: int) -> None:
        try:
            with z.client() as c:
                barrier.wait(10)
                results[i] = c.call("sim.say", {"from": number, "body": f"concurrent {i}"})
        except BaseException as e:  # noqa: BLE001
            results[i] = e
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_inbound_from_one_number_makes_one_ticket(demo):
    z = demo
    for round_, number in enumerate(["5511977770001", "5511977770002", "5511977770003"]):
        results = _concurrent_say(z, number, 30)
        errors = [r for r in results if not isinstance(r, dict)]
        assert not errors, errors[:3]
        with z.client() as c:
            ticket = _ticket_for(c, number)
        rows = db_rows(z, "SELECT ticket_id, count(*) AS n, count(DISTINCT wa_id) AS ids FROM messages "
                          "WHERE direction = 'in' AND contact_id = ? GROUP BY ticket_id", (ticket["contact_id"],))
        assert rows == [{"ticket_id": ticket["id"], "n": 30, "ids": 30}], rows
    # pipelined on one connection (concurrent tasks in one session), to a contact whose ticket was closed
    with z.client() as c:
        c.call("ticket.close", {"id": _ticket_for(c, "5511977770001")["id"]})
    with Raw(z.socket) as r:
        for i in range(30):
            r.send_json({"jsonrpc": "2.0", "method": "sim.say", "id": i,
                         "params": {"from": "5511977770001", "body": f"pipelined {i}"}})
        replies = [r.recv(timeout=20) for _ in range(30)]
        assert all("result" in x for x in replies), [x for x in replies if "error" in x][:3]
    with z.client() as c:
        _ticket_for(c, "5511977770001")
    assert all(row["n"] == 1 for row in _active_tickets(z)), _active_tickets(z)
    assert_serves(z)


# -- outbound ------------------------------------------------------------------------

def test_failed_sends_back_off_then_fail_then_retry_under_the_same_id(tmp_path):
    z = Zingd(tmp_path, demo=True, env={"ZING_OUTBOX__MAX_ATTEMPTS": "3", "ZING_OUTBOX__BACKOFF_BASE_S": "0.3",
                                        "ZING_OUTBOX__BACKOFF_CAP_S": "5"}).start()
    try:
        with z.client() as c:
            c.call("sim.say", {"from": CUSTOMER, "body": "hello?"})
            ticket = _ticket_for(c, CUSTOMER)
            settle(z)
            assert c.call("sim.fault", {"send_failure_rate": 1.0})["send_failure_rate"] == 1.0
            t0 = time.monotonic()
            sent = c.call("message.send", {"ticket_id": ticket["id"], "body": "this will fail"})
            assert sent["ack"] == "queued"

            def failed():
                msgs = {m["id"]: m for m in c.call("message.list", {"ticket_id": ticket["id"]})["messages"]}
                return msgs[sent["id"]]["ack"] == "failed" and msgs[sent["id"]]
            msg = wait_for(failed, timeout=15)
            elapsed = time.monotonic() - t0
            # attempts 1, 2, 3 with backoff 0.3 s then 0.6 s (jitter +-20 %) in between
            assert elapsed >= 0.7, f"3 attempts with exponential backoff took only {elapsed:.2f}s"
            assert "3 attempt" in (msg["error"] or ""), msg["error"]
            assert msg["wa_id"] == sent["wa_id"]
            assert not db_rows(z, "SELECT * FROM outbox WHERE message_id = ?", (sent["id"],))
            assert read_journal(journal_path(z)).outs[sent["wa_id"]] == 0
            # retrying a message that has not failed is a conflict
            with pytest.raises(Conflict):
                c.call("message.retry", {"id": db_rows(z, "SELECT id FROM messages WHERE direction = 'in' "
                                                          "LIMIT 1")[0]["id"]})
            c.call("sim.fault", {"send_failure_rate": 0.0})
            retried = c.call("message.retry", {"id": sent["id"]})
            assert retried["ack"] == "queued" and retried["wa_id"] == sent["wa_id"]
            wait_for(lambda: _message(z, sent["id"])["ack"] == "read", timeout=15)
            with pytest.raises(Conflict):
                c.call("message.retry", {"id": sent["id"]})
        row = _message(z, sent["id"])
        assert row["wa_id"] == sent["wa_id"] and row["error"] is None
        j = read_journal(journal_path(z))
        assert j.outs[sent["wa_id"]] == 1, "sent once, under the id fixed before the first attempt"
        assert db_rows(z, "SELECT count(*) AS n FROM messages WHERE body = 'this will fail'")[0]["n"] == 1
        assert_serves(z)
    finally:
        z.kill()


def test_acks_only_move_forward(tmp_path):
    # receipts race the outbox's own "sent" commit when they come at once
    z = Zingd(tmp_path, demo=True, env={"ZING_SIM__DELIVERY_DELAY_S": "0", "ZING_SIM__READ_DELAY_S": "0"}).start()
    try:
        with Raw(z.socket) as r, z.client() as c:
            sub = r.call("events.subscribe", {"topics": ["type:message.ack"]})
            c.call("sim.say", {"from": CUSTOMER, "body": "hi"})
            ticket = _ticket_for(c, CUSTOMER)
            ids = [c.call("message.send", {"ticket_id": ticket["id"], "body": f"m{i}"})["id"] for i in range(25)]
            settle(z)
            r.read_available(quiet=0.5)
            seen: dict[int, list[str]] = {}
            for ev in r.drain_events():
                assert ev["subscription"] == sub["subscription"]
                seen.setdefault(ev["data"]["id"], []).append(ev["data"]["ack"])
        for mid in ids:
            acks = seen.get(mid, [])
            ranks = [ACK_RANK[a] for a in acks]
            assert ranks == sorted(set(ranks)), f"message {mid}: acks went {acks}"
            assert acks and acks[-1] == "read", (mid, acks)
            assert _message(z, mid)["ack"] == "read"
        assert_serves(z)
    finally:
        z.kill()


def test_outage_messages_are_delivered_once_after_reconnect(demo):
    z = demo
    with z.client() as c:
        c.call("sim.say", {"from": CUSTOMER, "body": "before the outage"})
        ticket = _ticket_for(c, CUSTOMER)
        settle(z)
        down = c.call("sim.fault", {"disconnect_s": 1.5})
        assert down["state"] == "disconnected"
        t_down = time.monotonic()
        said = [c.call("sim.say", {"from": CUSTOMER, "body": f"during the outage {i}"}) for i in range(3)]
        said.append(c.call("sim.say", {"from": "5511988886666", "body": "new customer during the outage"}))
        sent = [c.call("message.send", {"ticket_id": ticket["id"], "body": f"reply in the dark {i}"})
                for i in range(2)]
        assert time.monotonic() - t_down < 1.5, "the test must act inside the outage"
        assert all(s["delivered"] is False for s in said)
        assert all(_message(z, s["id"])["ack"] == "queued" for s in sent)
        wait_for(lambda: c.call("connection.get", {"id": said[0]["connection_id"]})["status"] == "connected",
                 timeout=10)
        settle(z)
        for s in said:
            rows = db_rows(z, "SELECT direction FROM messages WHERE wa_id = ?", (s["wa_id"],))
            assert rows == [{"direction": "in"}], (s, rows)
        for s in sent:
            assert _message(z, s["id"])["ack"] in SENT_OR_LATER
        _ticket_for(c, "5511988886666")
    j = read_journal(journal_path(z))
    for s in said:
        assert j.in_count[s["wa_id"]] == 1 and j.acks[s["wa_id"]] == 1, "delivered once on reconnect"
    for s in sent:
        assert j.outs[s["wa_id"]] == 1 and j.dups[s["wa_id"]] == 0
    states = [r["data"] for r in db_rows(z, "SELECT data FROM events WHERE type = 'connection.updated' ORDER BY seq")]
    assert any('"disconnected"' in d for d in states) and '"connected"' in states[-1]
    assert_serves(z)


# -- shutdown -------------------------------------------------------------------------

def test_sigterm_sends_queued_messages_before_exit(tmp_path):
    z = Zingd(tmp_path, demo=True, env={"ZING_OUTBOX__RATE_PER_CONNECTION": "4", "ZING_OUTBOX__BURST": "1"}).start()
    try:
        with z.client() as c:
            c.call("sim.say", {"from": CUSTOMER, "body": "hi"})
            ticket = _ticket_for(c, CUSTOMER)
            settle(z)
            sent = [c.call("message.send", {"ticket_id": ticket["id"], "body": f"before shutdown {i}"})
                    for i in range(8)]
            queued = c.call("daemon.status")["outbox"]["queued"]
        assert queued >= 3, f"the test needs messages still queued at SIGTERM (had {queued})"
        t0 = time.monotonic()
        assert z.stop() == 0, z.log.read_text()[-2000:]
        assert time.monotonic() - t0 < 10
        rows = {r["id"]: r for r in db_rows(z, "SELECT id, wa_id, ack FROM messages WHERE direction = 'out'")}
        assert not db_rows(z, "SELECT * FROM outbox"), "the outbox drained before exit"
        j = read_journal(journal_path(z))
        for s in sent:
            assert rows[s["id"]]["ack"] in SENT_OR_LATER, rows[s["id"]]
            assert j.outs[s["wa_id"]] == 1
    finally:
        z.kill()


def test_sigterm_keeps_messages_of_a_disconnected_number_for_the_next_start(demo):
    z = demo
    with z.client() as c:
        c.call("sim.say", {"from": CUSTOMER, "body": "hi"})
        ticket = _ticket_for(c, CUSTOMER)
        settle(z)
        c.call("sim.fault", {"disconnect_s": 600})
        sent = [c.call("message.send", {"ticket_id": ticket["id"], "body": f"stuck {i}"}) for i in range(3)]
    t0 = time.monotonic()
    assert z.stop() == 0
    assert time.monotonic() - t0 < 8, "nothing to drain on a disconnected number: no long wait"
    assert all(_message(z, s["id"])["ack"] == "queued" for s in sent), "kept, not dropped"
    assert len(db_rows(z, "SELECT * FROM outbox")) >= 3
    z.start()
    settle(z)
    j = read_journal(journal_path(z))
    for s in sent:
        assert _message(z, s["id"])["ack"] in SENT_OR_LATER
        assert j.outs[s["wa_id"]] == 1
    assert_serves(z)
