"""zingctl campaigns on a daemon of their own whose default number has pacing off, so campaigns end in seconds:
dry runs, create + start + watch to the end, reports, and watch exiting 1 on a paused campaign.
"""

from __future__ import annotations

import csv
import io
import json
import time
import types

import pytest

from tests.cli.conftest import Cli
from tests.helpers import Zingd, wait_for
from zingctl import campaigns
from zingd.rpc.client import SyncClient

NO_PACING = {"min_interval_s": 0, "jitter_s": 0, "pause_every": 10000, "pause_s": 0, "daily_cap": 100000,
             "quiet_start": "00:00", "quiet_end": "00:00", "warmup": []}
VARIANTS = ("-m", "Oi {{first_name}}", "-m", "Olá {{name}} de {{cidade}}")


@pytest.fixture(scope="module")
def camp(tmp_path_factory):
    """Demo Co with five tagged contacts (the fifth opted out); number 1 sends without pacing."""
    z = Zingd(tmp_path_factory.mktemp("campaigns"), demo=True,
              env={"ZING_OUTBOX__RATE_PER_CONNECTION": "1000"}).start()
    with SyncClient(z.socket) as c:
        c.call("connection.update", {"id": 1, "settings": {"pacing": NO_PACING}})
        for i in range(1, 6):
            c.call("contact.create", {"number": f"55119600000{i:02d}", "name": f"Cliente {i}", "tags": ["promo"],
                                      "custom_fields": {"cidade": "Recife" if i % 2 else "Natal"}})
        c.call("contact.update", {"id": 5, "opted_out": True})
    yield Cli(z.socket)
    z.kill()


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setattr(campaigns, "POLL_S", 0.1)


def campaign(camp: Cli, campaign_id: int) -> dict:
    with SyncClient(camp.socket) as c:
        return c.call("campaign.show", {"id": campaign_id})


def test_dry_run_counts_renders_and_projects(camp, tmp_path):
    p = camp.json("campaigns", "create", "Promo", *VARIANTS, "--tag", "promo", "--dry-run")
    assert (p["recipients"], p["opted_out"], p["to_send"], p["connection_ids"]) == (5, 1, 4, [1])
    assert [s["contact_id"] for s in p["sample"]] == [1, 2, 3, 4]
    for s in p["sample"]:
        assert s["message"] in ("Oi Cliente", f"Olá Cliente {s['contact_id']} de "
                                              f"{'Recife' if s['contact_id'] % 2 else 'Natal'}")
    assert p["schedule"]["first_send_at"] <= p["schedule"]["last_send_at"] < time.time() + 60
    out = camp("campaigns", "create", "Promo", *VARIANTS, "--tag", "promo", "--dry-run").stdout
    for text in ("dry run: nothing was created", "to send", "sample messages", "first send", "last send",
                 "5511960000001"):
        assert text in out
    assert camp.json("campaigns", "list") == []  # a dry run creates nothing

    by_ids = camp.json("campaigns", "create", "Ids", "-m", "x", "--contacts", "1,2", "--dry-run")
    assert (by_ids["recipients"], by_ids["to_send"]) == (2, 2)
    by_filter = camp.json("campaigns", "create", "F", "-m", "x", "--filter-tag", "promo", "--field", "cidade=Recife",
                          "--dry-run")
    assert (by_filter["recipients"], by_filter["opted_out"]) == (3, 1)
    variant = tmp_path / "variant.txt"
    variant.write_text("Do arquivo, {{first_name}}\n")
    by_csv = camp.json("campaigns", "create", "Csv", "--message-file", str(variant), "--csv", "-", "--dry-run",
                       input="number,name\n5511960000001,Cliente 1\n5511960000099,Nova\n")
    assert by_csv["recipients"] == 2 and by_csv["sample"][1]["message"] == "Do arquivo, Nova"
    assert camp.json("contacts", "list", "--search", "Nova") == []  # the CSV's new contact was not kept

    camp("campaigns", "create", "Two", "-m", "x", "--tag", "promo", "--contacts", "1", code=2)
    camp("campaigns", "create", "None", "-m", "x", code=2)
    camp("campaigns", "create", "Silent", "--tag", "promo", code=2)
    camp("campaigns", "create", "Dash", "-m", "-", "--csv", "-", code=2)
    assert "[not_found]" in camp("campaigns", "create", "Ghost", "-m", "x", "--contacts", "1,999", code=1).stderr
    assert "[not_found]" in camp("campaigns", "create", "NoTag", "-m", "x", "--tag", "nope", code=1).stderr
    unset = camp("campaigns", "create", "Vars", "-m", "Oi {{bairro}}", "--tag", "promo", code=1)
    assert "to fix" in unset.stdout and "bairro" in unset.stdout and "[invalid]" in unset.stderr


