"""Scheduled messages: once and recurring, missed while down, edits and bad input."""

import sqlite3
import time

import pytest

from tests.helpers import wait_for
from tests.integration.desk import make_desk
from tests.integration.test_campaigns import NO_LIMITS
from zingd.errors import Conflict, Invalid, NotFound


def desk(tmp_path, speed=60.0, env=None):
    d = make_desk(tmp_path, env={"ZING_CLOCK_SPEED": str(speed), **(env or {})})
    d.admin.call("connection.update", {"id": d.connection_id, "settings": {"pacing": NO_LIMITS}})
    d.admin.call("contact.create", {"number": "5511940000001", "name": "Lia Ramos"})
    return d


def now_of(d) -> float:
    return d.admin.call("daemon.status")["clock"]


def test_once_and_recurring(tmp_path):
    d = desk(tmp_path)
    try:
        once = d.admin.call("schedule.create", {"contact_id": 1, "body": "Lembrete, {{first_name}}",
                                                "run_at": now_of(d) + 120})
        every = d.admin.call("schedule.create", {"contact_id": 1, "body": "Ping", "cron": "* * * * *"})
        assert every["run_at"] > now_of(d) - 1
        wait_for(lambda: d.admin.call("schedule.list", {"status": "sent"}), timeout=15)
        wait_for(lambda: d.admin.call("schedule.list", {"status": "pending"})[0]["runs"] >= 3, timeout=15)
        db = sqlite3.connect(d.z.data_dir / "zing.db")
        bodies = [r[0] for r in db.execute("SELECT body FROM messages WHERE automated = 1 ORDER BY id")]
        assert "Lembrete, Lia" in bodies and bodies.count("Ping") >= 3
        sent = d.admin.call("schedule.list", {"status": "sent"})[0]
        assert sent["id"] == once["id"] and sent["last_message_id"]
        d.admin.call("schedule.cancel", {"id": every["id"]})
        with pytest.raises(Conflict):
            d.admin.call("schedule.update", {"id": every["id"], "body": "x"})
    finally:
        d.close()
        d.z.kill()


def test_missed_while_down_beyond_grace_but_sent_within(tmp_path):
    d = desk(tmp_path, speed=1.0, env={"ZING_SCHEDULES__GRACE_MINUTES": "10"})
    try:
        now = now_of(d)
        late = d.admin.call("schedule.create", {"contact_id": 1, "body": "too late", "run_at": now + 3600})
        soon = d.admin.call("schedule.create", {"contact_id": 1, "body": "still fine", "run_at": now + 3600})
        d.close()
        d.z.kill()
        # Down for an hour, without waiting one: while zingd is down, the first came due an hour
        # ago (beyond the 10-minute grace), the second a moment ago (within it).
        db = sqlite3.connect(d.z.data_dir / "zing.db", isolation_level=None)
        db.execute("UPDATE schedules SET run_at = ? WHERE id = ?", (time.time() - 3600, late["id"]))
        db.execute("UPDATE schedules SET run_at = ? WHERE id = ?", (time.time() - 1, soon["id"]))
        db.close()
        d.z.start()
        admin = d.z.client()
        states = wait_for(lambda: {s["id"]: s["status"] for s in admin.call("schedule.list")}
                          if all(s["status"] != "pending" for s in admin.call("schedule.list")) else None)
        assert states == {late["id"]: "missed", soon["id"]: "sent"}
        assert "missed" in [s for s in admin.call("schedule.list") if s["id"] == late["id"]][0]["error"]
        admin.close()
    finally:
        d.z.kill()


def test_edit_and_bad_input(tmp_path):
    d = desk(tmp_path, speed=1.0)
    try:
        s = d.admin.call("schedule.create", {"contact_id": 1, "body": "a", "run_at": "2099-01-01 09:00"})
        moved = d.admin.call("schedule.update", {"id": s["id"], "run_at": "2099-01-02T10:30", "body": "b"})
        assert moved["run_at"] - s["run_at"] == 86400 + 5400 and moved["body"] == "b"
        d.admin.call("schedule.cancel", {"id": s["id"]})
        with pytest.raises(Conflict):
            d.admin.call("schedule.cancel", {"id": s["id"]})
        for params, error, message in [
            ({"contact_id": 1, "body": "x", "run_at": "2001-01-01 09:00"}, Invalid, "past"),
            ({"contact_id": 1, "body": "x", "cron": "61 * * * *"}, Invalid, "cron"),
            ({"contact_id": 1, "body": "x", "cron": "every day"}, Invalid, "cron"),
            ({"contact_id": 1, "body": "x", "run_at": "soon"}, Invalid, "ISO"),
            ({"contact_id": 1, "body": " ", "run_at": "2099-01-01 09:00"}, Invalid, "body"),
            ({"contact_id": 99, "body": "x", "run_at": "2099-01-01 09:00"}, NotFound, "contact"),
            ({"ticket_id": 99, "body": "x", "run_at": "2099-01-01 09:00"}, NotFound, "ticket"),
            ({"contact_id": 1, "body": "x"}, Invalid, "run_at"),
        ]:
            with pytest.raises(error, match=message):
                d.admin.call("schedule.create", params)
    finally:
        d.close()
        d.z.kill()
