"""The bot (issue 14), through a real zingd, the sim's customers and the scripted OpenAI-compatible
server: off by default, on per queue or as a number's front door, answering with the tenant's
instructions and knowledge and citing the entries in the ticket, every message marked and audited
as the bot's, and handing over through a structured tool call, never to loop when the chat reopens.

The support here (``BotDesk``, ``Gate``) is shared by the other test_bot*.py modules."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from tests.assistant.openai_fake import FakeOpenAI
from tests.helpers import Zingd, wait_for
from tests.integration.support import db_rows

_numbers = itertools.count(1)


class BotDesk:
    """A company on a real daemon: queues Bot (the bot's), People (its handoff queue), Night (the
    bot's, always closed), one sim number per use (Main: into Bot; Late: into Night; Front: the
    bot as front door, before a menu of Sales and Support)."""

    def __init__(self, z: Zingd) -> None:
        self.z = z
        self.admin = z.client()
        self.admin.call("auth.bootstrap", {"email": "boss@acme.test", "password": "boss-pass1", "tenant": "Acme"})
        q = self.queue
        self.bot_q, self.people_q = q("Bot"), q("People")
        self.night_q = q("Night", business_hours={"timezone": "UTC", "days": {}},
                         out_of_hours_message="We are closed; back at 8.")
        self.sales_q, self.support_q = q("Sales"), q("Support")
        self.main = self.connection("Main", [self.bot_q])
        self.late = self.connection("Late", [self.night_q])
        self.front = self.connection("Front", [self.sales_q, self.support_q])
        self.other = self.connection("Other", [self.people_q])  # no bot here
        self.users: dict[str, int] = {}

    def queue(self, name: str, **fields: Any) -> int:
        return self.admin.call("queue.create", {"name": name, **fields})["id"]

    def connection(self, name: str, queues: list[int]) -> int:
        cid = self.admin.call("connection.create", {"name": name, "kind": "sim"})["id"]
        self.admin.call("connection.set_queues", {"id": cid, "queue_ids": queues})
        return cid

    def user(self, name: str, role: str = "agent", queues: tuple[int, ...] = ()) -> Any:
        email = f"{name}@acme.test"
        if name not in self.users:
            self.users[name] = self.admin.call("user.create", {"email": email, "password": "secret-pw",
                                                               "name": name.title(), "role": role})["id"]
            for q in queues:
                members = self.admin.call("queue.list")
                current = next(m for m in members if m["id"] == q).get("members") or []
                self.admin.call("queue.set_members", {"id": q, "user_ids": [*current, self.users[name]]})
        c = self.z.client()
        c.call("auth.login", {"email": email, "password": "secret-pw"})
        return c

    def configure(self, ai: FakeOpenAI, **bot: Any) -> dict[str, Any]:
        """The assistant on ``ai``, the bot on with these settings over quick defaults."""
        settings = {"enabled": True, "queues": [self.bot_q, self.night_q], "connections": [self.front],
                    "instructions": "You are Zed. Our shop opens 9 to 18.", "handoff_queue_id": self.people_q,
                    "handoff_message": "Passing you to a person.", "fallback_message": "I don't know that.",
                    "debounce_s": 0.2, "max_turns": 10, "max_replies_per_minute": 30,
                    "tools": ["lookup_contact", "tag_ticket", "set_field", "schedule_followup", "handoff"], **bot}
        view = self.admin.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"}, "timeout_s": 5,
                                                    "daily_token_limit": 0, "bot": settings})
        self.bot_user = view["bot_user_id"]
        return view

    def number(self) -> str:
        return f"55119{next(_numbers):08d}"

    def say(self, number: str, body: str, connection: int | None = None, **extra: Any) -> dict[str, Any]:
        return self.admin.call("sim.say", {"from": number, "body": body, "connection_id": connection or self.main,
                                           **extra})

    def ticket(self, number: str) -> dict[str, Any]:
        contact = wait_for(lambda: [c for c in self.admin.call("contact.list", {"query": number})
                                    if c["number"] == number])[0]
        return self.admin.call("ticket.list", {"contact_id": contact["id"]})["tickets"][0]

    def messages(self, ticket_id: int) -> list[dict[str, Any]]:
        return self.admin.call("message.list", {"ticket_id": ticket_id, "limit": 500})["messages"]

    def bot_said(self, ticket_id: int) -> list[str]:
        return [m["body"] for m in self.messages(ticket_id) if m["bot"]]

    def wait_said(self, ticket_id: int, n: int = 1) -> list[str]:
        return wait_for(lambda: (said := self.bot_said(ticket_id)) and len(said) >= n and said, timeout=20)

    def state(self, ticket_id: int) -> dict[str, Any] | None:
        return next((r for r in self.admin.call("bot.list") if r["ticket_id"] == ticket_id), None)

    def wait_state(self, ticket_id: int, state: str) -> dict[str, Any]:
        return wait_for(lambda: (s := self.state(ticket_id)) and s["state"] == state and s, timeout=20)

    def close(self) -> None:
        self.admin.close()


class Gate:
    """A ``FakeOpenAI.handler`` that holds the first chat request until ``go`` is set, then answers
    ``answer``: the model is "thinking" exactly as long as the test needs."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.entered = threading.Event()
        self.go = threading.Event()
        self.used = False

    def __call__(self, body: dict[str, Any]) -> dict[str, Any] | None:
        if self.used:
            return None
        self.used = True
        self.entered.set()
        self.go.wait(30)
        return self.answer


