"""What must never go wrong: a daemon restart loses no event, an RPC error is a toast, exit is clean."""

from __future__ import annotations

import asyncio

from tests.tui.conftest import BRUNO, console, row_of, toasts, until
from zingtui.widgets.statusbar import StatusBar


async def test_reconnects_after_a_daemon_restart_and_misses_nothing(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        bar = main.query_one(StatusBar)
        await desk.say("5511999990001", "antes do restart")
        first = await until(pilot, lambda: row_of(app, "5511999990001"), what="first ticket")
        await until(pilot, lambda: main.chat.ticket_id == first["id"], what="its chat open")

        desk.client.close()
        await asyncio.to_thread(desk.z.stop)
        await until(pilot, lambda: bar.link == "reconnecting", what="reconnecting shown")
        assert "reconnecting" in str(bar.render())
        await asyncio.to_thread(desk.z.start)
        desk.client = desk.z.client()
        # Written while the console is away (or just back): they must come by replay or live, once each.
        await desk.say("5511999990001", "escrevi durante o restart")
        numbers = ["5511999990002", "5521988880003", "5531977770004"]
        for number in numbers:
            await desk.say(number, f"novo cliente {number}")

        await until(pilot, lambda: bar.link == "connected", what="reconnected")
        await until(pilot, lambda: all(row_of(app, n) for n in numbers), what="every new ticket")
        bodies = await until(pilot, lambda: [b.item.get("body") for b in main.chat._order
                                             if b.item.get("body") == "escrevi durante o restart"],
                             what="the message written during the restart in the open chat")
        assert len(bodies) == 1
        assert not toasts(app, "error")


async def test_an_rpc_error_is_a_toast_not_a_traceback(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say("5511999990001", "alguém?")
        row = await until(pilot, lambda: row_of(app, "5511999990001"))
        bruno = await desk.as_agent(*BRUNO)
        await asyncio.to_thread(bruno.call, "ticket.accept", {"id": row["id"]})  # Bruno is faster
        await until(pilot, lambda: row_of(app, "5511999990001") is None, what="the lost ticket leaves the list")
        # a click that raced the event: the same call path the keys use answers with a toast
        assert await app.call("ticket.accept", {"id": row["id"]}) is None
        await until(pilot, lambda: toasts(app, "error"), what="a toast")
        assert "someone else took it" in toasts(app, "error")[0] and "Bruno" not in toasts(app, "error")[0]
        assert app.is_running and main.is_mounted
        bruno.close()


async def test_q_exits_cleanly_and_goes_offline(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        assert (await desk.call("user.get", {"id": app.session.me}))["status"] == "online"
        me = app.session.me
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, what="exit")
    assert app.return_code == 0
    assert (await desk.call("user.get", {"id": me}))["status"] == "offline"


async def test_ctrl_c_exits_even_while_typing(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        await pilot.press("r", "o", "i", "ctrl+c")
        await until(pilot, lambda: not app.is_running, what="exit")
    assert app.return_code == 0


async def test_a_ticket_another_agent_took_leaves_the_pending_list(desk, tokens):
    """zingd tells an agent nothing when a colleague takes a pending ticket; the console reconciles."""
    async with console(desk.z, tokens) as (app, pilot):
        await desk.say("5511999990001", "alguém?")
        row = await until(pilot, lambda: row_of(app, "5511999990001"))
        bruno = await desk.as_agent(*BRUNO)
        await asyncio.to_thread(bruno.call, "ticket.accept", {"id": row["id"]})
        bruno.close()
        await app.main_screen.queue.reconcile()  # what its 15 s timer does
        await until(pilot, lambda: row_of(app, "5511999990001") is None, what="the taken ticket gone")
        assert not toasts(app, "error")
