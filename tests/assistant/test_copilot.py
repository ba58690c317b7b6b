"""The copilot through a real zingd and the scripted OpenAI-compatible server: a suggested reply
(streamed to the asking session before its answer, never sent to the customer), rewrites that ask
for their style, tags from the existing ones only, summaries on demand and as notes on close or
transfer when the tenant wants them, and a clear ``unavailable`` for every way the model fails.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.assistant.openai_fake import FakeOpenAI
from tests.helpers import Zingd, bootstrap, wait_for
from tests.integration.support import Raw, db_rows
from zingd.assistant.copilot import CONVERSATION_CHARS, STYLES

PASSWORD = "password-123"
_numbers = itertools.count(5511960000001)


class Session(Raw):
    """A raw socket logged in with a token (every frame seen: notifications too)."""

    def __init__(self, z: Zingd, token: str) -> None:
        super().__init__(z.socket)
        self.call("auth.token", {"token": token})


@dataclass
class Desk:
    z: Zingd
    ai: FakeOpenAI
    root: Session
    ana: Session
    ana_id: int
    ana_token: str
    bia_token: str
    queue: int
    bot_id: int

    def customer(self, *bodies: str) -> int:
        """A new customer writes ``bodies`` and Ana accepts the ticket (an accept, not a transfer: the
        summary tests count transfers). Its id."""
        number = str(next(_numbers))
        for body in bodies:
            self.root.call("sim.say", {"from": number, "body": body, "name": f"Customer {number[-3:]}"})
        [contact] = [c for c in self.root.call("contact.list", {"query": number}) if c["number"] == number]
        ticket = self.root.call("ticket.list", {"contact_id": contact["id"]})["tickets"][0]
        self.ana.call("ticket.accept", {"id": ticket["id"]})
        return ticket["id"]

    def configure(self, **patch: Any) -> None:
        self.root.call("assistant.update", patch)

    def chats(self, since: int) -> list[dict[str, Any]]:
        """The chat requests the fake got after the first ``since`` requests (bodies)."""
        return [r["json"] for r in self.ai.requests[since:] if r["path"].endswith("/chat/completions")]


def _login(z: Zingd, email: str) -> str:
    with Raw(z.socket) as r:
        return r.call("auth.login", {"email": email, "password": PASSWORD})["token"]


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    with FakeOpenAI() as ai:
        z = Zingd(tmp_path_factory.mktemp("copilot")).start()
        sessions: list[Session] = []
        try:
            root = Session(z, bootstrap(z))
            sessions.append(root)
            ana_id = root.call("user.create", {"email": "ana@acme.test", "password": PASSWORD,
                                               "name": "Ana Lima"})["id"]
            root.call("user.create", {"email": "bia@acme.test", "password": PASSWORD, "name": "Bia Reis"})
            root.call("connection.create", {"name": "Main", "kind": "sim"})
            queue = root.call("queue.create", {"name": "Sales"})["id"]
            root.call("queue.set_members", {"id": queue, "user_ids": [ana_id]})
            for name in ("billing", "refund", "vip"):
                root.call("tag.create", {"name": name})
            view = root.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"}, "timeout_s": 10})
            ana_token = _login(z, "ana@acme.test")
            ana = Session(z, ana_token)
            sessions.append(ana)
            yield Desk(z, ai, root, ana, ana_id, ana_token, _login(z, "bia@acme.test"), queue, view["bot_user_id"])
        finally:
            for s in sessions:
                s.close()
            z.kill()


def _system(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


def _prompt(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"])


def _outbound(desk: Desk, ticket_id: int) -> int:
    return db_rows(desk.z, "SELECT count(*) AS n FROM messages WHERE ticket_id = ? AND direction = 'out'",
                   (ticket_id,))[0]["n"]


# -- suggest -------------------------------------------------------------------------------------

def test_a_suggestion_streams_to_the_asker_before_the_answer_and_is_never_sent(desk):
    tid = desk.customer("My order 4471 arrived broken.", "Can I get my money back?")
    desk.ana.call("message.send", {"ticket_id": tid, "body": "Oh no, let me look into it."})
    sent = _outbound(desk, tid)
    mark = len(desk.ai.requests)
    text = "I'm sorry about order 4471! I've asked for your refund; you'll hear from us today."
    desk.ai.stream(text, pieces=4, hold=True)   # the last piece waits for release()
    rid = desk.ana.next_id()
    desk.ana.send_json({"jsonrpc": "2.0", "id": rid, "method": "copilot.suggest",
                        "params": {"ticket_id": tid, "stream": True}})
    deltas = []
    while len(deltas) < 3:   # three pieces arrive while the model is still writing: no answer yet
        frame = desk.ana.recv()
        assert frame.get("id") != rid, f"answered before the stream ended: {frame}"
        assert frame["method"] == "copilot.delta", frame
        deltas.append(frame["params"])
    desk.ai.release()
    while (frame := desk.ana.recv()).get("id") != rid:
        assert frame["method"] == "copilot.delta", frame
        deltas.append(frame["params"])
    assert "error" not in frame, frame
    assert frame["result"] == {"text": text, "sources": frame["result"]["sources"]}
    assert [d["request"] for d in deltas] == [rid] * len(deltas)
    assert "".join(d["text"] for d in deltas) == text
    [body] = desk.chats(mark)
    assert body["stream"] is True and body["model"] == "fake"
    prompt = _prompt(body)
    assert "[customer] My order 4471 arrived broken." in prompt
    assert "[customer] Can I get my money back?" in prompt
    assert "[agent Ana Lima] Oh no, let me look into it." in prompt
    assert prompt.index("arrived broken") < prompt.index("money back") < prompt.index("look into it")
    assert "never invent" in _system(body)
    assert _outbound(desk, tid) == sent   # nothing went to the customer


def test_a_suggestion_without_stream_is_one_answer(desk):
    tid = desk.customer("Do you deliver on Sundays?")
    desk.ai.reply("We deliver Monday to Saturday.")
    rid = desk.ana.next_id()
    desk.ana.send_json({"jsonrpc": "2.0", "id": rid, "method": "copilot.suggest", "params": {"ticket_id": tid}})
    frame = desk.ana.recv()
    assert frame.get("id") == rid and frame["result"]["text"] == "We deliver Monday to Saturday.", frame


def test_a_suggestion_is_grounded_in_the_knowledge_it_names(desk):
    faq = desk.root.call("knowledge.add", {"kind": "faq", "title": "How long does a refund take?",
                                           "body": "Refunds reach the card within 5 business days."})
    try:
        tid = desk.customer("How long until the refund reaches my card?")
        mark = len(desk.ai.requests)
        desk.ai.reply("It reaches your card within 5 business days.")
        out = desk.ana.call("copilot.suggest", {"ticket_id": tid})
        assert out == {"text": "It reaches your card within 5 business days.",
                       "sources": [{"id": faq["id"], "title": "How long does a refund take?"}]}
        [body] = desk.chats(mark)
        assert "Refunds reach the card within 5 business days." in _system(body)
    finally:
        desk.root.call("knowledge.delete", {"id": faq["id"]})
    desk.ai.reply("Let me check.")
    assert desk.ana.call("copilot.suggest", {"ticket_id": tid})["sources"] == []
    assert "nothing in the company's knowledge matches" in _system(desk.chats(mark)[-1])


# -- rewrite -------------------------------------------------------------------------------------

@pytest.mark.parametrize("style", sorted(STYLES))
def test_each_rewrite_style_asks_for_its_own_rewrite(desk, style):
    tid = desk.customer("Hola, ¿dónde está mi pedido?")
    mark = len(desk.ai.requests)
    desk.ai.reply(f"  the {style} draft \n")
    draft = "pls wait we r checking ur order"
    out = desk.ana.call("copilot.rewrite", {"text": draft, "style": style, "ticket_id": tid})
    assert out == {"text": f"the {style} draft"}
    [body] = desk.chats(mark)
    assert STYLES[style] in _system(body)
    assert not [s for other, s in STYLES.items() if other != style and s in _system(body)]
    assert draft in _prompt(body)
    assert "¿dónde está mi pedido?" in _prompt(body)   # the customer's words: translate reads their language


def test_a_rewrite_needs_a_draft_and_translate_needs_the_ticket(desk):
    mark = len(desk.ai.requests)
    rep = desk.ana.request("copilot.rewrite", {"text": "obrigado", "style": "translate"})
    assert rep["error"]["data"]["kind"] == "invalid" and "ticket_id" in rep["error"]["message"], rep
    rep = desk.ana.request("copilot.rewrite", {"text": "   ", "style": "shorter"})
    assert rep["error"]["data"]["kind"] == "invalid", rep
    rep = desk.ana.request("copilot.rewrite", {"text": "hi", "style": "pirate"})
    assert rep["error"]["code"] == -32602, rep
    desk.ai.reply("Thank you very much.")
    assert desk.ana.call("copilot.rewrite", {"text": "thx", "style": "formal"}) == {"text": "Thank you very much."}
    assert len(desk.chats(mark)) == 1   # only the valid one reached the model


# -- tags ----------------------------------------------------------------------------------------

def test_tags_are_proposed_from_the_existing_ones_only(desk):
    tid = desk.customer("I was charged twice, please refund one.")
    mark = len(desk.ai.requests)
    desk.ai.reply(json.dumps({"tags": ["refund", "billing", "refund"], "reason": "a double charge to refund"}))
    out = desk.ana.call("copilot.tags", {"ticket_id": tid})
    assert out == {"tags": ["refund", "billing"], "reason": "a double charge to refund"}
    [body] = desk.chats(mark)
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["tags"]["items"] == {"$ref": "#/$defs/tag"}
    assert schema["$defs"]["tag"] == {"type": "string", "enum": ["billing", "refund", "vip"]}
    assert desk.root.call("ticket.get", {"id": tid})["tags"] == []   # proposed, not applied


def test_a_tag_the_model_makes_up_is_never_proposed(desk):
    tid = desk.customer("Where is my parcel?")
    desk.ai.reply(json.dumps({"tags": ["shipping-delay", "vip"], "reason": "late parcel"}))
    assert desk.ana.call("copilot.tags", {"ticket_id": tid}) == {"tags": ["vip"], "reason": "late parcel"}
    assert "shipping-delay" not in [t["name"] for t in desk.root.call("tag.list")]


def test_tags_the_model_cant_put_in_shape_are_a_clear_error(desk):
    tid = desk.customer("Hello there")
    desk.ai.reply("I would say vip, maybe billing.")   # prose, not the JSON object asked for
    rep = desk.ana.request("copilot.tags", {"ticket_id": tid})
    assert rep["error"]["data"]["kind"] == "unavailable", rep
    assert rep["error"]["data"]["assistant"] == "bad_response", rep
    assert desk.root.call("ticket.get", {"id": tid})["tags"] == []


# -- summaries -----------------------------------------------------------------------------------

def _notes(desk: Desk, tid: int) -> list[dict[str, Any]]:
    return desk.root.call("note.list", {"ticket_id": tid})


def test_a_summary_on_demand_and_kept_as_a_note(desk):
    tid = desk.customer("The blender I bought makes a burning smell.")
    desk.ana.call("message.send", {"ticket_id": tid, "body": "Please stop using it; we'll send a new one."})
    mark = len(desk.ai.requests)
    desk.ai.reply("Customer's blender smells burnt. Agent promised a replacement.")
    out = desk.ana.call("copilot.summarize", {"ticket_id": tid})
    assert out == {"text": "Customer's blender smells burnt. Agent promised a replacement.", "note_id": None}
    assert _notes(desk, tid) == []
    [body] = desk.chats(mark)
    assert "[customer] The blender I bought makes a burning smell." in _prompt(body)
    assert "[agent Ana Lima] Please stop using it" in _prompt(body)
    desk.ai.reply("Burnt-smelling blender; replacement promised.")
    out = desk.ana.call("copilot.summarize", {"ticket_id": tid, "note": True})
    [note] = _notes(desk, tid)
    assert out["note_id"] == note["id"]
    assert note["user_id"] == desk.bot_id and note["user_name"] == "Assistant"
    assert note["body"].endswith("Burnt-smelling blender; replacement promised.")
    [audit] = db_rows(desk.z, "SELECT user_id, data FROM audit_log WHERE action = 'copilot.summarize'")
    assert audit["user_id"] == desk.ana_id   # who asked


def test_the_conversation_shown_is_the_newest_part_and_bounded(desk):
    tid = desk.customer(*(f"message {i} " + "x" * 1400 for i in range(12)))
    mark = len(desk.ai.requests)
    desk.ai.reply("long")
    desk.ana.call("copilot.summarize", {"ticket_id": tid})
    [body] = desk.chats(mark)
    prompt = body["messages"][-1]["content"]
    assert len(prompt) < CONVERSATION_CHARS + 500
    assert "message 11 " in prompt and "message 0 " not in prompt


def test_a_voice_note_is_shown_by_its_transcript(desk):
    tid = desk.customer("Hi, I'm sending you an audio")
    number = desk.root.call("ticket.get", {"id": tid})["contact_number"]
    desk.configure(transcription={"model": "fake-whisper"})
    try:
        desk.ai.transcript("I need the invoice for March")
        desk.root.call("sim.say", {"from": number, "type": "audio", "seconds": 4})
        wait_for(lambda: db_rows(desk.z, "SELECT 1 FROM messages WHERE ticket_id = ? AND transcript IS NOT NULL",
                                 (tid,)))
    finally:
        desk.configure(transcription={"model": ""})
    mark = len(desk.ai.requests)
    desk.ai.reply("Wants March's invoice.")
    desk.ana.call("copilot.summarize", {"ticket_id": tid})
    [body] = desk.chats(mark)
    assert "[customer] (voice note) I need the invoice for March" in _prompt(body)


def _closed_or_transferred(desk: Desk, moment: str, tid: int) -> None:
    if moment == "close":
        desk.ana.call("ticket.close", {"id": tid, "farewell": False})
    else:
        desk.ana.call("ticket.transfer", {"id": tid, "queue_id": desk.queue})


@pytest.mark.parametrize("moment", ["close", "transfer"])
def test_a_summary_note_on_close_or_transfer_only_when_the_tenant_asks(desk, moment):
    other = "transfer" if moment == "close" else "close"
    desk.configure(summarize_on=[moment])
    try:
        quiet = desk.customer(f"This one is only {other}d.")
        _closed_or_transferred(desk, other, quiet)
        noted = desk.customer(f"Please note me on {moment}.")
        desk.ai.reply(f"Summary for the {moment}.")
        _closed_or_transferred(desk, moment, noted)
        note = wait_for(lambda: _notes(desk, noted))[0]
        assert note["user_id"] == desk.bot_id and note["body"].endswith(f"Summary for the {moment}.")
        # the worker reads the log in order: by the time the later ticket's note exists, the earlier
        # one's moment was looked at and left alone
        assert _notes(desk, quiet) == []
    finally:
        desk.configure(summarize_on=[])


def test_a_failing_summary_note_blocks_nothing(desk):
    desk.configure(summarize_on=["close"])
    try:
        tid = desk.customer("Close me even if the model fails.")
        desk.ai.error(500)
        desk.ana.call("ticket.close", {"id": tid, "farewell": False})   # answered at once, closed
        assert desk.root.call("ticket.get", {"id": tid})["status"] == "closed"
        wait_for(lambda: f"no summary note on close of ticket {tid} " in desk.z.log.read_text())
        assert _notes(desk, tid) == []
    finally:
        desk.configure(summarize_on=[])


# -- failures ------------------------------------------------------------------------------------

@pytest.mark.parametrize("script, failure, words", [
    (lambda ai: ai.error(500), "server", "failed (HTTP 500)"),
    (lambda ai: ai.error(429), "rate_limited", "too many requests"),
    (lambda ai: ai.garbage(), "bad_response", "not JSON"),
    (lambda ai: ai.empty(), "bad_response", "no text"),
])
def test_a_failing_model_is_a_clear_unavailable(desk, script, failure, words):
    tid = desk.customer("Anyone there?")
    for method, params in (("copilot.suggest", {"ticket_id": tid}),
                           ("copilot.summarize", {"ticket_id": tid, "note": True}),
                           ("copilot.suggest", {"ticket_id": tid, "stream": True})):
        script(desk.ai)
        rep = desk.ana.request(method, params)
        assert rep["error"]["data"]["kind"] == "unavailable", rep
        assert rep["error"]["message"].startswith("the assistant's server: "), rep
        if not params.get("stream"):   # garbage asked for as a stream reads as a stream cut short
            assert rep["error"]["data"]["assistant"] == failure, rep
            assert words in rep["error"]["message"], rep
    assert _notes(desk, tid) == []


def test_a_model_that_takes_too_long_is_a_timeout(desk):
    desk.configure(timeout_s=1)
    try:
        tid = desk.customer("Hello?")
        desk.ai.slow(8)
        rep = desk.ana.request("copilot.rewrite", {"text": "one moment", "style": "formal", "ticket_id": tid})
        assert rep["error"]["data"]["kind"] == "unavailable" and "within 1 s" in rep["error"]["message"], rep
        assert rep["error"]["data"]["assistant"] == "timeout"
    finally:
        desk.configure(timeout_s=10)


def test_the_assistant_off_or_over_its_limit_says_so_and_asks_nothing(desk):
    tid = desk.customer("Hi")
    desk.ai.reply("Hello!")
    desk.ana.call("copilot.rewrite", {"text": "hi", "style": "friendlier"})   # today's tokens: more than 1
    mark = len(desk.ai.requests)
    desk.configure(chat={"model": ""})
    try:
        rep = desk.ana.request("copilot.suggest", {"ticket_id": tid})
        assert rep["error"]["data"]["kind"] == "unavailable", rep
        assert "the assistant is off" in rep["error"]["message"] and "zingctl assistant set" in rep["error"]["message"]
    finally:
        desk.configure(chat={"model": "fake"})
    desk.configure(daily_token_limit=1)
    try:
        rep = desk.ana.request("copilot.tags", {"ticket_id": tid})
        assert rep["error"]["data"]["kind"] == "unavailable", rep
        assert "today's limit" in rep["error"]["message"], rep
    finally:
        desk.configure(daily_token_limit=0)
    assert desk.chats(mark) == []


# -- whose tickets -------------------------------------------------------------------------------

def test_a_colleagues_ticket_is_like_one_that_never_existed_and_costs_nothing(desk):
    tid = desk.customer("Ana's customer, private.")
    with Session(desk.z, desk.bia_token) as bia:
        mark = len(desk.ai.requests)
        for method, params in (("copilot.suggest", {"ticket_id": tid, "stream": True}),
                               ("copilot.rewrite", {"text": "hi", "style": "translate", "ticket_id": tid}),
                               ("copilot.summarize", {"ticket_id": tid, "note": True}),
                               ("copilot.tags", {"ticket_id": tid})):
            rep = bia.request(method, params)
            missing = bia.request(method, {**params, "ticket_id": 987654})
            expected = {**missing["error"], "message": missing["error"]["message"].replace("987654", str(tid)),
                        "data": {**missing["error"]["data"], "id": tid}}
            assert rep["error"] == expected, (method, rep)
            assert rep["error"]["data"]["kind"] == "not_found"
        assert bia.frames == []   # not a single delta came before those answers
    assert desk.chats(mark) == []
    assert _notes(desk, tid) == []
