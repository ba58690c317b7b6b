"""A real zingd pointed at llama.cpp's server with one setting: the copilot answers (whole and
streamed over the socket), the model list and status come from the server, and every request is
counted in assistant.usage. Shapes and counts only: the model is too small for content."""

from __future__ import annotations

import time

import pytest

from tests.integration.desk import Desk, make_desk
from tests.integration.support import Raw
from tests.llm_smoke.conftest import ALIAS

pytestmark = pytest.mark.llm_smoke

CUSTOMER = "5511988887777"
SUGGEST_TIMEOUT_S = 100.0  # a ceiling (under the suite's 120 s per test): 500 tokens on one loaded CPU thread


@pytest.fixture(scope="module")
def desk(llama, tmp_path_factory) -> Desk:
    """A company whose assistant is the llama server, and a ticket with a customer's question."""
    d = make_desk(tmp_path_factory.mktemp("zingd"))
    d.admin.call("assistant.update", {"base_url": llama.url, "chat": {"model": ALIAS}, "timeout_s": 120})
    d.say(CUSTOMER, "Hello, I ordered a blue jacket last week and it has not arrived. Where is it?")
    yield d
    d.close()
    d.z.kill()


@pytest.fixture(scope="module")
def ticket_id(desk) -> int:
    return desk.ticket_of(CUSTOMER)["id"]  # sim.say answers once the message is in


COUNTS = ("requests", "failures", "prompt_tokens", "completion_tokens", "tokens")


def usage_of(desk: Desk, feature: str) -> dict[str, int]:
    """The feature's counts over every day of the run (a run may cross midnight in the company's zone)."""
    rows = [r for r in desk.admin.call("assistant.usage", {})["rows"] if r["feature"] == feature]
    return {name: sum(r[name] for r in rows) for name in COUNTS}


def test_status_and_models_come_from_the_server(desk):
    status = desk.admin.call("assistant.status", {})
    assert status["chat"] is True and status["reason"] == ""
    assert desk.admin.call("assistant.models", {}) == [ALIAS]


def test_suggest_answers_and_counts_tokens(desk, ticket_id, figures):
    started = time.monotonic()
    with Raw(desk.z.socket, timeout=SUGGEST_TIMEOUT_S) as raw:
        result = raw.call("copilot.suggest", {"ticket_id": ticket_id})
    figures.time("copilot.suggest through zingd (whole)", time.monotonic() - started)
    assert isinstance(result["text"], str) and result["text"].strip()
    assert result["sources"] == []  # the tenant has no knowledge entries
    row = usage_of(desk, "suggest")
    assert row["requests"] == 1 and row["failures"] == 0
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
    assert row["tokens"] == row["prompt_tokens"] + row["completion_tokens"]


def test_suggest_streams_deltas_before_the_answer(desk, ticket_id, figures):
    before = usage_of(desk, "suggest")
    started = time.monotonic()
    with Raw(desk.z.socket, timeout=SUGGEST_TIMEOUT_S) as raw:
        rid = raw.next_id()
        raw.send_json({"jsonrpc": "2.0", "id": rid, "method": "copilot.suggest",
                       "params": {"ticket_id": ticket_id, "stream": True}})
        reply = raw.reply(rid)
        frames = list(raw.frames)
    figures.time("copilot.suggest through zingd (streamed)", time.monotonic() - started)
    assert "error" not in reply, reply
    deltas = [f["params"] for f in frames if isinstance(f, dict) and f.get("method") == "copilot.delta"]
    assert deltas and all(d["request"] == rid and isinstance(d["text"], str) for d in deltas)
    # every piece came before the answer (Raw.reply keeps what it read before it, in order), and the
    # answer is the pieces put together (copilot trims the whole)
    assert reply["result"]["text"] == "".join(d["text"] for d in deltas).strip()
    after = usage_of(desk, "suggest")
    assert after["requests"] == before["requests"] + 1 and after["failures"] == before["failures"]
    assert after["completion_tokens"] > before["completion_tokens"]


def test_a_suggestion_over_the_time_cap_is_unavailable_and_counted(desk, ticket_id, figures):
    """The tenant's timeout_s caps each request: over it the agent gets ``unavailable`` saying so, the
    failure is counted, and the server is used again afterwards."""
    number = "5511977776666"
    for i in range(12):  # a conversation the server needs seconds just to read, on one CPU thread
        desk.say(number, f"Message {i}: my parcel, order {5000 + i}, went from Lisbon to Madrid, then to "
                         "Paris and Brussels, and the tracking page has not changed since last Monday.")
    long_ticket = desk.ticket_of(number)["id"]
    desk.admin.call("assistant.update", {"timeout_s": 1})
    before = usage_of(desk, "suggest")
    try:
        with Raw(desk.z.socket, timeout=SUGGEST_TIMEOUT_S) as raw:
            started = time.monotonic()
            reply = raw.request("copilot.suggest", {"ticket_id": long_ticket})
            figures.time("copilot.suggest over a 1 s cap: unavailable after", time.monotonic() - started)
    finally:
        desk.admin.call("assistant.update", {"timeout_s": 120})
    error = reply.get("error")
    assert error and error["data"]["kind"] == "unavailable" and error["data"]["assistant"] == "timeout", reply
    assert "within 1 s" in error["message"]
    after = usage_of(desk, "suggest")
    assert after["requests"] == before["requests"] + 1 and after["failures"] == before["failures"] + 1
    started = time.monotonic()
    with Raw(desk.z.socket, timeout=SUGGEST_TIMEOUT_S) as raw:
        assert raw.call("copilot.suggest", {"ticket_id": ticket_id})["text"].strip()
    figures.time("copilot.suggest after the capped one (waits for the server to drop it)",
                 time.monotonic() - started)


def test_usage_rows_add_up_and_show_the_limits(desk):
    usage = desk.admin.call("assistant.usage", {})
    assert usage["daily_token_limit"] == 0 and usage["daily_cost_limit"] == 0
    assert usage["rows"]
    for row in usage["rows"]:
        assert row["tokens"] == row["prompt_tokens"] + row["completion_tokens"]
        assert row["cost"] == 0  # no prices set
