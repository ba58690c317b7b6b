"""The OpenAI-compatible client against the scripted server: every answer read defensively.

Streams (SSE) assemble text and tool calls (also llama.cpp's, which repeats the tool's name in
every chunk and counts no usage), a stream cut before its end is an error rather than a truncated
answer, structured output falls back from json_schema to the servers' own dialects and refuses JSON
that doesn't fit, and HTTP errors, garbage, huge bodies and silence become ProviderError kinds."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.assistant.openai_fake import FakeOpenAI
from zingd.assistant import provider as P
from zingd.assistant.provider import Provider, ProviderError

HI = [{"role": "user", "content": "hi"}]
TAGS = {"type": "object", "required": ["tags"],
        "properties": {"tags": {"type": "array", "items": {"type": "string", "enum": ["billing", "vip"]}}}}


@pytest.fixture
def ai():
    with FakeOpenAI(api_key="k") as server:
        yield server


def run(ai, fn, timeout_s=10.0):
    async def go():
        async with aiohttp.ClientSession() as s:
            return await fn(Provider(s, ai.url, "k", timeout_s))
    return asyncio.run(go())


@pytest.mark.parametrize("dialect", ["openai", "llama"])
def test_a_stream_gives_its_pieces_then_the_whole_answer(ai, dialect):
    ai.dialect = dialect
    ai.stream("Hello, how can I help?", pieces=5)
    pieces = []
    reply = run(ai, lambda p: p.chat("m", HI, on_delta=pieces.append))
    assert len(pieces) == 5 and "".join(pieces) == reply.text == "Hello, how can I help?"
    assert reply.finish_reason == "stop" and reply.usage.completion_tokens > 0  # estimated without usage


@pytest.mark.parametrize("dialect", ["openai", "llama"])
def test_streamed_tool_calls_are_assembled(ai, dialect):
    ai.dialect = dialect
    ai.tool_call("handoff", {"reason": "wants a human", "queue_id": 3})
    reply = run(ai, lambda p: p.chat("m", HI, tools=[], on_delta=lambda _: None))
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("handoff", {"reason": "wants a human",
                                                                              "queue_id": 3})]


def test_a_stream_cut_before_its_end_is_an_error_not_a_short_answer(ai):
    ai.cut("This answer is cut off")
    with pytest.raises(ProviderError) as e:
        run(ai, lambda p: p.chat("m", HI, on_delta=lambda _: None))
    assert e.value.failure == "server"


@pytest.mark.parametrize("dialect", ["openai", "llama"])
def test_structured_output_falls_back_and_checks_the_shape(ai, dialect):
    ai.dialect = dialect
    P.Provider._dialect.clear()
    ai.reply('Sure! ```json\n{"tags": ["vip"]}\n```')
    value, _ = run(ai, lambda p: p.structured("m", HI, TAGS, "tags"))
    assert value == {"tags": ["vip"]}
    sent = [r["json"].get("response_format") for r in ai.chat_requests()]
    assert sent[0]["type"] == "json_schema"
    if dialect == "llama":  # refused with 500, then asked with llama.cpp's json_object + schema
        assert sent[1] == {"type": "json_object", "schema": TAGS}
    ai.reply('{"tags": ["made-up"]}')
    with pytest.raises(ProviderError) as e:
        run(ai, lambda p: p.structured("m", HI, TAGS, "tags"))
    assert e.value.failure == "bad_response"


@pytest.mark.parametrize("script, failure", [
    (lambda ai: ai.error(401), "auth"), (lambda ai: ai.error(429), "rate_limited"),
    (lambda ai: ai.error(503), "server"), (lambda ai: ai.error(400), "refused"),
    (lambda ai: ai.garbage(), "bad_response"), (lambda ai: ai.garbage(b'{"choices": []}'), "bad_response"),
    (lambda ai: ai.garbage(b'{"choices": [{"message": {"tool_calls": [{"function": {"name": "x", '
                           b'"arguments": "{broken"}}]}}]}'), "bad_response"),
    (lambda ai: ai.garbage(b"x" * (P.MAX_BODY + 10)), "bad_response"),
])
def test_failures_become_provider_errors(ai, script, failure):
    script(ai)
    with pytest.raises(ProviderError) as e:
        run(ai, lambda p: p.chat("m", HI))
    assert e.value.failure == failure


def test_silence_is_a_timeout_and_a_closed_port_unreachable(ai):
    ai.hang()
    with pytest.raises(ProviderError) as e:
        run(ai, lambda p: p.chat("m", HI), timeout_s=1)
    assert e.value.failure == "timeout"
    ai.release()

    async def closed():
        async with aiohttp.ClientSession() as s:
            return await Provider(s, "http://127.0.0.1:9/v1", "", 5).models()
    with pytest.raises(ProviderError) as e:
        asyncio.run(closed())
    assert e.value.failure == "unreachable"


def test_embeddings_and_transcripts(ai):
    vectors, _ = run(ai, lambda p: p.embed("e", ["refund policy", "opening hours"]))
    assert len(vectors) == 2 and len(vectors[0]) == 64
    ai.transcript("quero cancelar")
    text, _ = run(ai, lambda p: p.transcribe("w", b"OggS....", "note.ogg", "audio/ogg"))
    assert text == "quero cancelar"
    assert ai.requests[-1]["form"]["file"]["size"] == 8 and ai.requests[-1]["form"]["model"] == "w"
