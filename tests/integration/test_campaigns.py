"""Campaigns through the real daemon on the sim channel, with the daemon's clock run fast."""

import sqlite3
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import wait_for
from tests.integration.desk import make_desk
from zingd.errors import ChannelDown, Conflict, Invalid, NotFound

NO_LIMITS = {"min_interval_s": 0, "jitter_s": 0, "pause_every": 10000, "pause_s": 0, "daily_cap": 100000,
             "quiet_start": "00:00", "quiet_end": "00:00", "warmup": []}


def desk_with(tmp_path, speed: float, pacing: dict, n: int, env: dict | None = None):
    d = make_desk(tmp_path, env={"ZING_CLOCK_SPEED": str(speed), "ZING_OUTBOX__RATE_PER_CONNECTION": "5000",
                                 "ZING_OUTBOX__BURST": "500", **(env or {})})
    d.admin.call("connection.update", {"id": d.connection_id, "settings": {"pacing": pacing}})
    csv = "number,name,city\n" + "".join(f"5511920{i:06d},Cliente {i},Recife\n" for i in range(n))
    d.admin.call("contact.import", {"data": csv})
    d.admin.call("contact.tag", {"id": 1, "tags": ["first"]})
    return d


def automated_times(d) -> list[float]:
    db = sqlite3.connect(d.z.data_dir / "zing.db")
    return [r[0] for r in db.execute("SELECT created_at FROM messages WHERE automated = 1 ORDER BY id")]


def run_to_end(d, campaign_id, timeout=60):
    return wait_for(lambda: (c := d.admin.call("campaign.show", {"id": campaign_id}))["status"] == "done" and c,
                    timeout=timeout)


def test_observed_intervals_satisfy_gap_jitter_and_pauses(tmp_path):
    pacing = {**NO_LIMITS, "min_interval_s": 30, "jitter_s": 20, "pause_every": 4, "pause_s": 600}
    d = desk_with(tmp_path, speed=400, pacing=pacing, n=10)
    try:
        c = d.admin.call("campaign.create", {"name": "Promo", "variants": ["Oi {{first_name}}!", "Olá {{name}}."],
                                             "filter": {"fields": {"city": "Recife"}}})
        assert c["counts"]["pending"] == 10 and c["status"] == "draft"
        d.admin.call("campaign.start", {"id": c["id"]})
        done = run_to_end(d, c["id"])
        assert done["counts"]["queued"] + done["counts"]["sent"] + done["counts"]["delivered"] \
            + done["counts"]["read"] == 10
        times = automated_times(d)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g >= 30 for g in gaps), gaps
        assert all(gaps[i] >= 600 for i in (3, 7)), gaps  # the long pause after every 4th
        assert len({round(g) for i, g in enumerate(gaps) if i not in (3, 7)}) > 1  # jittered, not fixed
        rows = d.admin.call("campaign.recipients", {"id": c["id"]})
        bodies = {m["body"] for t in d.admin.call("ticket.list", {"status": "closed", "limit": 20})["tickets"]
                  for m in d.messages(t["id"])}
        assert "Oi Cliente!" in bodies or "Olá Cliente 1." in bodies
        assert {r["variant"] for r in rows} <= {0, 1} and all(r["queued_at"] for r in rows)
    finally:
        d.close()
        d.z.kill()


def test_daily_cap_warmup_and_quiet_hours(tmp_path):
    pacing = {**NO_LIMITS, "daily_cap": 4, "warmup": [2, 3], "quiet_start": "22:00", "quiet_end": "06:00"}
    d = desk_with(tmp_path, speed=40000, pacing=pacing, n=9)
    try:
        c = d.admin.call("campaign.create", {"name": "Slow", "variants": ["Oi {{name}}"], "tag": "first"})
        assert c["counts"]["pending"] == 1
        c = d.admin.call("campaign.create", {"name": "Warm", "variants": ["Oi {{name}}"],
                                             "filter": {"fields": {"city": "Recife"}}})
        show = d.admin.call("campaign.show", {"id": c["id"]})
        limits = show["pacing"][str(d.connection_id)]
        # the warm-up's cap, not the daily one: 2 on the number's first virtual day, 3 if a loaded
        # machine let that day pass (86,400 virtual seconds are 2 s here) before this call
        assert limits["today_cap"] in (2, 3) and (limits["daily_cap"], limits["quiet_start"]) == (4, "22:00")
        assert show["projection"]["last_send_at"] > show["projection"]["first_send_at"] + 86400
        d.admin.call("campaign.start", {"id": c["id"]})
        run_to_end(d, c["id"], timeout=90)
        tz = ZoneInfo("UTC")
        days: dict[date, int] = {}
        for t in automated_times(d):
            local = datetime.fromtimestamp(t, tz)
            assert not (local.hour >= 22 or local.hour < 6), local
            days[local.date()] = days.get(local.date(), 0) + 1
        # Each day's cap by the number's age that day (at 40,000x a loaded machine can start the
        # campaign on the number's second virtual day): warm-up 2, 3, then the cap of 4.
        born = datetime.fromtimestamp(d.admin.call("connection.get", {"id": d.connection_id})["created_at"], tz)
        caps = [([2, 3][age] if age < 2 else 4) for age in ((day - born.date()).days for day in days)]
        counts = list(days.values())
        assert counts[:-1] == caps[:-1] and 0 < counts[-1] <= caps[-1] and sum(counts) == 9, (counts, caps)
    finally:
        d.close()
        d.z.kill()


