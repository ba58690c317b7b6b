"""The assistant's settings, limits and accounting (issue 14), through a real zingd and the scripted
OpenAI-compatible server: off until a chat model is set (and saying so), the API key never shown
again nor logged, bad settings refused with nothing changed, another tenant's ids refused, usage
counted per day and feature, and at the daily limit the assistant refuses with a reason."""

from __future__ import annotations

import pytest

from tests.assistant.openai_fake import FakeOpenAI
from tests.helpers import Zingd, bootstrap
from tests.integration.support import db_rows
from zingd.errors import Forbidden, Invalid, Unavailable

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def ai():
    with FakeOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def z(tmp_path_factory):
    d = Zingd(tmp_path_factory.mktemp("assistant")).start()
    d.token = bootstrap(d)
    with d.client(d.token) as c:
        other = c.call("tenant.create", {"name": "Bravo"})["id"]
        c.call("user.create", {"email": "bob@bravo.test", "name": "Bob", "role": "admin", "password": "password-123",
                               "tenant_id": other})
        d.queue = c.call("queue.create", {"name": "Support"})["id"]
        c.call("user.create", {"email": "ana@acme.test", "name": "Ana", "role": "agent", "password": "password-123"})
        c.call("user.create", {"email": "sue@acme.test", "name": "Sue", "role": "supervisor",
                               "password": "password-123"})
    with _as(d, "bob@bravo.test") as bob:
        d.bravo_queue = bob.call("queue.create", {"name": "Bravo only"})["id"]
    yield d
    d.stop()


def _as(z: Zingd, email: str):
    c = z.client()
    c.call("auth.login", {"email": email, "password": "password-123"})
    return c


def test_off_until_a_chat_model_is_set_and_it_says_how(z, ai):
    with z.client(z.token) as c:
        status = c.call("assistant.status")
        assert status["chat"] is False and "zingctl assistant set" in status["reason"]
        c.call("assistant.update", {"base_url": ai.url, "api_key": KEY, "chat": {"model": "fake"}})
        assert c.call("assistant.status") == {"chat": True, "transcription": False, "embeddings": False,
                                              "bot": False, "reason": ""}
        assert c.call("assistant.models") == ai.models
        assert ai.requests[-1]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_the_key_is_never_shown_again_nor_logged(z, ai):
    with z.client(z.token) as c:
        view = c.call("assistant.update", {"base_url": ai.url, "api_key": KEY, "chat": {"model": "fake"}})
        assert view["api_key_set"] is True and view["api_key_hint"] == "…" + KEY[-4:]
        assert KEY not in repr(view) and KEY not in repr(c.call("assistant.get"))
        audit = c.call("audit.list", {"limit": 50})
        assert KEY not in repr(audit)
        events = db_rows(z, "SELECT data FROM events WHERE type = 'assistant.updated'")
        assert events and KEY not in repr(events)
    assert KEY not in z.log.read_text()


def test_bad_settings_are_refused_and_nothing_changes(z, ai):
    with z.client(z.token) as c:
        c.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"}})
        before = c.call("assistant.get")
        for patch, field in (({"base_url": "file:///etc/passwd"}, "base_url"),
                             ({"timeout_s": 0}, "timeout_s"),
                             ({"daily_token_limit": -1}, "daily_token_limit"),
                             ({"summarize_on": ["always"]}, "summarize_on"),
                             ({"bot": {"tools": ["rm_rf"]}}, "bot.tools"),
                             ({"bot": {"queues": [z.bravo_queue]}}, "bot.queues"),  # another tenant's queue
                             ({"bot": {"handoff_queue_id": 987654}}, "bot.handoff_queue_id"),
                             ({"api_key": "two words"}, "api_key")):
            with pytest.raises(Invalid) as e:
                c.call("assistant.update", patch)
            assert e.value.details.get("field") == field, (patch, e.value)
        assert c.call("assistant.get") == before


