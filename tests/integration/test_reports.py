"""Reports checked against a hand-computed fixture, through a real zingd.

The desk is made through RPC (users, queues, tags, the company in America/Sao_Paulo, UTC-3); then,
with zingd stopped, tickets, their timelines and messages go straight into its database with known
times, and zingd starts again on it. Every figure below is worked out by hand from the table:

    ticket  created UTC  Sao Paulo    queue    agent  wait  1st resp  closed  status
    T0      03-10 02:00  03-09 23:00  Vendas   ana    30    60        -       open (before the period)
    T1      03-10 12:00  03-10 09:00  Vendas   ana    600   900       +3600   closed, rated 5, vip
    T2      03-11 01:30  03-10 22:30  Vendas   bia    1200  1500      +7200   closed, rated 3, 1 transfer
    T3      03-11 14:00  03-11 11:00  Suporte  ana    300   360       +5400   closed, reopened once, rated 1,
                                                                              vip+late, resolution breached
    T4      03-11 20:00  03-11 17:00  Suporte  -      -     -         -       pending, late, 1st resp breached
    T5      03-11 23:00  03-11 20:00  Suporte  bia    60    120       -       open, 2 transfers
    T6      03-12 04:00  03-12 01:00  Vendas   ana    -     -         -       pending (after the period)

The period is 2026-03-10 00:00 to 2026-03-12 00:00 in Sao Paulo (03:00 UTC to 03:00 UTC): T0 is in
it by the UTC date and out by the company's; T2 is on 03-10 for the company and 03-11 in UTC.
Messages: T0 out 03-10 04:00 (in the period, its ticket from before it), T1 in 12:00, out 12:15 and in
03-12 10:00 (after the period: still T1's), T2 in 01:30 and out 01:55, T3 in 14:00, out 14:06 and in
15:00, T4 in 20:00, T5 in 23:00 and out 23:02, T6 in 03-12 04:00. A ticket's figures count all its
messages; the summary's traffic counts the messages of the period, whichever ticket.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from tests.integration.desk import make_desk
from tests.integration.support import FORBIDDEN, INVALID_PARAMS, NOT_FOUND, call_err, login

UTC = timezone.utc


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


SINCE, UNTIL = at("2026-03-10 03:00"), at("2026-03-12 03:00")
PERIOD = {"since": SINCE, "until": UNTIL}

# name: (created UTC, queue, agent, status, accepted +s, first response +s, closed +s, rating, tags, transfers,
#        reopened, breached first response, breached resolution)
TICKETS = {
    "T0": ("2026-03-10 02:00", "Vendas", "ana", "open", 30, 60, None, None, (), 0, False, 0, 0),
    "T1": ("2026-03-10 12:00", "Vendas", "ana", "closed", 600, 900, 3600, 5, ("vip",), 0, False, 0, 0),
    "T2": ("2026-03-11 01:30", "Vendas", "bia", "closed", 1200, 1500, 7200, 3, (), 1, False, 0, 0),
    "T3": ("2026-03-11 14:00", "Suporte", "ana", "closed", 300, 360, 5400, 1, ("vip", "late"), 0, True, 0, 1),
    "T4": ("2026-03-11 20:00", "Suporte", None, "pending", None, None, None, None, ("late",), 0, False, 1, 0),
    "T5": ("2026-03-11 23:00", "Suporte", "bia", "open", 60, 120, None, None, (), 2, False, 0, 0),
    "T6": ("2026-03-12 04:00", "Vendas", "ana", "pending", None, None, None, None, (), 0, False, 0, 0),
    # for the daylight-saving check only (America/New_York springs forward on 2026-03-08 at 07:00 UTC)
    "N1": ("2026-03-08 06:30", "Vendas", "ana", "closed", 60, 60, 600, None, (), 0, False, 0, 0),
    "N2": ("2026-03-08 07:30", "Vendas", "ana", "closed", 60, 60, 600, None, (), 0, False, 0, 0),
}
MESSAGES = [  # ticket, direction, UTC time
    ("T0", "out", "2026-03-10 04:00"),
    ("T1", "in", "2026-03-10 12:00"), ("T1", "out", "2026-03-10 12:15"), ("T1", "in", "2026-03-12 10:00"),
    ("T2", "in", "2026-03-11 01:30"), ("T2", "out", "2026-03-11 01:55"),
    ("T3", "in", "2026-03-11 14:00"), ("T3", "out", "2026-03-11 14:06"), ("T3", "in", "2026-03-11 15:00"),
    ("T4", "in", "2026-03-11 20:00"),
    ("T5", "in", "2026-03-11 23:00"), ("T5", "out", "2026-03-11 23:02"),
    ("T6", "in", "2026-03-12 04:00"),
]


def _insert(db_path, ids: dict[str, dict[str, int]], tenant_id: int, connection_id: int) -> dict[str, int]:
    """The tickets, timelines, tags and messages above, into a stopped zingd's database."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        tickets: dict[str, int] = {}
        for n, (name, row) in enumerate(TICKETS.items()):
            created_s, queue, agent, status, acc, fr, closed, rating, tags, transfers, reopened, bfr, bres = row
            created = at(created_s)
            contact = conn.execute(
                "INSERT INTO contacts (tenant_id, number, name, created_at, updated_at) VALUES (?,?,?,?,?)",
                (tenant_id, f"55119700{n:05d}", f"Customer {name}", created, created)).lastrowid
            user = ids["agent"][agent] if agent else None
            tid = conn.execute(
                "INSERT INTO tickets (tenant_id, connection_id, contact_id, queue_id, user_id, status, "
                "last_message_at, created_at, updated_at, accepted_at, first_response_at, closed_at, rating, "
                "breached_first_response, breached_resolution) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (tenant_id, connection_id, contact, ids["queue"][queue], user, status, created, created, created,
                 created + acc if acc is not None else None, created + fr if fr is not None else None,
                 created + closed if closed is not None else None, rating, bfr, bres)).lastrowid
            tickets[name] = tid
            log = [("accept", acc)] if acc is not None else []
            log += [("transfer", (acc or 0) + 10 + i) for i in range(transfers)]
            if reopened:
                log += [("close", closed - 1000), ("reopen", closed - 900)]
            log += [("close", closed)] if closed is not None else []
            conn.executemany("INSERT INTO ticket_log (tenant_id, ticket_id, user_id, action, created_at) "
                             "VALUES (?,?,?,?,?)", [(tenant_id, tid, user, a, created + s) for a, s in log])
            conn.executemany("INSERT INTO ticket_tags (ticket_id, tag_id) VALUES (?,?)",
                             [(tid, ids["tag"][t]) for t in tags])
        for i, (name, direction, when) in enumerate(MESSAGES):
            agent = TICKETS[name][2]
            conn.execute(
                "INSERT INTO messages (tenant_id, ticket_id, connection_id, contact_id, wa_id, direction, body, "
                "user_id, ack, created_at, updated_at) SELECT tenant_id, id, connection_id, contact_id, ?, ?, ?, ?, "
                "?, ?, ? FROM tickets WHERE id = ?",
                (f"REPORT{i}", direction, f"message {i}", ids["agent"][agent] if direction == "out" else None,
                 "read" if direction == "out" else "received", at(when), at(when), tickets[name]))
        conn.execute("COMMIT")
        return tickets
    finally:
        conn.close()


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    d = make_desk(tmp_path_factory.mktemp("reports"))
    d.agent("ana")
    d.agent("bia")
    d.agent("sam", role="supervisor")
    ids = {"agent": dict(d.agent_ids), "queue": {q: d.queue(q) for q in ("Vendas", "Suporte")},
           "tag": {t: d.admin.call("tag.create", {"name": t})["id"] for t in ("vip", "late")}}
    tenant_id = d.admin.call("auth.whoami")["tenant_id"]
    d.admin.call("tenant.update", {"id": tenant_id, "timezone": "America/Sao_Paulo"})
    d.close()
    assert d.z.stop() == 0
    tickets = _insert(d.z.data_dir / "zing.db", ids, tenant_id, d.connection_id)
    d.z.start()
    boss = d.z.client()
    sam = login(d.z, "sam@acme.test", "secret-pw")
    yield {"z": d.z, "boss": boss, "sam": sam, "ids": ids, "tickets": tickets, "tenant_id": tenant_id}
    boss.close()
    sam.close()
    d.z.kill()