def test_create_start_watch_to_the_end_and_report(camp, tmp_path):
    c = camp.json("campaigns", "create", "Promo", *VARIANTS, "--tag", "promo")
    cid = str(c["id"])
    assert (c["status"], c["counts"]["total"], c["counts"]["pending"], c["counts"]["opted_out"]) == ("draft", 5, 4, 1)
    assert [x["id"] for x in camp.json("campaigns", "list")] == [c["id"]]
    assert "Promo" in camp("campaigns", "list").stdout
    assert "started: running" in camp("campaigns", "start", cid).stdout

    watched = camp("campaigns", "watch", cid)
    assert "5/5" in watched.stdout and "100%" in watched.stdout and f"campaign {cid} [done]" in watched.stdout
    done = campaign(camp, c["id"])
    assert done["status"] == "done" and done["counts"]["pending"] == done["counts"]["queued"] == 0
    [line] = camp.jsonl("campaigns", "watch", cid)
    assert (line["status"], line["done"], line["total"], line["counts"]["opted_out"]) == ("done", 5, 5, 1)

    shown = camp.json("campaigns", "show", cid)
    assert shown["pacing"]["1"]["min_interval_s"] == 0 and shown["pacing"]["1"]["today_sent"] >= 4
    assert shown["projection"] is None and shown["stop_reason"] == ""
    out = camp("campaigns", "show", cid).stdout
    for text in ("status", "done", "pacing per number", "min_interval_s", "daily_cap", "quiet_start", "today_sent",
                 "next_slot_at", "opted_out", "nothing pending", "variant 1: Olá {{name}} de {{cidade}}"):
        assert text in out

    rows = camp.json("campaigns", "report", cid)
    assert len(rows) == 5 and {r["state"] for r in rows} <= {"sent", "delivered", "read", "opted_out"}
    assert [r["number"] for r in rows if r["state"] == "opted_out"] == ["5511960000005"]
    as_csv = list(csv.DictReader(io.StringIO(camp("campaigns", "report", cid, "--csv").stdout)))
    assert len(as_csv) == 5 and as_csv[0]["number"] == "5511960000001" and "T" in as_csv[0]["queued_at"]
    assert len(camp.jsonl("campaigns", "report", cid)) == 5
    assert camp.json("campaigns", "report", cid, "--state", "opted_out")[0]["contact_id"] == 5
    target = tmp_path / "report.csv"
    camp("campaigns", "report", cid, "-o", str(target))
    assert target.read_text().startswith("id,contact_id,number,name,state")
    assert "5511960000004" in camp("campaigns", "report", cid).stdout

    assert "[conflict]" in camp("campaigns", "start", cid, code=1).stderr  # done campaigns don't restart
    assert "[conflict]" in camp("campaigns", "cancel", cid, code=1).stderr
    for args in (("show", "999"), ("watch", "999"), ("report", "999"), ("start", "999"), ("pause", "999")):
        assert "[not_found]" in camp("campaigns", *args, code=1).stderr


def test_watch_exits_1_when_paused_and_0_when_cancelled(camp, monkeypatch):
    slow = camp.json("connections", "add", "Slow")  # default pacing: 20 s or more between sends
    c = camp.json("campaigns", "create", "Slow", "-m", "oi", "--contacts", "1,2,3", "--connection", str(slow["id"]))
    cid = str(c["id"])

    polls = []

    def ctrl_c(seconds):
        polls.append(seconds)
        raise KeyboardInterrupt

    monkeypatch.setattr(campaigns, "time", types.SimpleNamespace(time=time.time, sleep=ctrl_c))
    draft = camp("campaigns", "watch", cid)  # a draft waits for its start: Ctrl-C ends the watch, exit 0
    assert "is draft: waiting" in draft.stderr and "0/3" in draft.stdout and polls
    monkeypatch.undo()
    monkeypatch.setattr(campaigns, "POLL_S", 0.1)

    camp("campaigns", "start", cid)
    assert "paused: paused" in camp("campaigns", "pause", cid).stdout
    err = camp("campaigns", "watch", cid, code=1).stderr
    assert f"campaign {cid} paused: by a user" in err and f"zingctl campaigns resume {cid}" in err
    assert camp.json("campaigns", "resume", cid)["status"] == "running"

    camp("sim", "fault", "--ban", "60", "--connection", str(slow["id"]))
    wait_for(lambda: campaign(camp, c["id"])["status"] == "paused")
    result = camp("campaigns", "watch", cid, code=1)
    assert f"number {slow['id']} is banned" in result.stderr and "[paused]" in result.stderr
    result = camp("campaigns", "watch", cid, "--jsonl", code=1)
    assert json.loads(result.stdout)["stop_reason"].startswith(f"number {slow['id']} is banned")
    assert json.loads(result.stderr)["error"]["kind"] == "paused"
    assert "banned" in camp("campaigns", "show", cid).stdout
    assert "[channel_down]" in camp("campaigns", "resume", cid, code=1).stderr

    assert camp.json("campaigns", "cancel", cid)["status"] == "cancelled"
    assert f"campaign {cid} [cancelled]" in camp("campaigns", "watch", cid).stdout
    assert campaign(camp, c["id"])["counts"]["skipped"] >= 2