def test_ban_and_failure_burst_pause_the_campaign(tmp_path):
    pacing = {**NO_LIMITS, "min_interval_s": 60}
    d = desk_with(tmp_path, speed=100, pacing=pacing, n=30,
                  env={"ZING_OUTBOX__MAX_ATTEMPTS": "1", "ZING_PACING__FAILURE_WINDOW": "6"})
    try:
        c = d.admin.call("campaign.create", {"name": "Ban", "variants": ["Oi"], "filter": {}})
        d.admin.call("campaign.start", {"id": c["id"]})
        wait_for(lambda: d.admin.call("campaign.show", {"id": c["id"]})["counts"]["pending"] <= 27)
        d.admin.call("sim.fault", {"ban_s": 1})
        paused = wait_for(lambda: (x := d.admin.call("campaign.show", {"id": c["id"]}))["status"] == "paused" and x)
        assert "banned" in paused["stop_reason"]
        before = paused["counts"]["pending"]
        wait_for(lambda: d.admin.call("connection.get", {"id": d.connection_id})["status"] == "connected")
        assert d.admin.call("campaign.show", {"id": c["id"]})["counts"]["pending"] == before  # nothing sent while paused

        d.admin.call("sim.fault", {"send_failure_rate": 1.0})
        d.admin.call("campaign.start", {"id": c["id"]})
        paused = wait_for(lambda: (x := d.admin.call("campaign.show", {"id": c["id"]}))["status"] == "paused" and x,
                          timeout=30)
        assert "sends failed" in paused["stop_reason"] and paused["counts"]["failed"] >= 1
    finally:
        d.close()
        d.z.kill()


def test_opt_out_keyword_is_confirmed_and_respected(tmp_path):
    d = desk_with(tmp_path, speed=100, pacing=NO_LIMITS, n=3)
    try:
        d.say("5511920000001", "sair")
        contact = d.admin.call("contact.list", {"query": "5511920000001"})[0]
        assert contact["opted_out"] == 1
        t = d.ticket_of("5511920000001")
        assert "não receberá" in d.messages(t["id"])[-1]["body"]
        c = d.admin.call("campaign.create", {"name": "After", "variants": ["Oi"], "filter": {}})
        assert c["counts"]["opted_out"] == 1 and c["counts"]["pending"] == 2
        d.admin.call("campaign.start", {"id": c["id"]})
        run_to_end(d, c["id"])
        sent_to = {r["number"] for r in d.admin.call("campaign.recipients", {"id": c["id"]}) if r["message_id"]}
        assert "5511920000001" not in sent_to and len(sent_to) == 2
    finally:
        d.close()
        d.z.kill()