def _figures(row: dict, **expected) -> None:
    """Every figure named, exactly (times to the second; rates and averages as fractions)."""
    got = {k: row[k] for k in expected}
    assert got == pytest.approx(expected), row


EMPTY = dict(tickets=0, pending=0, open=0, closed=0, avg_wait_s=None, avg_first_response_s=None,
             avg_handling_s=None, avg_resolution_s=None, reopened=0, reopen_rate=None, transfers=0, ratings=0,
             avg_rating=None, csat_1=0, csat_2=0, csat_3=0, csat_4=0, csat_5=0, breached_first_response=0,
             breached_resolution=0, messages_in=0, messages_out=0)


def test_summary_in_all_and_per_agent_queue_number_and_tag(acme):
    r = acme["sam"].call("report.summary", PERIOD)
    assert (r["since"], r["until"], r["timezone"]) == (SINCE, UNTIL, "America/Sao_Paulo")
    total = dict(tickets=5, pending=1, open=1, closed=3,
                 avg_wait_s=(600 + 1200 + 300 + 60) / 4, avg_first_response_s=(900 + 1500 + 360 + 120) / 4,
                 avg_handling_s=(3000 + 6000 + 5100) / 3, avg_resolution_s=(3600 + 7200 + 5400) / 3,
                 reopened=1, reopen_rate=1 / 3, transfers=3, ratings=3, avg_rating=3.0,
                 csat_1=1, csat_2=0, csat_3=1, csat_4=0, csat_5=1,
                 breached_first_response=1, breached_resolution=1, messages_in=7, messages_out=4)
    _figures(r["total"], **total)
    assert r["messages"] == {"inbound": 6, "outbound": 5, "failed": 0}

    agents = {a["user_name"]: a for a in r["agents"]}
    assert set(agents) == {"Ana", "Bia"}  # T4 has no agent; no one else had a ticket
    _figures(agents["Ana"], tickets=2, pending=0, open=0, closed=2, avg_wait_s=450, avg_first_response_s=630,
             avg_handling_s=4050, avg_resolution_s=4500, reopened=1, reopen_rate=0.5, transfers=0, ratings=2,
             avg_rating=3.0, csat_1=1, csat_5=1, breached_first_response=0, breached_resolution=1,
             messages_in=4, messages_out=2)
    _figures(agents["Bia"], tickets=2, open=1, closed=1, avg_wait_s=630, avg_first_response_s=810,
             avg_handling_s=6000, avg_resolution_s=7200, reopened=0, reopen_rate=0.0, transfers=3, ratings=1,
             avg_rating=3.0, csat_3=1, messages_in=2, messages_out=2)
    assert agents["Ana"]["user_id"] == acme["ids"]["agent"]["ana"]

    queues = {q["queue_name"]: q for q in r["queues"]}
    assert set(queues) == {"Vendas", "Suporte"}
    _figures(queues["Vendas"], tickets=2, closed=2, avg_wait_s=900, avg_first_response_s=1200, avg_handling_s=4500,
             avg_resolution_s=5400, reopen_rate=0.0, transfers=1, avg_rating=4.0, messages_in=3, messages_out=2)
    _figures(queues["Suporte"], tickets=3, pending=1, open=1, closed=1, avg_wait_s=180, avg_first_response_s=240,
             avg_handling_s=5100, avg_resolution_s=5400, reopened=1, reopen_rate=1.0, transfers=2, csat_1=1,
             breached_first_response=1, breached_resolution=1, messages_in=4, messages_out=2)

    [number] = r["connections"]
    _figures(number, **total)

    tags = {t["tag_name"]: t for t in r["tags"]}
    _figures(tags["vip"], tickets=2, closed=2, avg_wait_s=450, avg_rating=3.0, reopened=1, messages_in=4,
             messages_out=2)
    _figures(tags["late"], tickets=2, pending=1, closed=1, breached_first_response=1, breached_resolution=1,
             avg_first_response_s=360, messages_in=3, messages_out=1)


