"""Service-level targets (zingd/services/sla.py, hours.add_business_seconds): due times in
business hours and in calendar time, the hooks that set and clear them, breaches flagged once.
The timer that fires them in a running daemon is in tests/integration/test_sla.py."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.services.support import at, props
from tests.services.test_hours import OFFICE, specs
from zingd.errors import Invalid
from zingd.services import hours, messages, queues, sla, tickets
from zingd.store.rows import dumps

SP = ZoneInfo("America/Sao_Paulo")
H = 3600


# -- business seconds -----------------------------------------------------------------------------

@pytest.mark.parametrize("start, seconds, due", [
    ("2026-03-04 09:00", H, "2026-03-04 10:00"),        # inside the morning
    ("2026-03-04 11:30", H, "2026-03-04 13:30"),        # over lunch
    ("2026-03-04 17:30", H, "2026-03-05 08:30"),        # over the night: the next morning
    ("2026-03-04 20:00", H, "2026-03-05 09:00"),        # starts closed: counts from the opening
    ("2026-03-07 12:30", H, "2026-03-09 08:30"),        # Saturday's half hour, then Monday
    ("2026-12-24 17:00", 2 * H, "2026-12-26 10:00"),    # Christmas is a holiday; the 26th a Saturday
    ("2026-03-04 08:00", 9 * H, "2026-03-04 18:00"),    # a whole day (4 h + 5 h): due at closing
    ("2026-03-04 08:00", 10 * H, "2026-03-05 09:00"),   # and one hour more
    ("2026-03-04 18:00", 0, "2026-03-05 08:00"),        # nothing to count: the next open moment
])
def test_business_seconds_in_sao_paulo_office_hours(start, seconds, due):
    assert hours.add_business_seconds(OFFICE, at(start, SP), seconds) == at(due, SP)


def test_always_open_and_never_open():
    assert hours.add_business_seconds({}, 1000.0, 60) == 1060.0
    assert hours.add_business_seconds({"timezone": "UTC", "days": {}}, 1000.0, 60) is None


def test_daylight_saving_changes_are_followed():
    ny = ZoneInfo("America/New_York")  # 8 March 2026: 02:00 -> 03:00, the night is an hour shorter
    spec = {"timezone": "America/New_York", "days": {d: [["09:00", "17:00"]] for d in hours.DAYS}}
    assert hours.add_business_seconds(spec, at("2026-03-07 16:00", ny), 2 * H) == at("2026-03-08 10:00", ny)
    night = {"timezone": "America/New_York", "days": {"sun": [["01:00", "04:00"]]}}  # 02:00-03:00 never happens
    assert hours.add_business_seconds(night, at("2026-03-08 01:00", ny), 2 * H) == at("2026-03-08 04:00", ny)


def test_24_00_runs_to_midnight():
    spec = {"days": {"mon": [["22:00", "24:00"]], "tue": [["00:00", "01:00"]]}}
    assert hours.add_business_seconds(spec, at("2026-03-02 23:00"), 1.5 * H) == at("2026-03-03 00:30")


@props(60)
@given(specs(), st.integers(at("2026-01-01 00:00") // 60, at("2027-01-01 00:00") // 60),
       st.integers(1, 3000), st.integers(1, 3000))
def test_business_time_adds_up_and_ends_open(spec, start_minute, a, b):
    """Counting a then b minutes lands where counting a + b does, and the moment before a due
    time is open (whole minutes: the intervals' edges are whole minutes too)."""
    if spec and not any(spec["days"].get(d) for d in hours.DAYS):
        return
    start = start_minute * 60.0
    first = hours.add_business_seconds(spec, start, a * 60)
    both = hours.add_business_seconds(spec, start, (a + b) * 60)
    assert first > start and hours.add_business_seconds(spec, first, b * 60) == both
    assert hours.is_open(spec, first - 0.001) and hours.is_open(spec, both - 0.001)


# -- queue settings -------------------------------------------------------------------------------

async def test_queue_targets_are_checked(db, seed):
    sales = seed.queues["Sales"]
    q = await db.write(queues.update, seed["adam"], sales, {"sla_first_response_s": 900, "sla_clock": "calendar"})
    assert (q["sla_first_response_s"], q["sla_resolution_s"], q["sla_clock"]) == (900, None, "calendar")
    for changes, field in (({"sla_first_response_s": 0}, "sla_first_response_s"),
                           ({"sla_resolution_s": -5}, "sla_resolution_s"),
                           ({"sla_resolution_s": 400 * 86400}, "sla_resolution_s"),
                           ({"sla_clock": "wall"}, "sla_clock")):
        with pytest.raises(Invalid) as e:
            await db.write(queues.update, seed["adam"], sales, changes)
        assert e.value.details["field"] == field
    q = await db.write(queues.update, seed["adam"], sales, {"sla_first_response_s": None})
    assert q["sla_first_response_s"] is None


# -- due times and breaches -----------------------------------------------------------------------

async def targets(db, seed, queue: str, first: float | None, resolution: float | None,
                  clock_: str = "business", business_hours: dict | None = None) -> None:
    await db.write(lambda tx: tx.execute(
        "UPDATE queues SET sla_first_response_s = ?, sla_resolution_s = ?, sla_clock = ?, business_hours = ? "
        "WHERE id = ?", (first, resolution, clock_, dumps(business_hours or {}), seed.queues[queue])))


async def waiting(customers, number: str, choice: str = "1") -> dict:
    await customers.say(number, "oi")
    await customers.say(number, choice)
    t = await customers.ticket(number)
    assert t["queue_id"] is not None
    return t


async def test_entering_a_queue_sets_due_times_from_the_first_message(db, seed, customers, clock):
    await targets(db, seed, "Sales", H, 8 * H, business_hours=OFFICE)
    await targets(db, seed, "Support", 600, None, clock_="calendar")
    clock.set(at("2026-03-04 17:30", SP))  # a Wednesday, half an hour before closing
    await customers.say("5511900000001", "oi")
    clock.advance(120)  # two minutes in the menu count too
    await customers.say("5511900000001", "1")
    t = await customers.ticket("5511900000001")
    assert t["first_response_due_at"] == at("2026-03-05 08:30", SP)
    assert t["resolution_due_at"] == at("2026-03-05 16:30", SP)  # 30 min + 3 h 30 + 4 h
    s = await waiting(customers, "5511900000002", "2")
    assert (s["first_response_due_at"], s["resolution_due_at"]) == (s["created_at"] + 600, None)
    assert (s["breached_first_response"], s["breached_resolution"]) == (0, 0)


async def test_a_breach_is_flagged_once_with_an_event(db, seed, customers, clock, heard):
    await targets(db, seed, "Sales", 600, 3600, clock_="calendar")
    t = await waiting(customers, "5511900000003")
    clock.advance(599)
    assert await db.write(sla.breach_due, 100) == 0
    clock.advance(1)
    heard.clear()
    assert await db.write(sla.breach_due, 100) == 1
    [event] = heard.events
    assert (event.type, event.ticket_id, event.data["target"], event.data["due_at"]) == (
        "ticket.sla_breached", t["id"], "first_response", t["first_response_due_at"])
    assert event.data["ticket"]["breached_first_response"] == 1
    assert await db.write(sla.breach_due, 100) == 0  # once
    await db.write(messages.send_unit, seed["ana"], t["id"], "desculpe a demora", None, None)
    clock.advance(3600)
    heard.clear()
    assert await db.write(sla.breach_due, 100) == 1
    assert [e.data["target"] for e in heard.of("ticket.sla_breached")] == ["resolution"]
    row = await customers.reload(t["id"])
    assert (row["breached_first_response"], row["breached_resolution"]) == (1, 1)


async def test_answered_and_closed_in_time_is_no_breach(db, seed, customers, clock, heard):
    await targets(db, seed, "Sales", 600, 3600, clock_="calendar")
    t = await waiting(customers, "5511900000004")
    clock.advance(300)
    await db.write(messages.send_unit, seed["ana"], t["id"], "olá!", None, None)
    clock.advance(3000)
    await db.write(tickets.close, seed["ana"], t["id"], False)
    clock.advance(86400)
    assert await db.write(sla.breach_due, 100) == 0
    row = await customers.reload(t["id"])
    assert (row["breached_first_response"], row["breached_resolution"]) == (0, 0)
    assert not heard.of("ticket.sla_breached")
    assert row["first_response_due_at"] == t["created_at"] + 600  # the due times stay, for reports


async def test_a_late_answer_or_close_is_a_breach_before_the_worker_comes(db, seed, customers, clock, heard):
    await targets(db, seed, "Sales", 600, 3600, clock_="calendar")
    t = await waiting(customers, "5511900000005")
    clock.advance(700)
    heard.clear()
    await db.write(messages.send_unit, seed["ana"], t["id"], "olá", None, None)
    assert [e.data["target"] for e in heard.of("ticket.sla_breached")] == ["first_response"]
    clock.advance(3600)
    heard.clear()
    await db.write(tickets.close, seed["ana"], t["id"], False)
    assert [e.data["target"] for e in heard.of("ticket.sla_breached")] == ["resolution"]
    assert await db.write(sla.breach_due, 100) == 0


async def test_transfer_applies_the_new_queues_targets_from_the_same_start(db, seed, customers, clock):
    await targets(db, seed, "Sales", 600, None, clock_="calendar")
    await targets(db, seed, "Support", 1800, 7200, clock_="calendar")
    t = await waiting(customers, "5511900000006")
    clock.advance(300)
    moved = await db.write(tickets.transfer, seed["sue"], t["id"], None, seed.queues["Support"])
    assert (moved["first_response_due_at"], moved["resolution_due_at"]) == (t["created_at"] + 1800,
                                                                            t["created_at"] + 7200)
    await targets(db, seed, "Sales", None, None)
    back = await db.write(tickets.transfer, seed["sue"], t["id"], None, seed.queues["Sales"])
    assert (back["first_response_due_at"], back["resolution_due_at"]) == (None, None)


async def test_reopening_restarts_the_resolution_target(db, seed, customers, clock):
    await targets(db, seed, "Sales", 600, 3600, clock_="calendar")
    t = await waiting(customers, "5511900000007")
    await db.write(messages.send_unit, seed["ana"], t["id"], "olá", None, None)
    await db.write(tickets.close, seed["ana"], t["id"], False)
    clock.advance(86400)
    again = await db.write(tickets.reopen, seed["ana"], t["id"])
    assert again["resolution_due_at"] == clock.now + 3600 and again["breached_resolution"] == 0
    assert again["first_response_due_at"] == t["created_at"] + 600  # answered: that target is met


async def test_the_worker_reads_its_due_times_from_the_partial_indexes(db):
    plans = [r["detail"] for r in await db.all(f"EXPLAIN QUERY PLAN {sla.NEXT_DUE}")]
    assert any("ix_tickets_first_response_due" in p for p in plans), plans
    assert any("ix_tickets_resolution_due" in p for p in plans), plans


async def test_a_customer_writing_back_after_the_close_restarts_the_resolution_target(db, seed, customers, clock):
    await targets(db, seed, "Sales", 600, 3600, clock_="calendar")
    customers.reopen_window_s = 86400
    t = await waiting(customers, "5511900000008")
    await db.write(messages.send_unit, seed["ana"], t["id"], "olá", None, None)
    await db.write(tickets.close, seed["ana"], t["id"], False)
    clock.advance(7200)
    await customers.say("5511900000008", "mais uma coisa")
    again = await customers.reload(t["id"])
    assert again["status"] != "closed" and again["resolution_due_at"] == clock.now + 3600
    assert await db.write(sla.breach_due, 100) == 0  # not a breach of the first, closed in time
