"""The bot stops for a ticket the moment a person acts, and never resumes by itself (issue 14): a person
who accepts the ticket or answers from the console while the model is thinking wins (checked in the
unit that would queue the bot's answer), and so does the owner answering from the phone."""

from __future__ import annotations

import pytest

from tests.assistant.test_bot import Gate, ai, desk, sentinel, text  # noqa: F401 - fixtures

ACTS = {
    "accepts": lambda agent, t: agent.call("ticket.accept", {"id": t}),
    "answers from the console": lambda agent, t: agent.call("message.send", {"ticket_id": t, "body": "Ana here!"}),
}


@pytest.mark.parametrize("act", list(ACTS))
def test_a_person_acting_while_the_model_thinks_wins(desk, ai, act):
    desk.configure(ai)
    agent = desk.user("ana", queues=(desk.bot_q,))
    gate = ai.handler = Gate(text("a late answer from the bot"))
    number = desk.number()
    try:
        desk.say(number, "hello?")
        t = desk.ticket(number)
        assert gate.entered.wait(20), "the bot never asked the model"
        ACTS[act](agent, t["id"])
    finally:
        gate.go.set()
    state = desk.wait_state(t["id"], "stopped")
    assert state["reason"] in ("a person took the ticket", "a person answered")
    assert desk.bot_said(t["id"]) == []
    # it never comes back by itself: the customer writes again, the bot stays out
    asked = len(ai.chat_requests())
    desk.say(number, "thanks, and one more thing")
    sentinel(desk, ai)
    assert desk.bot_said(t["id"]) == [] and len(ai.chat_requests()) == asked + 1
    assert desk.state(t["id"])["state"] == "stopped"
    agent.close()


def test_an_answer_from_the_phone_stops_the_bot_for_good(desk, ai):
    desk.configure(ai)
    number = desk.number()
    ai.reply("Hello from the bot")
    desk.say(number, "hi")
    t = desk.ticket(number)
    desk.wait_said(t["id"])
    desk.say(number, "It's Joe, the owner: I'll take it from here.", from_me=True)
    desk.wait_state(t["id"], "stopped")
    asked = len(ai.chat_requests())
    desk.say(number, "great, thanks Joe")
    sentinel(desk, ai)
    assert desk.bot_said(t["id"]) == ["Hello from the bot"] and len(ai.chat_requests()) == asked + 1
    history = [e["action"] for e in desk.admin.call("ticket.history", {"id": t["id"]})]
    assert "bot.stopped" in history


def test_a_transfer_into_the_bots_queue_is_no_human_act(desk, ai):
    """A person handing a ticket to the bot's queue is deliberate: what they wrote before doesn't stop it."""
    desk.configure(ai)
    agent = desk.user("bia", queues=(desk.people_q,))
    number = desk.number()
    desk.say(number, "hi", connection=desk.other)  # lands in People, no bot there
    t = desk.ticket(number)
    agent.call("message.send", {"ticket_id": t["id"], "body": "Let me pass you to our assistant."})
    agent.call("ticket.transfer", {"id": t["id"], "queue_id": desk.bot_q})
    ai.reply("Assistant here, how can I help?")
    desk.say(number, "what are your hours?", connection=desk.other)
    assert desk.wait_said(t["id"]) == ["Assistant here, how can I help?"]
    agent.close()
