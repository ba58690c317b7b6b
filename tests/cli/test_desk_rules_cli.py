"""zingctl on the desk's rules: settings shown with their defaults and cleared, times in the
company's zone whatever the machine's, the demo admin runs the demo daemon, a suspended tenant
stops, and a restore of a file that isn't there says so in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.cli.conftest import run_zingctl
from tests.helpers import Zingd, wait_for
from zingd.errors import Forbidden
from zingd.rpc.client import ConnectionLost, SyncClient

import pytest

SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # Demo Co's zone


def test_every_setting_is_shown_with_its_default_and_can_be_cleared(cli):
    out = cli("tenants", "settings").stdout
    assert "rating" in out and "off  (default)" in out
    assert "Como você avalia nosso atendimento?" in out and "SAIR, STOP" in out and "BR  (default)" in out
    s = cli.json("tenants", "settings", "--rating", "--rating-prompt", "Nota?", "--region", "PT")
    assert (s["rating"], s["rating_prompt"], s["region"]) == (True, "Nota?", "PT")
    assert s["rating_thanks"].startswith("Obrigado pela avaliação")  # what applies: the default
    out = cli("tenants", "settings").stdout
    assert "Nota?" in out and "Nota?  (default)" not in out and "on" in out

    s = cli.json("tenants", "settings", "--clear", "rating-prompt", "--clear", "region", "--no-rating")
    assert s["rating"] is False and s["region"] == "BR" and s["rating_prompt"].startswith("Como você avalia")
    stored = cli.json("tenants", "show")
    assert stored["settings"] == {"rating": False} and stored["defaults"]["region"] == "BR"
    cli("tenants", "settings", "--clear", "rating")
    assert cli.json("tenants", "show")["settings"] == {}
    assert "one of rating" in cli("tenants", "settings", "--clear", "colour", code=2).stderr
    cli("tenants", "settings", "--clear", "region", "--region", "PT", code=2)


def test_a_setting_that_would_break_what_it_drives_is_refused(cli):
    for args, why in ((("--region", "XX"), "two-letter country code"),
                      (("--rating-prompt", "   "), "rating_prompt: 1 to 1000 characters"),
                      (("--opt-out-keywords", "pare agora"), "single words")):
        assert why in cli("tenants", "settings", *args, code=1).stderr
    assert cli.json("tenants", "show")["settings"] == {}  # nothing of it kept
    assert cli.json("tenants", "settings", "--region", " pt ")["region"] == "PT"
    cli("tenants", "settings", "--clear", "region")


def test_a_queue_stops_auto_closing(cli):
    q = cli.json("queues", "create", "AutoClose", "--auto-close-hours", "4")
    assert q["auto_close_hours"] == 4
    assert cli.json("queues", "update", str(q["id"]), "--no-auto-close")["auto_close_hours"] is None
    cli("queues", "delete", str(q["id"]))


def test_times_are_typed_and_shown_in_the_company_zone(demo_d, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # the machine's zone is not the company's
    monkeypatch.setenv("COLUMNS", "200")  # whole table rows
    sock = ("--socket", str(demo_d.socket))
    run_zingctl(*sock, "sim", "say", "--from", "5511955550123", "oi")
    [contact] = json.loads(run_zingctl(*sock, "contacts", "list", "--search", "5511955550123", "--json").stdout)
    added = run_zingctl(*sock, "schedules", "add", "Bom dia!", "--contact", str(contact["id"]),
                        "--at", "2030-01-02 09:00")
    assert added.returncode == 0, added.stderr
    assert "next run 2030-01-02 09:00 America/Sao_Paulo" in added.stdout
    listed = run_zingctl(*sock, "schedules", "list")
    assert "Next run (America/Sao_Paulo)" in listed.stdout and "2030-01-02 09:00" in listed.stdout
    [s] = [s for s in json.loads(run_zingctl(*sock, "schedules", "list", "--json").stdout) if s["body"] == "Bom dia!"]
    assert s["run_at"] == datetime(2030, 1, 2, 9, 0, tzinfo=SAO_PAULO).timestamp()

    report = run_zingctl(*sock, "reports", "--since", "2029-12-01", "--until", "2030-01-01 12:00")
    assert report.returncode == 0, report.stderr
    assert "2029-12-01 00:00 to 2030-01-01 12:00 America/Sao_Paulo" in report.stdout
    r = json.loads(run_zingctl(*sock, "reports", "--since", "2029-12-01", "--json").stdout)
    assert r["since"] == datetime(2029, 12, 1, tzinfo=SAO_PAULO).timestamp()

    # every other table too: the company's clock, its zone named under the table
    [ticket] = [t for t in json.loads(run_zingctl(*sock, "tickets", "list", "--json").stdout)
                if t["contact_id"] == contact["id"]]
    said = datetime.fromtimestamp(ticket["created_at"], SAO_PAULO)
    for args in (("tickets", "show", str(ticket["id"])), ("messages", "list", str(ticket["id"]))):
        shown = run_zingctl(*sock, *args)
        assert shown.returncode == 0, shown.stderr
        assert said.strftime("%H:%M") in shown.stdout and "times in America/Sao_Paulo" in shown.stdout, shown.stdout
        tokyo = datetime.fromtimestamp(ticket["created_at"], ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
        assert tokyo not in shown.stdout


def test_the_demo_admin_runs_every_command(cli, demo_d):
    assert "Demo Co" in cli("tenants", "list").stdout
    backup = cli.json("backup")
    assert backup["path"].startswith(str(demo_d.data_dir / "backups"))


def test_a_suspended_tenant_stops_working(tmp_path):
    z = Zingd(tmp_path / "suspended", demo=True).start()
    try:
        ana = SyncClient(z.socket)
        ana.call("auth.login", {"email": "ana@demo.zing", "password": "demo-agent"})
        sock = ("--socket", str(z.socket))
        done = run_zingctl(*sock, "tenants", "update", "1", "--status", "suspended")
        assert done.returncode == 0, done.stderr
        with pytest.raises((ConnectionLost, OSError)):
            ana.call("ticket.list")  # her connection was closed
        with SyncClient(z.socket) as again, pytest.raises(Forbidden, match="suspended"):
            again.call("auth.login", {"email": "ana@demo.zing", "password": "demo-agent"})
        run_zingctl(*sock, "sim", "say", "--from", "5511955550777", "oi")  # customers still arrive...
        ticket = json.loads(run_zingctl(*sock, "tickets", "list", "--json").stdout)[0]
        messages = json.loads(run_zingctl(*sock, "messages", "list", str(ticket["id"]), "--json").stdout)
        menu = [m for m in messages if m["direction"] == "out"]
        assert menu and all(m["ack"] == "queued" for m in menu)  # ...and nothing goes out
        run_zingctl(*sock, "tenants", "update", "1", "--status", "active")
        wait_for(lambda: all(m["ack"] != "queued" for m in json.loads(
            run_zingctl(*sock, "messages", "list", str(ticket["id"]), "--json").stdout) if m["direction"] == "out"))
    finally:
        z.kill()


def test_restoring_a_missing_file_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "zingd", "--data-dir", str(tmp_path / "data"), "--socket",
                           str(tmp_path / "s.sock"), "--restore", str(tmp_path / "missing.db")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert proc.stderr == f"zingd: restore failed: {tmp_path / 'missing.db'}: no such file\n"
