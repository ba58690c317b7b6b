"""zingd's Provider against llama.cpp's server: every call zing makes, in the shapes this server
really answers (see the module doc of conftest.py). Shapes only: the model is too small for content."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp
import pytest

from tests.llm_smoke.conftest import ALIAS
from zingd.assistant.provider import Provider, ProviderError, check

pytestmark = pytest.mark.llm_smoke

HANDOFF = {"type": "function", "function": {
    "name": "handoff", "description": "Pass the conversation to a human agent in a queue.",
    "parameters": {"type": "object", "required": ["queue", "urgent"], "properties": {
        "queue": {"type": "string", "enum": ["sales", "support"]},
        "urgent": {"type": "boolean"},
        # bounded, so the forced call always ends well before max_tokens
        "reason": {"type": "string", "maxLength": 40}}}}}
LOOKUP = {"type": "function", "function": {
    "name": "lookup_contact", "description": "Look up the customer.",
    "parameters": {"type": "object", "properties": {}}}}
FORCE_HANDOFF = {"type": "function", "function": {"name": "handoff"}}
TAGS = {"type": "object", "required": ["tags", "urgent"], "properties": {
    "tags": {"type": "array", "items": {"type": "string", "enum": ["billing", "delivery", "sales"]}},
    "urgent": {"type": "boolean"},
    "reason": {"type": "string", "maxLength": 60}}}
HELLO = [{"role": "system", "content": "You are a helpdesk agent. Answer in one short sentence."},
         {"role": "user", "content": "Hello, my order has not arrived yet."}]
STORY = [{"role": "user", "content": "Write a long story, in ten chapters, about a lighthouse keeper and a parcel."}]


def long_conversation() -> list[dict]:
    """About 700 prompt tokens that start with something new each time, so the server can't reuse a
    cached prefix: evaluating it alone takes seconds on one CPU thread, far over the time caps below."""
    turns = [{"role": "system", "content": f"Conversation {uuid.uuid4()}. You are a helpdesk agent."}]
    for i in range(14):
        turns.append({"role": "user" if i % 2 == 0 else "assistant",
                      "content": f"Turn {i}: the parcel with order number {1000 + i} left the warehouse in "
                                 "Lisbon on Monday, went through Madrid and Paris, and is still not here."})
    turns.append({"role": "user", "content": "Write me the whole history of the parcel, in great detail."})
    return turns


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def provider(llama, session) -> Provider:
    return Provider(session, llama.url, "", timeout_s=120)


async def timed(figures, what: str, coro):
    started = time.monotonic()
    try:
        return await coro
    finally:
        figures.time(what, time.monotonic() - started)


async def test_models_lists_the_alias(provider, figures):
    assert await timed(figures, "models()", provider.models()) == [ALIAS]


async def test_chat_answers_text_with_usage(provider, figures):
    reply = await timed(figures, "chat(), 16 tokens at most", provider.chat(ALIAS, HELLO, max_tokens=16))
    assert isinstance(reply.text, str) and reply.text.strip()
    assert reply.tool_calls == []
    assert reply.finish_reason in ("stop", "length")
    assert reply.model == ALIAS
    assert reply.usage.prompt_tokens > 0
    assert 0 < reply.usage.completion_tokens <= 16


async def test_stream_hands_each_piece_to_on_delta(provider, figures):
    pieces: list[str] = []
    reply = await timed(figures, "chat() streamed, 24 tokens at most",
                        provider.chat(ALIAS, HELLO, max_tokens=24, on_delta=pieces.append))
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == reply.text
    assert reply.finish_reason in ("stop", "length")  # the stream ran to its end, not cut
    assert reply.tool_calls == []


async def test_forced_tool_call_comes_back_parsed(provider, figures):
    reply = await timed(figures, "chat() with a forced tool call", provider.chat(
        ALIAS, HELLO, tools=[LOOKUP, HANDOFF], tool_choice=FORCE_HANDOFF, max_tokens=120))
    [call] = reply.tool_calls
    assert call.name == "handoff" and call.id
    assert call.arguments["queue"] in ("sales", "support")
    assert isinstance(call.arguments["urgent"], bool)
    assert check(call.arguments, HANDOFF["function"]["parameters"])
    assert reply.finish_reason == "tool_calls"
    assert reply.usage.completion_tokens > 0


async def test_forced_tool_call_streamed(provider, figures):
    """llama.cpp repeats the tool's name in every chunk of a streamed call (OpenAI sends it once)."""
    pieces: list[str] = []
    reply = await timed(figures, "chat() streamed with a forced tool call", provider.chat(
        ALIAS, HELLO, tools=[LOOKUP, HANDOFF], tool_choice=FORCE_HANDOFF, max_tokens=120, on_delta=pieces.append))
    [call] = reply.tool_calls
    assert call.name == "handoff"
    assert check(call.arguments, HANDOFF["function"]["parameters"])
    assert reply.finish_reason == "tool_calls"
    assert "".join(pieces) == reply.text  # tool-call arguments are not text for the agent


