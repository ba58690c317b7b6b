"""Service-level targets through a real zingd whose clock runs an hour a second (ZING_CLOCK_SPEED):
a breach fired by the SLA watch at its due time (across a business night, to a webhook), none
for a ticket answered in time, one only, and due times that survive a crash. The rules behind
the due times are in tests/services/test_sla.py."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.cli.conftest import Cli
from tests.helpers import wait_for
from tests.integration.desk import make_desk
from tests.integration.test_webhook_trouble import Receiver
from zingd.services.hours import DAYS

SPEED = 3600.0  # virtual seconds per real second
H = 3600


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    d = make_desk(tmp_path_factory.mktemp("sla"), env={"ZING_CLOCK_SPEED": str(SPEED)})
    yield d
    d.close()
    d.z.kill()


def now(d) -> float:
    return d.admin.call("daemon.status")["clock"]


def queue_for(d, name: str, **fields) -> int:
    """A queue that the number's menu offers alone, so a customer's first message lands in it."""
    qid = d.queue(name, **fields)
    d.admin.call("connection.set_queues", {"id": d.connection_id, "queue_ids": [qid]})
    return qid


def breaches(d, ticket_id: int) -> list[str]:
    with sqlite3.connect(f"file:{d.z.data_dir / 'zing.db'}?mode=ro", uri=True) as db:
        return [r[0] for r in db.execute("SELECT json_extract(data, '$.target') FROM events WHERE ticket_id = ? "
                                         "AND type = 'ticket.sla_breached' ORDER BY seq", (ticket_id,))]


def timeout_until(d, due: float) -> float:
    """Real seconds to wait for something due at the daemon's virtual ``due``, with room for a loaded box."""
    return max(0.0, due - now(d)) / SPEED + 30


def test_zingctl_sets_and_shows_a_queues_targets(desk):
    qid = desk.queue("Desk")
    cli = Cli(desk.z.socket)
    q = cli.json("queues", "update", str(qid), "--sla-first-response", "15m", "--sla-resolution", "1h30m",
                 "--sla-clock", "calendar")
    assert (q["sla_first_response_s"], q["sla_resolution_s"], q["sla_clock"]) == (900, 5400, "calendar")
    assert "15m / 1h30m calendar" in cli("queues", "list").stdout
    q = cli.json("queues", "update", str(qid), "--sla-resolution", "off")
    assert (q["sla_first_response_s"], q["sla_resolution_s"]) == (900, None)
    assert "is not a duration" in cli("queues", "update", str(qid), "--sla-first-response", "soon", code=2).stderr
    assert "business, calendar" in cli("queues", "update", str(qid), "--sla-clock", "wall", code=2).stderr


def test_a_crash_keeps_the_due_times_and_the_breach_still_fires(desk):
    queue_for(desk, "Slow", sla_resolution_s=3 * H, sla_clock="calendar")
    desk.say("5511977770001", "oi")
    t = desk.ticket_of("5511977770001")
    assert t["resolution_due_at"] == pytest.approx(t["created_at"] + 3 * H)
    desk.close()
    desk.z.kill()
    desk.z.start()  # its clock starts again from the wall clock: behind where it had run to
    desk.admin = desk.z.client()
    again = desk.ticket_of("5511977770001")
    assert (again["resolution_due_at"], again["breached_resolution"]) == (t["resolution_due_at"], 0)
    wait_for(lambda: desk.ticket_of("5511977770001")["breached_resolution"],
             timeout=timeout_until(desk, t["resolution_due_at"]))
    assert breaches(desk, t["id"]) == ["resolution"]


def evening_zone(clock: float) -> str:
    """An Etc zone (UTC-12..UTC+14) where ``clock`` is between 20:00 and 21:00."""
    offset = (20 - datetime.fromtimestamp(clock, timezone.utc).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc names are sign-inverted


def test_a_breach_across_the_night_fires_the_next_morning_once(desk):
    rx = Receiver()
    desk.admin.call("webhook.create", {"url": rx.url, "event_types": ["ticket.sla_breached"]})
    zone = evening_zone(now(desk))
    open_hours = {"timezone": zone, "days": {day: [["01:00", "23:00"]] for day in DAYS}}  # closed 23:00-01:00
    queue_for(desk, "Night", business_hours=open_hours, sla_first_response_s=4 * H)
    desk.say("5511977770002", "boa noite")
    t = desk.ticket_of("5511977770002")
    entered = datetime.fromtimestamp(t["created_at"], ZoneInfo(zone))
    assert 20 <= entered.hour < 23, entered  # two hours (real seconds) of room for the setup
    closing = entered.replace(hour=23, minute=0, second=0, microsecond=0)
    tonight = (closing - entered).total_seconds()
    expected = (closing + timedelta(hours=2, seconds=4 * H - tonight)).timestamp()  # from 01:00, the rest
    assert t["first_response_due_at"] == pytest.approx(expected, abs=1e-3)
    [event] = wait_for(lambda: rx.accepted, timeout=timeout_until(desk, expected))
    assert (event["type"], event["data"]["target"], event["data"]["ticket"]["id"]) == (
        "ticket.sla_breached", "first_response", t["id"])
    assert event["data"]["due_at"] == t["first_response_due_at"] <= event["ts"]
    assert event["data"]["ticket"]["breached_first_response"] == 1
    # answered late now: already flagged, nothing fires again
    desk.admin.call("message.send", {"ticket_id": t["id"], "body": "bom dia!"})
    assert desk.ticket_of("5511977770002")["first_response_at"] is not None
    assert breaches(desk, t["id"]) == ["first_response"]


def test_an_answer_in_time_is_no_breach(desk):
    queue_for(desk, "Quick", sla_first_response_s=2 * H, sla_clock="calendar")
    desk.say("5511977770003", "oi")
    answered = desk.ticket_of("5511977770003")
    desk.admin.call("message.send", {"ticket_id": answered["id"], "body": "olá!"})
    desk.say("5511977770004", "oi")  # after the first, so due after it: its breach says the watch went past
    late = desk.ticket_of("5511977770004")
    assert late["first_response_due_at"] > answered["first_response_due_at"]
    wait_for(lambda: desk.ticket_of("5511977770004")["breached_first_response"],
             timeout=timeout_until(desk, late["first_response_due_at"]))
    assert desk.ticket_of("5511977770003")["breached_first_response"] == 0
    assert breaches(desk, answered["id"]) == [] and breaches(desk, late["id"]) == ["first_response"]