def text(t: str) -> dict[str, Any]:
    return {"kind": "text", "text": t, "usage": {}}


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    z = Zingd(tmp_path_factory.mktemp("bot"), env={"ZING_TICKETS__REOPEN_WINDOW_MINUTES": "60"}).start()
    d = BotDesk(z)
    yield d
    d.close()
    z.kill()


@pytest.fixture
def ai():
    with FakeOpenAI() as server:
        yield server


def sentinel(desk: BotDesk, ai: FakeOpenAI) -> None:
    """A customer of the bot's queue gets an answer: what was written before it has been seen to."""
    number = desk.number()
    ai.reply(f"sentinel {number}")
    desk.say(number, "ping")
    desk.wait_said(desk.ticket(number)["id"])


# -- off by default, on per queue or number ---------------------------------------------------------
def other_tenant(desk: BotDesk, name: str) -> Any:
    """An admin of a new tenant (with a sim number and one queue), logged in."""
    tenant = desk.admin.call("tenant.create", {"name": name})["id"]
    email = f"admin@{name.lower().replace(' ', '')}.test"
    desk.admin.call("user.create", {"email": email, "password": "secret-pw", "name": "Admin", "role": "admin",
                                    "tenant_id": tenant})
    c = desk.z.client()
    c.call("auth.login", {"email": email, "password": "secret-pw"})
    c.queue_id = c.call("queue.create", {"name": "Desk"})["id"]
    c.connection_id = c.call("connection.create", {"name": "Sim", "kind": "sim"})["id"]
    return c


def test_off_by_default_then_on_per_queue_only(desk, ai):
    quiet = other_tenant(desk, "Quiet Co")
    quiet.call("assistant.update", {"base_url": ai.url, "chat": {"model": "fake"}})  # a model, no bot
    assert quiet.call("assistant.get")["config"]["bot"]["enabled"] is False
    number = desk.number()
    quiet.call("sim.say", {"from": number, "body": "hello, anyone?"})
    desk.configure(ai)
    elsewhere = desk.number()
    desk.say(elsewhere, "and here?", connection=desk.other)  # People: not one of the bot's queues
    sentinel(desk, ai)
    contact = quiet.call("contact.list", {"query": number})[0]
    [t] = quiet.call("ticket.list", {"contact_id": contact["id"]})["tickets"]
    assert [m for m in quiet.call("message.list", {"ticket_id": t["id"]})["messages"] if m["direction"] == "out"] == []
    assert desk.bot_said(desk.ticket(elsewhere)["id"]) == []
    assert all("hello, anyone?" not in str(r["json"]) and "and here?" not in str(r["json"])
               for r in ai.chat_requests())
    quiet.close()


def test_answers_with_instructions_and_knowledge_and_cites_the_entry(desk, ai):
    desk.configure(ai)
    entry = desk.admin.call("knowledge.add", {"kind": "faq", "title": "Delivery times",
                                              "body": "Orders arrive within 3 working days in Sao Paulo."})
    number = desk.number()
    ai.reply("Orders arrive within 3 working days.")
    desk.say(number, "how many days does delivery take?")
    t = desk.ticket(number)
    assert desk.wait_said(t["id"]) == ["Orders arrive within 3 working days."]
    system = ai.chat_requests()[-1]["json"]["messages"][0]["content"]
    assert "You are Zed. Our shop opens 9 to 18." in system
    assert "Delivery times" in system and "3 working days" in system
    assert "I don't know that." in system  # the fallback, said rather than inventing
    history = desk.admin.call("ticket.history", {"id": t["id"]})
    [cited] = [e for e in history if e["action"] == "bot.reply"]
    [msg] = [m for m in desk.messages(t["id"]) if m["bot"]]
    assert cited["data"] == {"message_id": msg["id"], "sources": [{"id": entry["id"], "title": "Delivery times"}]}
    assert cited["user_id"] == desk.bot_user


