"""What the console shows of the desk, against a real zingd: the pending list previews what the
customer wrote (not zing's greeting), a ticket's history reads in names, and the splash waits for
a daemon that is not up yet."""

from __future__ import annotations

import asyncio

from tests.helpers import Zingd
from tests.tui.conftest import console, plain, ready, row_of, until
from tests.tui.test_features import ANA_SOUZA, accepted
from zingtui.screens.dialogs import HistoryScreen
from zingtui.screens.login import SplashScreen


def line(ticket_list, y: int) -> str:
    return "".join(segment.text for segment in ticket_list.render_line(y))


async def test_the_pending_list_previews_what_the_customer_wrote(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say(ANA_SOUZA, "meu pedido não chegou")
        row = await until(pilot, lambda: (r := row_of(app, ANA_SOUZA)) and "Bem-vindo" in r["last_message"] and r,
                          what="the ticket, after zing's greeting")
        main.list.focus()
        await until(pilot, lambda: "meu pedido não chegou" in line(main.list, 1), what="the customer's words")
        assert "Bem-vindo" not in line(main.list, 1)
        assert row["last_inbound"] == "meu pedido não chegou"
    listed = await desk.call("ticket.list", {"status": "pending"})
    assert [t["last_inbound"] for t in listed["tickets"]] == ["meu pedido não chegou"]


async def test_history_shows_names_not_ids(desk, tokens):
    await desk.call("tag.create", {"name": "vip"})
    queues = {q["name"]: q["id"] for q in await desk.call("queue.list")}
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await until(pilot, lambda: main.directory.queues and main.directory.users, what="names loaded")
        ticket = await accepted(app, pilot, desk, ANA_SOUZA)
        await desk.call("ticket.set_tags", {"id": ticket["id"], "tags": ["vip"]})
        await desk.call("ticket.transfer", {"id": ticket["id"], "queue_id": queues["Suporte"]})
        await until(pilot, lambda: main.current["status"] == "pending", what="transferred")
        await pilot.press("escape", "h")
        history = await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen)
        text = plain(history.query_one("#history"))
        assert "accepted, by Ana Agent" in text
        assert "tags set: #vip, by Demo Admin" in text
        assert "transferred from Ana Agent to queue Suporte, by Demo Admin" in text
        assert "queue_id" not in text and "to_user" not in text and "['" not in text
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main)


async def test_the_splash_waits_for_zingd_and_goes_on_when_it_is_up(tmp_path, tokens):
    late = Zingd(tmp_path / "late", demo=True)  # not started yet
    try:
        async with console(late, tokens, credentials=None, wait=False) as (app, pilot):
            splash = await until(pilot, lambda: isinstance(app.screen, SplashScreen) and app.screen)
            await until(pilot, lambda: "Retrying" in str(splash.query_one("#splash-status").render()),
                        what="the splash saying why it waits")
            await asyncio.to_thread(late.start)
            await until(pilot, lambda: ready(app), what="the queue, once zingd is up")
    finally:
        late.kill()
