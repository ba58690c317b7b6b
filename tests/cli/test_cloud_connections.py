"""`zingctl connections` for cloud numbers, against the demo daemon and the fake Graph server: adding
one with its secrets from standard input or a hidden prompt (never a prompt a script can't answer),
rotating a secret, and list / show with kind, quality, messaging limit, webhook path and advice —
the secrets never printed, not even with --json."""

from __future__ import annotations

import itertools
import json
import sys
from types import SimpleNamespace

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.cli.conftest import run_zingctl
from tests.helpers import wait_for

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def g(demo_d):
    with demo_d.client() as c:  # the demo's superadmin: room for the numbers these tests add
        c.call("tenant.update", {"id": c.call("tenant.get")["id"], "max_connections": 40})
    with FakeGraph() as server:
        yield server


def _number(g: FakeGraph) -> str:
    n = next(_numbers)
    pnid = f"10910000000{n:02d}"
    g.add_number(pnid, f"+55 21 4000-00{n:02d}")
    return pnid


def _ids(g: FakeGraph, pnid: str) -> list[str]:
    return ["--kind", "cloud", "--phone-number-id", pnid, "--business-account-id", g.waba_id,
            "--graph-url", g.base_url]


def _secrets(g: FakeGraph) -> set[str]:
    return {g.token, g.app_secret, g.verify_token}


def _connected(cli, cid: int) -> dict:
    return wait_for(lambda: (c := cli.json("connections", "show", str(cid)))["status"] == "connected" and c)


def test_add_reads_the_token_from_stdin_and_never_prints_a_secret(cli, g):
    out = cli("connections", "add", "Cloud A", *_ids(g, _number(g)), "--access-token", "-",
              "--app-secret", g.app_secret, "--verify-token", g.verify_token, "--json", input=g.token + "\n")
    made = json.loads(out.stdout)
    assert made["kind"] == "cloud" and made["cloud"]["access_token_hint"] == "…" + g.token[-4:]
    shown = _connected(cli, made["id"])
    assert shown["cloud"]["quality_rating"] == "GREEN"
    for text in (out.stdout, out.stderr, json.dumps(shown)):
        assert not [s for s in _secrets(g) if s in text]


def test_a_missing_secret_is_asked_for_hidden_on_a_terminal(cli, g, monkeypatch):
    monkeypatch.setattr("zingctl.connections.sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True),
                                                                  stdout=sys.stdout))
    out = cli("connections", "add", "Cloud prompt", *_ids(g, _number(g)), "--access-token", g.token,
              input=f"{g.app_secret}\n{g.verify_token}\n")
    assert "App secret" in out.stdout and "Verify token" in out.stdout
    assert not [s for s in _secrets(g) if s in out.stdout]  # typed without echo
    assert "added connection" in out.stdout and "/webhooks/whatsapp" in out.stderr
    cid = next(c["id"] for c in cli.json("connections", "list") if c["name"] == "Cloud prompt")
    assert _connected(cli, cid)["cloud"]["verify_token_hint"] == "…" + g.verify_token[-4:]


def test_a_script_that_leaves_a_secret_out_gets_a_usage_error_not_a_prompt(demo_d, g):
    pnid = _number(g)
    done = run_zingctl("--socket", str(demo_d.socket), "connections", "add", "Cloud script", *_ids(g, pnid),
                       "--access-token", "-", "--verify-token", g.verify_token, input=g.token)
    assert done.returncode == 2 and "--app-secret" in done.stderr, done
    assert g.token not in done.stdout + done.stderr
    with demo_d.client() as c:
        assert "Cloud script" not in {x["name"] for x in c.call("connection.list")}


def test_a_script_keeps_every_secret_off_its_command_line(demo_d, g, monkeypatch):
    """One secret from standard input, the others from ZING_CLOUD_*: none of them in argv (`ps`)."""
    monkeypatch.setenv("ZING_CLOUD_APP_SECRET", g.app_secret)
    monkeypatch.setenv("ZING_CLOUD_VERIFY_TOKEN", g.verify_token)
    args = ["--socket", str(demo_d.socket), "connections", "add", "Cloud env", *_ids(g, _number(g)),
            "--access-token", "-", "--json"]
    done = run_zingctl(*args, input=g.token)
    assert done.returncode == 0, done
    assert not [s for s in _secrets(g) if s in " ".join(args) + done.stdout + done.stderr]
    assert json.loads(done.stdout)["cloud"]["app_secret_hint"] == "…" + g.app_secret[-4:]


def test_bad_usage_is_refused_before_the_daemon_is_asked(cli, g):
    assert "--kind cloud" in cli("connections", "add", "Sim", "--phone-number-id", "1", code=2).stderr
    err = cli("connections", "add", "No id", "--kind", "cloud", "--business-account-id", g.waba_id, code=2).stderr
    assert "--phone-number-id" in err
    err = cli("connections", "add", "Bad url", *_ids(g, _number(g))[:-1], "plain-host", "--access-token", g.token,
              "--app-secret", g.app_secret, "--verify-token", g.verify_token, code=1).stderr
    assert "[invalid]" in err and "base_url" in err and g.token not in err


def test_list_and_show_give_kind_quality_limit_webhook_and_advice(cli, g):
    made = cli.json("connections", "add", "Cloud B", *_ids(g, _number(g)), "--access-token", g.token,
                    "--app-secret", g.app_secret, "--verify-token", g.verify_token)
    _connected(cli, made["id"])
    table = cli("connections", "list").stdout
    row = next(line for line in table.splitlines() if "Cloud B" in line)
    assert "cloud" in row and "GREEN" in row and "TIER_1K" in row
    shown = cli("connections", "show", str(made["id"])).stdout
    for expected in ("/webhooks/whatsapp", "GREEN", "TIER_1K", "Fake Co", "…" + g.token[-4:], g.base_url):
        assert expected in shown, expected
    lines = cli.jsonl("connections", "list")
    assert next(c for c in lines if c["id"] == made["id"])["cloud"]["webhook_path"] == "/webhooks/whatsapp"
    for text in (table, shown, json.dumps(lines)):
        assert not [s for s in _secrets(g) if s in text]
    err = cli("connections", "pair", str(made["id"]), code=1).stderr
    assert "cloud numbers don't pair" in err


def test_update_rotates_a_secret_from_stdin_and_the_number_reconnects(cli, g):
    made = cli.json("connections", "add", "Cloud C", *_ids(g, _number(g)), "--access-token", g.token,
                    "--app-secret", g.app_secret, "--verify-token", g.verify_token)
    _connected(cli, made["id"])
    old, new = g.token, "EAAGcli-rotated-token-5678"
    g.token = new
    try:
        cli("connections", "restart", str(made["id"]))
        out = wait_for(lambda: (c := cli.json("connections", "show", str(made["id"])))["status"] == "logged_out"
                       and c)
        assert f"zingctl connections update {made['id']} --access-token -" in out["advice"]
        assert "Meta refused the access token" in cli("connections", "show", str(made["id"])).stdout
        done = cli("connections", "update", str(made["id"]), "--access-token", "-", "--json", input=new + "\n")
        assert new not in done.stdout and json.loads(done.stdout)["cloud"]["access_token_hint"] == "…5678"
        assert _connected(cli, made["id"])["advice"] == ""
        audit = cli.json("audit", "--action", "connection.update", "--target-id", str(made["id"]))
        assert any(a["target_id"] == made["id"] and a["data"] == {"cloud": ["access_token"]} for a in audit)
    finally:
        g.token = old
