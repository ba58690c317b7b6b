"""Nothing an agent typed is lost (issue 13): drafts survive ticket switches, a colleague taking the
ticket, console restarts; a reply sent while zingd is down waits and goes once it is back, once."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.tui.conftest import console, plain, row_of, toasts, until
from tests.tui.test_features import ANA_SOUZA, BRUNO_LIMA, accepted
from zingtui.widgets.conversation.chat import Bubble
from zingtui.widgets.statusbar import StatusBar


def drafts_file(tokens) -> dict:
    path = tokens.path.parent / "drafts.json"
    return json.loads(path.read_text()) if path.exists() else {}


def saved_drafts(tokens) -> dict[str, str]:
    return {k: v for section in drafts_file(tokens).values() for k, v in section["drafts"].items()}


async def test_a_draft_survives_a_switch_and_a_console_restart(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        ticket = await accepted(app, pilot, desk, ANA_SOUZA)
        await pilot.press(*"vou verificar o pedido")
        await until(pilot, lambda: saved_drafts(tokens).get(str(ticket["id"])) == "vou verificar o pedido",
                    what="the draft on disk")
        await desk.say(BRUNO_LIMA, "oi")
        await pilot.press("escape", "1")
        other = await until(pilot, lambda: row_of(app, BRUNO_LIMA), what="Bruno's pending ticket")
        main.list.select(other["id"])
        await until(pilot, lambda: main.current["id"] == other["id"] and main.composer.input.text == "")
        await pilot.press("2")
        main.list.select(ticket["id"])
        await until(pilot, lambda: main.composer.input.text == "vou verificar o pedido", what="the draft back")
        await pilot.press("r", *" hoje", "ctrl+c")  # typed and left at once: no pause for the timer
        await until(pilot, lambda: not app.is_running, what="the console gone")
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await pilot.press("2")
        await until(pilot, lambda: row_of(app, ANA_SOUZA), what="the ticket in Open")
        main.list.select(ticket["id"])
        await until(pilot, lambda: main.chat.ticket_id == ticket["id"])
        await until(pilot, lambda: main.composer.input.text == "vou verificar o pedido hoje",
                    what="the draft after a restart")
    messages = (await desk.call("message.list", {"ticket_id": ticket["id"]}))["messages"]
    assert not [m for m in messages if "verificar" in m["body"]]  # kept, never sent


@pytest.mark.parametrize("colleague", ["close", "transfer"])
async def test_a_colleague_taking_the_ticket_keeps_what_you_type(desk, tokens, colleague):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say(BRUNO_LIMA, "oi")  # a second ticket: the one the list would have opened instead
        await until(pilot, lambda: row_of(app, BRUNO_LIMA))
        second = await accepted(app, pilot, desk, BRUNO_LIMA)
        await pilot.press("escape", "1")
        ticket = await accepted(app, pilot, desk, ANA_SOUZA)
        await until(pilot, lambda: {r["id"] for r in main.list.rows} == {ticket["id"], second["id"]})
        await pilot.press(*"um momento, estou")
        if colleague == "close":
            await desk.call("ticket.close", {"id": ticket["id"], "farewell": False})
        else:
            users = await desk.call("user.list")
            bruno = next(u for u in users if u["email"] == "bruno@demo.zing")
            await desk.call("ticket.transfer", {"id": ticket["id"], "user_id": bruno["id"]})
        await until(pilot, lambda: [r["id"] for r in main.list.rows] == [second["id"]], what="it left Open")
        await until(pilot, lambda: toasts(app, "warning"), what="the agent told")
        assert "what you typed stays here" in toasts(app, "warning")[0]
        await pilot.press(*" verificando")  # still typing: into the same ticket
        assert main.current["id"] == ticket["id"] and main.chat.ticket_id == ticket["id"]
        assert main.composer.input.text == "um momento, estou verificando"
        await until(pilot, lambda: saved_drafts(tokens).get(str(ticket["id"])) == "um momento, estou verificando",
                    what="saved")
        await pilot.press("escape", "down")  # the agent moves on: the list opens the row they land on
        await until(pilot, lambda: main.current["id"] == second["id"] and main.composer.input.text == "")


def waiting_bubbles(main) -> list[Bubble]:
    return [b for b in main.chat._order if b.item.get("_waiting")]


async def test_a_reply_sent_while_zingd_is_down_goes_once_it_is_back(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        bar = main.query_one(StatusBar)
        ticket = await accepted(app, pilot, desk, ANA_SOUZA)
        desk.client.close()
        await asyncio.to_thread(desk.z.stop)
        await until(pilot, lambda: bar.link == "reconnecting", what="zingd gone")
        await pilot.press(*"seu pedido sai hoje", "enter")
        waiting = await until(pilot, lambda: waiting_bubbles(main), what="the reply shown as waiting")
        assert "waiting for zingd" in plain(waiting[0]) and "seu pedido sai hoje" in plain(waiting[0])
        assert main.composer.input.text == ""
        [section] = drafts_file(tokens).values()
        assert [w["body"] for w in section["waiting"]] == ["seu pedido sai hoje"]

        await asyncio.to_thread(desk.z.start)
        desk.client = desk.z.client()
        await until(pilot, lambda: not waiting_bubbles(main) and [m for m in main.chat.messages()
                                                                  if m["body"] == "seu pedido sai hoje"],
                    what="the reply delivered")
        assert [w for s in drafts_file(tokens).values() for w in s["waiting"]] == []
    messages = (await desk.call("message.list", {"ticket_id": ticket["id"]}))["messages"]
    assert [m["body"] for m in messages].count("seu pedido sai hoje") == 1


async def test_a_waiting_reply_survives_a_console_restart(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        ticket = await accepted(app, pilot, desk, ANA_SOUZA)
        desk.client.close()
        await asyncio.to_thread(desk.z.stop)
        await until(pilot, lambda: main.query_one(StatusBar).link == "reconnecting", what="zingd gone")
        await pilot.press(*"já te respondo", "enter")
        await until(pilot, lambda: waiting_bubbles(main), what="waiting")
    await asyncio.to_thread(desk.z.start)
    desk.client = desk.z.client()
    async with console(desk.z, tokens) as (app, pilot):
        await until(pilot, lambda: not [w for s in drafts_file(tokens).values() for w in s["waiting"]],
                    what="the reply sent by the new console")
    messages = (await desk.call("message.list", {"ticket_id": ticket["id"]}))["messages"]
    assert [m["body"] for m in messages].count("já te respondo") == 1