def test_series_by_day_in_the_company_zone(acme):
    s = acme["sam"].call("report.series", {**PERIOD, "by": "day"})
    assert (s["by"], s["group"], s["timezone"]) == ("day", None, "America/Sao_Paulo")
    assert [row["bucket"] for row in s["rows"]] == ["2026-03-10", "2026-03-11"]
    day1, day2 = s["rows"]
    # T2 (22:30 local) is the company's 03-10; in UTC it would have been 03-11
    _figures(day1, tickets=2, closed=2, avg_wait_s=900, avg_handling_s=4500, transfers=1, ratings=2,
             messages_in=3, messages_out=2, group_id=None)
    _figures(day2, tickets=3, pending=1, open=1, closed=1, avg_wait_s=180, avg_first_response_s=240, reopened=1,
             transfers=2, breached_first_response=1, breached_resolution=1, messages_in=4, messages_out=2)


def test_series_by_hour_of_day(acme):
    rows = acme["sam"].call("report.series", {**PERIOD, "by": "hour"})["rows"]
    assert [row["bucket"] for row in rows] == [f"{h:02d}" for h in range(24)]
    by = {row["bucket"]: row for row in rows}
    assert {b: row["tickets"] for b, row in by.items() if row["tickets"]} == {"09": 1, "11": 1, "17": 1, "20": 1,
                                                                              "22": 1}
    # a ticket's messages are in the hour it came in
    assert {b: row["messages_in"] for b, row in by.items() if row["messages_in"]} == {
        "09": 2, "11": 2, "17": 1, "20": 1, "22": 1}
    assert {b: row["messages_out"] for b, row in by.items() if row["messages_out"]} == {
        "09": 1, "11": 1, "20": 1, "22": 1}
    _figures(by["22"], avg_wait_s=1200, avg_first_response_s=1500, avg_resolution_s=7200, csat_3=1)
    _figures(by["12"], **EMPTY)