def test_every_bot_message_is_marked_audited_and_not_a_first_response(desk, ai):
    desk.configure(ai)
    number = desk.number()
    ai.reply("Hi! How can I help?")
    desk.say(number, "hi")
    t = desk.ticket(number)
    desk.wait_said(t["id"])
    [msg] = [m for m in desk.messages(t["id"]) if m["bot"]]
    assert msg["bot"] == 1 and msg["user_id"] == desk.bot_user and msg["direction"] == "out"
    ticket = desk.admin.call("ticket.get", {"id": t["id"]})
    assert ticket["first_response_at"] is None and ticket["user_id"] is None and ticket["status"] == "pending"
    assert ticket["unread"] == 1   # nobody has read the customer yet
    audit = desk.admin.call("audit.list", {"action": "bot.reply", "target_id": msg["id"]})
    assert [(a["user_id"], a["target_type"]) for a in audit] == [(desk.bot_user, "message")]
    events = db_rows(desk.z, "SELECT data FROM events WHERE type = 'bot.updated' AND ticket_id = ?", (t["id"],))
    assert [e["data"] for e in events] and '"state":"active"' in events[0]["data"]


def test_handoff_is_a_tool_call_into_the_handoff_queue_and_never_loops_on_reopen(desk, ai):
    desk.configure(ai)
    number = desk.number()
    ai.tool_call("handoff", {"reason": "the customer wants a person"})
    desk.say(number, "I want to talk to a human")
    t = desk.ticket(number)
    assert desk.wait_said(t["id"]) == ["Passing you to a person."]
    state = desk.wait_state(t["id"], "handed_over")
    assert "the customer wants a person" in state["reason"]
    ticket = desk.admin.call("ticket.get", {"id": t["id"]})
    assert ticket["queue_id"] == desk.people_q and ticket["status"] == "pending"
    assert [e["action"] for e in desk.admin.call("ticket.history", {"id": t["id"]})
            if e["action"].startswith("bot.") or e["action"] == "transfer"] == ["transfer", "bot.handoff"]
    asked = len(ai.chat_requests())
    # resolved, then the customer comes back within the reopen window: the same ticket, still handed over
    desk.admin.call("ticket.close", {"id": t["id"], "farewell": False})
    desk.say(number, "me again, still there?")
    again = desk.ticket(number)
    assert again["id"] == t["id"] and again["status"] == "pending"
    sentinel(desk, ai)
    assert desk.bot_said(t["id"]) == ["Passing you to a person."]
    assert len(ai.chat_requests()) == asked + 1  # only the sentinel's
    assert desk.state(t["id"])["state"] == "handed_over"


def test_a_handoff_text_is_just_text(desk, ai):
    """A model writing "transferring you to a human" hands over nothing: only the tool call does."""
    desk.configure(ai, instructions="When they ask for a person, say HANDOFF_NOW.")
    number = desk.number()
    ai.reply("HANDOFF_NOW - transferring you to a human agent")
    desk.say(number, "person please")
    t = desk.ticket(number)
    desk.wait_said(t["id"])
    assert desk.state(t["id"])["state"] == "active"
    assert desk.admin.call("ticket.get", {"id": t["id"]})["queue_id"] == desk.bot_q
    tools = ai.chat_requests()[-1]["json"]["tools"]
    assert "handoff" in [tool["function"]["name"] for tool in tools]


def test_front_door_number_skips_the_menu_and_the_handoff_picks_the_queue(desk, ai):
    desk.configure(ai)
    number = desk.number()
    ai.reply("Welcome! What do you need?")
    desk.say(number, "hello", connection=desk.front)
    t = desk.ticket(number)
    assert desk.wait_said(t["id"]) == ["Welcome! What do you need?"]
    out = [m["body"] for m in desk.messages(t["id"]) if m["direction"] == "out"]
    assert out == ["Welcome! What do you need?"]  # no menu
    assert desk.admin.call("ticket.get", {"id": t["id"]})["queue_id"] is None
    ai.tool_call("handoff", {"reason": "buying", "queue_id": desk.sales_q})
    desk.say(number, "I want to buy the big plan", connection=desk.front)
    desk.wait_state(t["id"], "handed_over")
    assert desk.admin.call("ticket.get", {"id": t["id"]})["queue_id"] == desk.sales_q
    offered = ai.chat_requests()[-1]["json"]["tools"]
    [handoff] = [tool for tool in offered if tool["function"]["name"] == "handoff"]
    assert desk.sales_q in handoff["function"]["parameters"]["properties"]["queue_id"]["enum"]


def test_it_reads_a_voice_notes_transcript(desk, ai):
    desk.configure(ai)
    desk.admin.call("assistant.update", {"transcription": {"model": "fake-whisper"}})
    try:
        ai.transcript("do you deliver on sundays?")
        ai.reply("We don't deliver on Sundays.")
        number = desk.number()
        desk.say(number, "", type="audio", seconds=3)
        t = desk.ticket(number)
        assert desk.wait_said(t["id"]) == ["We don't deliver on Sundays."]
        [asked] = ai.chat_requests()
        assert asked["json"]["messages"][-1] == {"role": "user", "content": "[voice note] do you deliver on sundays?"}
    finally:
        desk.admin.call("assistant.update", {"transcription": {"model": ""}})