def test_pause_resume_cancel_and_replies_link_to_the_campaign(tmp_path):
    d = desk_with(tmp_path, speed=50, pacing={**NO_LIMITS, "min_interval_s": 20}, n=20)
    try:
        c = d.admin.call("campaign.create", {"name": "Ctl", "variants": ["Oi {{name}}"], "filter": {}})
        d.admin.call("campaign.start", {"id": c["id"]})
        wait_for(lambda: d.admin.call("campaign.show", {"id": c["id"]})["counts"]["pending"] <= 18)
        paused = d.admin.call("campaign.pause", {"id": c["id"]})
        assert paused["status"] == "paused"
        with pytest.raises(Conflict):
            d.admin.call("campaign.pause", {"id": c["id"]})
        pending = paused["counts"]["pending"]
        d.admin.call("rpc.hello")
        assert d.admin.call("campaign.show", {"id": c["id"]})["counts"]["pending"] == pending
        d.admin.call("campaign.start", {"id": c["id"]})
        wait_for(lambda: d.admin.call("campaign.show", {"id": c["id"]})["counts"]["pending"] < pending)
        [first] = d.admin.call("campaign.recipients", {"id": c["id"], "limit": 1})
        wait_for(lambda: d.admin.call("campaign.recipients", {"id": c["id"], "limit": 1})[0]["state"] == "read")
        d.say(first["number"], "quero saber mais")
        reply = d.ticket_of(first["number"])
        assert reply["status"] == "pending" and reply["campaign_id"] == c["id"]
        cancelled = d.admin.call("campaign.cancel", {"id": c["id"]})
        assert cancelled["status"] == "cancelled" and cancelled["counts"]["pending"] == 0
        assert cancelled["counts"]["skipped"] > 0
        with pytest.raises(Conflict):
            d.admin.call("campaign.start", {"id": c["id"]})
    finally:
        d.close()
        d.z.kill()


def test_dry_run_shows_everything_and_sends_nothing(tmp_path):
    d = desk_with(tmp_path, speed=1, pacing={**NO_LIMITS, "min_interval_s": 60, "jitter_s": 0}, n=2)
    try:
        out = d.admin.call("campaign.create", {
            "name": "Dry", "variants": ["Olá {{name}}, de {{city}}"], "dry_run": True,
            "csv": {"data": "number,name,city\n5511930000001,Zé,Natal\n5511920000000,,Recife\n"}})
        samples = {x["number"]: x["message"] for x in out["sample"]}
        assert out["to_send"] == 2 and samples == {"5511930000001": "Olá Zé, de Natal",
                                                   "5511920000000": "Olá Cliente 0, de Recife"}
        assert out["schedule"]["last_send_at"] - out["schedule"]["first_send_at"] == pytest.approx(60, abs=1)
        assert d.admin.call("campaign.list") == []
        assert d.admin.call("contact.list", {"query": "5511930000001"}) == []  # the CSV wasn't kept
        assert d.admin.call("sim.journal")["customer_received"] == 0
    finally:
        d.close()
        d.z.kill()


def test_bad_input_is_refused_before_anything_is_sent(tmp_path):
    d = desk_with(tmp_path, speed=1, pacing=NO_LIMITS, n=2)
    try:
        cases = [
            ({"variants": ["x"], "tag": "nope"}, NotFound, "no tag"),
            ({"variants": ["x"], "contact_ids": [999]}, NotFound, "no contact"),
            ({"variants": ["x"], "filter": {"fields": {"city": "Nowhere"}}}, Invalid, "empty"),
            ({"variants": ["  "], "filter": {}}, Invalid, "variant"),
            ({"variants": ["Oi {{plan}}"], "filter": {}}, Invalid, "no value for a variable"),
            ({"variants": ["x"], "csv": {"data": "phone\nabc\n"}}, Invalid, "invalid CSV"),
            ({"variants": ["x"], "csv": {"data": "foo\n1\n"}}, Invalid, "no number column"),
            ({"variants": ["x"], "tag": "first", "filter": {}}, Invalid, "exactly one"),
            ({"variants": ["x"], "filter": {}, "connection_ids": [42]}, NotFound, "no connection"),
            ({"variants": ["x"], "filter": {}, "start_at": "tomorrow"}, Invalid, "ISO"),
        ]
        for params, error, message in cases:
            with pytest.raises(error, match=message):
                d.admin.call("campaign.create", {"name": "Bad", **params})
        with pytest.raises(Invalid, match="pacing"):
            d.admin.call("connection.update", {"id": d.connection_id, "settings": {"pacing": {"quiet_start": "25h"}}})
        c = d.admin.call("campaign.create", {"name": "Down", "variants": ["x"], "filter": {}})
        d.admin.call("sim.fault", {"disconnect_s": 30})
        with pytest.raises(ChannelDown, match="not connected"):
            d.admin.call("campaign.start", {"id": c["id"]})
        assert d.admin.call("campaign.show", {"id": c["id"]})["status"] == "draft"
        assert d.admin.call("sim.journal")["customer_received"] == 0
    finally:
        d.close()
        d.z.kill()
