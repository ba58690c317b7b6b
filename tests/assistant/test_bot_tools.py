"""The bot's tools are zing's own RPC methods run as the bot user (issue 14): the tenant picks which,
each runs under the permission table and the object rules like any agent's call, no tool reaches
another tenant's ids or a method the bot's role lacks; and ``bot.test`` / ``zingctl bot test
--dry-run`` show what the bot would say and do without sending or changing anything."""

from __future__ import annotations

import asyncio
import json

import pytest
import typer
from typer.testing import CliRunner

from tests.assistant.test_bot import ai, desk, other_tenant  # noqa: F401 - fixtures
from tests.contract.openrpc import Checked, Contract
from zingctl import bot as bot_cli
from zingctl import main as zingctl_main
import zingd.rpc.methods  # noqa: F401 - registers the methods the role gate looks up
from zingd.actor import Actor
from zingd.assistant import tools
from zingd.errors import Forbidden
from zingd.services.permissions import AGENT_SCOPE, PERMISSIONS


def _tool_answers(request: dict) -> list[dict]:
    return [json.loads(m["content"]) for m in request["json"]["messages"] if m["role"] == "tool"]


def test_tools_are_zings_methods_run_as_the_bot(desk, ai):
    desk.configure(ai)
    desk.admin.call("tag.create", {"name": "vip"})
    number = desk.number()
    ai.tool_calls(("lookup_contact", {}), ("tag_ticket", {"tags": ["vip"]}),
                  ("set_field", {"name": "plan", "value": "gold"}),
                  ("schedule_followup", {"body": "How did the gold plan go?", "run_at": "2030-01-01 10:00"}))
    ai.reply("Done: you are on the gold plan.")
    desk.say(number, "put me on the gold plan", name="Maria Silva")
    t = desk.ticket(number)
    assert desk.wait_said(t["id"]) == ["Done: you are on the gold plan."]
    lookup, tagged, field, scheduled = _tool_answers(ai.chat_requests()[-1])
    assert lookup["number"] == number and tagged == {"ok": True, "tags": ["vip"]}
    assert field["custom_fields"]["plan"] == "gold" and scheduled["ok"] is True
    assert desk.admin.call("ticket.get", {"id": t["id"]})["tags"] == ["vip"]
    contact = desk.admin.call("contact.get", {"id": t["contact_id"]})
    assert contact["custom_fields"]["plan"] == "gold"
    [schedule] = [s for s in desk.admin.call("schedule.list") if s["body"] == "How did the gold plan go?"]
    assert schedule["user_id"] == desk.bot_user
    actions = {a["action"] for a in desk.admin.call("audit.list", {"user_id": desk.bot_user, "limit": 100})}
    assert {"ticket.tag", "bot.reply"} <= actions
    offered = [s["function"]["name"] for s in ai.chat_requests()[0]["json"]["tools"]]
    assert offered == ["lookup_contact", "tag_ticket", "set_field", "schedule_followup", "handoff"]


def test_the_tenant_chooses_the_tools_and_handoff_is_always_there(desk, ai):
    desk.configure(ai, tools=["lookup_contact"])
    number = desk.number()
    ai.tool_call("set_field", {"name": "plan", "value": "free"})
    ai.reply("I can't change that, sorry.")
    desk.say(number, "set my plan to free")
    t = desk.ticket(number)
    desk.wait_said(t["id"])
    offered = [s["function"]["name"] for s in ai.chat_requests()[0]["json"]["tools"]]
    assert offered == ["lookup_contact", "handoff"]
    [refused] = _tool_answers(ai.chat_requests()[-1])
    assert "no tool 'set_field'" in refused["error"]
    assert "plan" not in desk.admin.call("contact.get", {"id": t["contact_id"]})["custom_fields"]


def test_no_tool_reaches_another_tenant(desk, ai):
    desk.configure(ai)
    desk.admin.call("tag.create", {"name": "vip"})  # the tenant's own: offered
    bravo = other_tenant(desk, "Bravo Co")
    bravo.call("tag.create", {"name": "secret"})
    stranger = bravo.call("contact.create", {"number": "+5511977776666", "name": "Stranger"})
    number = desk.number()
    ai.tool_calls(("tag_ticket", {"tags": ["secret"]}),
                  ("set_field", {"name": "x", "value": "y", "contact_id": stranger["id"]}))
    ai.tool_call("handoff", {"reason": "over there", "queue_id": bravo.queue_id})
    desk.say(number, "hello")
    t = desk.ticket(number)
    assert "over there" in desk.wait_state(t["id"], "handed_over")["reason"]
    tagged, field = _tool_answers(ai.chat_requests()[1])
    assert "not one of" in tagged["error"] and "unknown argument(s) contact_id" in field["error"]
    ticket = desk.admin.call("ticket.get", {"id": t["id"]})
    assert ticket["tags"] == [] and ticket["queue_id"] == desk.people_q  # not Bravo's queue: the tenant's own
    assert bravo.call("contact.get", {"id": stranger["id"]})["custom_fields"] == {}
    offered = {s["function"]["name"]: s for s in ai.chat_requests()[0]["json"]["tools"]}
    assert bravo.queue_id not in offered["handoff"]["function"]["parameters"]["properties"]["queue_id"]["enum"]
    assert "secret" not in offered["tag_ticket"]["function"]["parameters"]["properties"]["tags"]["items"]["enum"]
    bravo.close()