def test_only_admins_change_it_and_anyone_sees_whether_it_is_on(z, ai):
    with _as(z, "ana@acme.test") as ana, _as(z, "sue@acme.test") as sue:
        for client in (ana, sue):
            with pytest.raises(Forbidden):
                client.call("assistant.update", {"chat": {"model": "x"}})
            with pytest.raises(Forbidden):
                client.call("assistant.get")
        with pytest.raises(Forbidden):
            ana.call("assistant.usage")
        assert "chat" in ana.call("assistant.status")
        assert "rows" in sue.call("assistant.usage")


def test_the_bot_user_serves_exactly_the_bot_queues_and_cannot_log_in(z, ai):
    with z.client(z.token) as c:
        view = c.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"},
                                           "bot": {"queues": [z.queue]}})
        bot = view["bot_user_id"]
        assert db_rows(z, "SELECT queue_id FROM queue_members WHERE user_id = ?", (bot,)) == [{"queue_id": z.queue}]
        c.call("assistant.update", {"bot": {"queues": []}})
        assert not db_rows(z, "SELECT queue_id FROM queue_members WHERE user_id = ?", (bot,))
        assert c.call("assistant.get")["bot_user_id"] == bot  # one bot user per tenant
        [row] = db_rows(z, "SELECT email, is_bot, role FROM users WHERE id = ?", (bot,))
        assert row["is_bot"] == 1 and row["role"] == "agent"
    with z.client() as anon, pytest.raises(Exception) as e:
        anon.call("auth.login", {"email": row["email"], "password": "!"})
    assert "wrong email or password" in str(e.value)


def test_no_one_gives_the_bot_user_a_password_role_or_presence(z, ai):
    with z.client(z.token) as c:
        bot = c.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"}})["bot_user_id"]
        for change in ({"password": "password-123"}, {"role": "admin"}, {"max_tickets": 5}):
            with pytest.raises(Invalid) as e:
                c.call("user.update", {"id": bot, **change})
            assert "assistant's bot" in e.value.message
        assert c.call("user.update", {"id": bot, "name": "Ava (bot)"})["name"] == "Ava (bot)"


def test_usage_is_counted_per_day_and_feature_and_the_daily_limit_refuses_with_a_reason(tmp_path, ai):
    z = Zingd(tmp_path).start()
    try:
        with z.client(bootstrap(z)) as c:
            c.call("assistant.update", {"base_url": ai.url, "api_key": KEY, "chat": {"model": "fake"},
                                        "prompt_price_per_1k": 1.0, "completion_price_per_1k": 2.0})
            ai.reply("A shorter text.", prompt_tokens=300, completion_tokens=100)
            assert c.call("copilot.rewrite", {"text": "a long text", "style": "shorter"})["text"] == "A shorter text."
            ai.error(500)
            with pytest.raises(Unavailable) as e:
                c.call("copilot.rewrite", {"text": "a long text", "style": "shorter"})
            assert e.value.details["assistant"] == "server"
            [row] = c.call("assistant.usage")["rows"]
            assert row["feature"] == "rewrite" and row["requests"] == 2 and row["failures"] == 1
            assert (row["prompt_tokens"], row["completion_tokens"]) == (300, 100)
            assert row["cost"] == pytest.approx(0.3 + 0.2)
            c.call("assistant.update", {"daily_token_limit": 400})
            sent = len(ai.chat_requests())
            with pytest.raises(Unavailable) as e:
                c.call("copilot.rewrite", {"text": "a long text", "style": "shorter"})
            assert e.value.details["assistant"] == "limit" and "400 tokens" in e.value.message
            assert len(ai.chat_requests()) == sent  # refused before asking the server
            assert "limit" in c.call("assistant.status")["reason"]
            c.call("assistant.update", {"daily_token_limit": 0})
            assert c.call("copilot.rewrite", {"text": "a long text", "style": "shorter"})["text"] == ai.default
    finally:
        z.stop()
