"""kill -9 the daemon again and again during a 2,000-recipient campaign: every recipient
gets the message exactly once, nobody is skipped."""

import json
import os
import random
import sqlite3
import time

import pytest

from tests.helpers import wait_for
from tests.integration.test_campaigns import NO_LIMITS, desk_with

RECIPIENTS = int(os.environ.get("ZING_CAMPAIGN_CRASH_RECIPIENTS", "2000"))
KILLS = int(os.environ.get("ZING_CAMPAIGN_CRASH_KILLS", "10"))


def _run(tmp_path, recipients: int, kills: int) -> None:
    d = desk_with(tmp_path, speed=1, pacing=NO_LIMITS, n=recipients)
    z = d.z
    c = d.admin.call("campaign.create", {"name": "Crash", "variants": ["Oi {{name}}", "Olá {{first_name}}"],
                                         "filter": {}})
    d.admin.call("campaign.start", {"id": c["id"]})
    d.close()
    rng = random.Random(7)
    for _ in range(kills):
        time.sleep(rng.uniform(0.2, 1.2))
        z.kill()
        z.start()
    with z.client() as admin:
        wait_for(lambda: admin.call("campaign.show", {"id": c["id"]})["status"] == "done", timeout=240)
        wait_for(lambda: admin.call("daemon.status")["outbox"]["queued"] == 0, timeout=120)
    z.stop()

    db = sqlite3.connect(z.data_dir / "zing.db")
    rows = db.execute("SELECT r.contact_id, r.state, m.wa_id FROM campaign_recipients r "
                      "LEFT JOIN messages m ON m.id = r.message_id").fetchall()
    assert len(rows) == recipients
    assert all(wa_id for _, _, wa_id in rows), "a recipient was skipped"
    per_contact = db.execute("SELECT contact_id, count(*) FROM messages WHERE automated = 1 "
                             "GROUP BY contact_id HAVING count(*) > 1").fetchall()
    assert per_contact == [], "a recipient got two messages"
    outs: dict[str, int] = {}
    for line in (z.data_dir / "sim" / "connection-1.jsonl").read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec["k"] == "out":
            outs[rec["id"]] = outs.get(rec["id"], 0) + 1
    assert {wa for _, _, wa in rows} == set(outs), "sent and stored messages differ"
    assert set(outs.values()) == {1}, "a customer received a message twice"


def test_campaign_survives_kill_9(tmp_path):
    _run(tmp_path, RECIPIENTS, KILLS)


@pytest.mark.slow
def test_campaign_survives_kill_9_long(tmp_path):
    _run(tmp_path, 5000, 30)