def test_a_method_the_bots_role_lacks_is_refused():
    """The bot is an agent: each tool's method is one an agent may call (and has an agent scope), and
    anything else is refused by the same role gate as the socket's, before any handler runs."""
    for method in tools.METHODS.values():
        assert PERMISSIONS[method] == "agent" and method in AGENT_SCOPE
    bot = Actor(user_id=99, tenant_id=1, role="agent", name="Assistant")
    for method in ("tag.create", "user.create", "bot.test", "assistant.update", "contact.delete"):
        assert not tools.allowed(bot, method)
        with pytest.raises(Forbidden, match="needs the"):
            asyncio.run(tools.invoke(None, bot, method, {}))


def test_the_dry_run_shows_what_it_would_say_and_do_and_changes_nothing(desk, ai):
    desk.configure(ai)
    number = desk.number()
    desk.say(number, "please save my plan: gold", connection=desk.other)  # People: the bot doesn't answer here
    t = desk.ticket(number)
    before = (desk.messages(t["id"]), desk.admin.call("contact.get", {"id": t["contact_id"]}),
              desk.admin.call("ticket.history", {"id": t["id"]}), desk.admin.call("schedule.list"))
    ai.tool_calls(("lookup_contact", {}), ("set_field", {"name": "plan", "value": "gold"}))
    ai.reply("Saved: your plan is gold.")
    r = desk.admin.call("bot.test", {"ticket_id": t["id"], "instructions": "Be brief. Say Saved."})
    assert r["dry_run"] is True and r["text"] == "Saved: your plan is gold." and r["handoff"] is None
    assert r["would_answer"] is False and "not in the bot's queues" in r["why"]
    lookup, field = r["tools"]
    assert lookup["tool"] == "lookup_contact" and lookup["result"]["number"] == number
    assert field["method"] == "contact.update" and field["result"]["dry_run"] is True
    assert "Be brief. Say Saved." in ai.chat_requests()[0]["json"]["messages"][0]["content"]
    after = (desk.messages(t["id"]), desk.admin.call("contact.get", {"id": t["contact_id"]}),
             desk.admin.call("ticket.history", {"id": t["id"]}), desk.admin.call("schedule.list"))
    assert after == before
    assert desk.state(t["id"]) is None


def test_the_dry_run_says_it_would_hand_over(desk, ai):
    desk.configure(ai)
    number = desk.number()
    desk.say(number, "a human please", connection=desk.other)
    t = desk.ticket(number)
    ai.tool_call("handoff", {"reason": "asked for a person", "queue_id": desk.sales_q})
    r = desk.admin.call("bot.test", {"ticket_id": t["id"]})
    assert r["text"] == "" and r["handoff"]["queue_id"] == desk.sales_q
    assert "asked for a person" in r["handoff"]["reason"]
    assert desk.admin.call("ticket.get", {"id": t["id"]})["queue_id"] == desk.people_q


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(zingctl_main.root)
    app.add_typer(bot_cli.app)
    return app


def test_zingctl_bot_test_is_a_dry_run_and_bot_list_shows_the_states(desk, ai):
    desk.configure(ai)
    number = desk.number()
    ai.tool_call("handoff", {"reason": "wants a person"})
    desk.say(number, "human!")
    handed = desk.ticket(number)
    desk.wait_state(handed["id"], "handed_over")
    other = desk.number()
    desk.say(other, "what time do you open?", connection=desk.other)
    t = desk.ticket(other)
    ai.reply("We open at 9.")
    run = CliRunner().invoke(_cli(), ["--socket", str(desk.z.socket), "bot", "test", str(t["id"]), "--dry-run"])
    assert run.exit_code == 0, run.output
    assert "We open at 9." in run.output and "dry run: nothing was sent or changed" in run.output
    run = CliRunner().invoke(_cli(), ["--socket", str(desk.z.socket), "bot", "list", "--json"])
    assert run.exit_code == 0, run.output
    rows = json.loads(run.stdout)
    assert {"ticket_id": handed["id"], "state": "handed_over"}.items() <= next(
        r for r in rows if r["ticket_id"] == handed["id"]).items()
    assert [m for m in desk.messages(t["id"]) if m["direction"] == "out"] == []


def test_bot_answers_match_their_published_schemas(desk, ai):
    """bot.test and bot.list answer what rpc.discover says they do (as tests/contract checks every method)."""
    contract = Contract(desk.admin.call("rpc.discover"))
    checked = Checked(desk.admin, contract, set())
    desk.configure(ai)
    number = desk.number()
    ai.tool_call("handoff", {"reason": "wants a person"})
    desk.say(number, "human please")
    t = desk.ticket(number)
    desk.wait_state(t["id"], "handed_over")
    ai.tool_calls(("lookup_contact", {}), ("set_field", {"name": "a", "value": "b"}))
    ai.reply("Here is what I found.")
    checked.call("bot.test", {"ticket_id": t["id"]})
    ai.tool_call("handoff", {"reason": "again"})
    checked.call("bot.test", {"ticket_id": t["id"], "instructions": ""})
    assert checked.call("bot.list", {"state": "handed_over", "limit": 5})
