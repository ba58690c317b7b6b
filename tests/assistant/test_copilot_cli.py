"""`zingctl copilot` against a real zingd and the scripted model server: the text on stdout (so it
pipes), what it drew on or where it was kept on stderr, a draft from standard input, tags applied
only when asked and only existing ones, and the assistant's failures as errors with exit code 1."""

from __future__ import annotations

import json

import pytest

from tests.assistant.test_copilot import Desk, desk  # noqa: F401 - the desk fixture
from tests.cli.conftest import Cli, cli_env  # noqa: F401 - a private config dir for each test


@pytest.fixture
def ana(desk: Desk):  # noqa: F811 - the imported fixture
    cli = Cli(desk.z.socket)
    return lambda *args, **kw: cli("--token", desk.ana_token, "copilot", *args, **kw)


def test_suggest_prints_the_reply_and_sends_nothing(desk, ana):  # noqa: F811
    tid = desk.customer("Is the shop open on holidays?")
    desk.ai.reply("Yes, from 10 to 16 on holidays.")
    out = ana("suggest", str(tid))
    assert out.stdout.strip() == "Yes, from 10 to 16 on holidays."
    desk.ai.reply("Yes, 10 to 16.")
    assert json.loads(ana("suggest", str(tid), "--json").stdout) == {"text": "Yes, 10 to 16.", "sources": []}
    assert [m for m in desk.root.call("message.list", {"ticket_id": tid})["messages"] if m["direction"] == "out"] == []


def test_rewrite_reads_the_draft_from_stdin(desk, ana):  # noqa: F811
    mark = len(desk.ai.requests)
    desk.ai.reply("Please wait a moment.")
    assert ana("rewrite", "--style", "formal", "-", input="wait pls\n").stdout.strip() == "Please wait a moment."
    desk.ai.reply("Wait, please.")
    assert ana("rewrite", "--style", "shorter", input="could you please wait for a moment\n").stdout.strip() \
        == "Wait, please."
    first, second = desk.chats(mark)
    assert first["messages"][-1]["content"].endswith("Draft:\nwait pls")
    assert second["messages"][-1]["content"].endswith("Draft:\ncould you please wait for a moment")
    assert "--style" in ana("rewrite", "hi", "--style", "pirate", code=2).stderr


def test_summarize_can_keep_a_note(desk, ana):  # noqa: F811
    tid = desk.customer("My invoice has the wrong address.")
    desk.ai.reply("Wrong address on the invoice.")
    out = ana("summarize", str(tid), "--note")
    assert out.stdout.strip() == "Wrong address on the invoice."
    [note] = desk.root.call("note.list", {"ticket_id": tid})
    assert f"kept as note {note['id']}" in out.stderr
    desk.ai.reply("Invoice address is wrong.")
    assert json.loads(ana("summarize", str(tid), "--json").stdout) == {"text": "Invoice address is wrong.",
                                                                       "note_id": None}


def test_tags_are_applied_only_with_apply_and_only_existing_ones(desk, ana):  # noqa: F811
    tid = desk.customer("Second charge on my card, refund please")
    desk.ai.reply(json.dumps({"tags": ["refund", "made-up"], "reason": "a refund request"}))
    out = ana("tags", str(tid))
    assert out.stdout.strip() == "refund" and "a refund request" in out.stderr
    assert desk.root.call("ticket.get", {"id": tid})["tags"] == []
    desk.root.call("ticket.set_tags", {"id": tid, "tags": ["vip"]})
    desk.ai.reply(json.dumps({"tags": ["billing", "made-up"], "reason": "charged twice"}))
    assert ana("tags", str(tid), "--apply").stdout.strip() == f"ticket {tid} tags: billing, vip"
    assert desk.root.call("ticket.get", {"id": tid})["tags"] == ["billing", "vip"]   # its other tags stay


def test_the_assistant_failing_or_a_hidden_ticket_is_an_error(desk, ana):  # noqa: F811
    tid = desk.customer("Hello?")
    desk.ai.error(500)
    err = ana("suggest", str(tid), code=1).stderr
    assert "[unavailable]" in err and "HTTP 500" in err
    err = ana("summarize", "987654", code=1).stderr
    assert "no ticket 987654" in err and "[not_found]" in err
    desk.ai.error(429)
    err = json.loads(ana("rewrite", "hi", "--style", "grammar", "--json", code=1).stderr)["error"]
    assert err["kind"] == "unavailable" and err["details"]["assistant"] == "rate_limited"