def test_series_per_agent_and_per_tag(acme):
    s = acme["sam"].call("report.series", {**PERIOD, "by": "day", "group": "agent"})
    cells = {(row["bucket"], row["group_name"]): row for row in s["rows"]}
    assert list(cells) == [("2026-03-10", "Ana"), ("2026-03-10", "Bia"), ("2026-03-10", None),
                           ("2026-03-11", "Ana"), ("2026-03-11", "Bia"), ("2026-03-11", None)]
    _figures(cells["2026-03-10", "Ana"], tickets=1, avg_wait_s=600, messages_in=2, messages_out=1)
    _figures(cells["2026-03-10", "Bia"], tickets=1, avg_wait_s=1200, messages_in=1, messages_out=1)
    _figures(cells["2026-03-10", None], **EMPTY)
    _figures(cells["2026-03-11", "Ana"], tickets=1, reopened=1, csat_1=1, messages_in=2, messages_out=1)
    _figures(cells["2026-03-11", None], tickets=1, pending=1, breached_first_response=1, messages_in=1)
    assert cells["2026-03-11", "Bia"]["group_id"] == acme["ids"]["agent"]["bia"]

    tags = acme["sam"].call("report.series", {**PERIOD, "by": "hour", "group": "tag"})["rows"]
    late = {row["bucket"]: row for row in tags if row["group_name"] == "late" and row["tickets"]}
    assert {b: row["tickets"] for b, row in late.items()} == {"11": 1, "17": 1}


def test_a_day_of_daylight_saving_time(acme):
    """New York springs forward at 02:00 local on 2026-03-08 (07:00 UTC): 06:30 UTC is 01:30 there
    and 07:30 UTC is 03:30; the local day is 23 hours long and both tickets are on it."""
    boss, tenant_id = acme["boss"], acme["tenant_id"]
    boss.call("tenant.update", {"id": tenant_id, "timezone": "America/New_York"})
    try:
        day = {"since": at("2026-03-08 05:00"), "until": at("2026-03-09 04:00")}
        rows = boss.call("report.series", {**day, "by": "hour"})["rows"]
        assert {row["bucket"]: row["tickets"] for row in rows if row["tickets"]} == {"01": 1, "03": 1}
        [only] = boss.call("report.series", {**day, "by": "day"})["rows"]
        assert (only["bucket"], only["tickets"], only["avg_resolution_s"]) == ("2026-03-08", 2, 600)
    finally:
        boss.call("tenant.update", {"id": tenant_id, "timezone": "America/Sao_Paulo"})


def test_an_empty_period_has_its_rows_and_no_averages(acme):
    period = {"since": at("2025-01-01 03:00"), "until": at("2025-01-04 03:00")}
    r = acme["sam"].call("report.summary", period)
    _figures(r["total"], **EMPTY)
    assert r["agents"] == r["queues"] == r["connections"] == r["tags"] == []
    rows = acme["sam"].call("report.series", {**period, "by": "day", "group": "queue"})["rows"]
    assert [(row["bucket"], row["group_id"]) for row in rows] == [
        ("2025-01-01", None), ("2025-01-02", None), ("2025-01-03", None)]


def test_who_may_see_which_company(acme):
    z, boss = acme["z"], acme["boss"]
    other = boss.call("tenant.create", {"name": "Other Co", "timezone": "Asia/Tokyo"})
    assert boss.call("report.summary", {**PERIOD, "tenant_id": other["id"]})["total"]["tickets"] == 0
    assert boss.call("report.series", {**PERIOD, "tenant_id": other["id"]})["timezone"] == "Asia/Tokyo"
    assert boss.call("report.live", {"tenant_id": other["id"]})["agents"] == []
    assert call_err(boss, "report.summary", {"tenant_id": 9999}).code == NOT_FOUND
    sam = acme["sam"]
    for method in ("report.summary", "report.series", "report.live"):
        assert call_err(sam, method, {"tenant_id": other["id"]}).code == FORBIDDEN
    ana = login(z, "ana@acme.test", "secret-pw")
    try:
        for method in ("report.summary", "report.series", "report.live"):
            assert call_err(ana, method).code == FORBIDDEN
    finally:
        ana.close()
    assert call_err(sam, "report.series", {"by": "week"}).code == INVALID_PARAMS
    assert call_err(sam, "report.series", {"since": 0, "until": 2000 * 86400}).kind == "invalid"
    assert call_err(sam, "report.summary", {"since": UNTIL, "until": SINCE}).kind == "invalid"