async def test_tool_result_goes_back_to_the_model(provider, figures):
    """A forced call, then its result sent back as the next turn: the conversation the bot keeps."""
    first = await provider.chat(ALIAS, HELLO, tools=[LOOKUP, HANDOFF], tool_choice=FORCE_HANDOFF, max_tokens=120)
    [call] = first.tool_calls
    turn = [*HELLO,
            {"role": "assistant", "content": first.text,  # "" with a tool call: this server refuses null
             "tool_calls": [{"id": call.id, "type": "function",
                             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]},
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"ok": True, "queue": "support"})}]
    reply = await timed(figures, "chat() after a tool result", provider.chat(
        ALIAS, turn, tools=[LOOKUP, HANDOFF], max_tokens=16))
    assert isinstance(reply.text, str) and reply.finish_reason in ("stop", "length", "tool_calls")


async def test_structured_falls_back_to_the_servers_dialect(provider, llama, figures):
    """llama.cpp answers the standard json_schema form with HTTP 500; its own json_object + schema
    is grammar-constrained, so what comes back fits the schema."""
    messages = [{"role": "user", "content": "My invoice shows the wrong amount and I need it today."}]
    value, usage = await timed(figures, "structured() (json_schema refused, then json_object+schema)",
                               provider.structured(ALIAS, messages, TAGS, "ticket_tags", max_tokens=120))
    assert check(value, TAGS)
    assert set(value["tags"]) <= {"billing", "delivery", "sales"}
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert Provider._dialect[(llama.url, ALIAS)] == "json_object_schema"
    again, _ = await timed(figures, "structured() again (the dialect remembered)",
                           provider.structured(ALIAS, messages, TAGS, "ticket_tags", max_tokens=120))
    assert check(again, TAGS)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_time_cap_is_a_timeout_and_the_server_answers_after(llama, session, provider, figures, streamed):
    """A request over its cap is ProviderError("timeout"), never a hang, and the server serves the next
    one. It waits, though (the figures show how long): a whole (non-streamed) request the client gave
    up on runs to its end on this server; a streamed one stops at its first token after the prompt
    is read."""
    capped = Provider(session, llama.url, "", timeout_s=0.5)
    on_delta = (lambda piece: None) if streamed else None
    started = time.monotonic()
    with pytest.raises(ProviderError) as failed:
        await capped.chat(ALIAS, long_conversation(), max_tokens=300, on_delta=on_delta)
    figures.time(f"time cap 0.5 s ({'streamed' if streamed else 'whole'}): raised after",
                 time.monotonic() - started)
    assert failed.value.failure == "timeout"
    assert "0.5 s" in failed.value.message
    reply = await timed(figures, f"the next request after a capped {'streamed' if streamed else 'whole'} one",
                        provider.chat(ALIAS, HELLO, max_tokens=4))
    assert reply.usage.completion_tokens > 0
    assert llama.alive()


async def test_a_stream_cut_by_a_newer_request_is_a_failure(provider, figures):
    """llama.cpp (``--interrupt_requests``, on by default) ends a running stream when another request
    arrives: ``[DONE]`` with no finish_reason, then the connection drops. That is the start of an
    answer, not an answer: ProviderError, never a short reply passed off as whole. The newer request
    is answered."""
    newer: list[asyncio.Task] = []

    def on_delta(piece: str) -> None:
        if not newer:  # the stream is running: send another request now
            newer.append(asyncio.ensure_future(provider.chat(ALIAS, HELLO, max_tokens=4)))

    with pytest.raises(ProviderError) as cut:
        await provider.chat(ALIAS, STORY, max_tokens=400, on_delta=on_delta)
    assert cut.value.failure in ("server", "bad_response")
    reply = await timed(figures, "the request that cut a stream", newer[0])
    assert reply.usage.completion_tokens > 0
