"""The agent's main loop against a real zingd: a customer writes, the agent answers and closes."""

from __future__ import annotations

from tests.tui.conftest import console, plain, row_of, until
from zingtui.screens.dialogs import CloseDialog, TransferDialog

CUSTOMER = "5511999990001"


async def test_accept_answer_and_close_in_six_keystrokes(desk, tokens):
    await desk.quick_reply("obrigado", "Obrigado pelo contato, {{first_name}}! Já resolvo.")
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await until(pilot, lambda: main.composer.replies, what="quick replies loaded")
        await desk.say(CUSTOMER, "oi, meu pedido não chegou")
        ticket = await until(pilot, lambda: row_of(app, CUSTOMER), what="the new ticket")
        await until(pilot, lambda: main.current and main.current["id"] == ticket["id"])

        keys = ["a", "slash", "enter", "enter", "ctrl+d", "enter"]  # accept, quick reply, pick, send, close, confirm
        for key in keys:
            await pilot.press(key)
        assert len(keys) <= 6

        closed = await until(pilot, lambda: main.current["status"] == "closed" and main.current, what="closed")
        me = app.session.me
        assert closed["user_id"] == me
    messages = (await desk.call("message.list", {"ticket_id": ticket["id"]}))["messages"]
    answers = [m["body"] for m in messages if m["direction"] == "out" and m["user_id"] == me]
    assert answers == ["Obrigado pelo contato, Ana! Já resolvo."]


async def test_live_ticket_read_tick_transfer_and_close(desk, tokens):
    await desk.quick_reply("ola", "Olá {{first_name}}, em que posso ajudar?")
    async with console(desk.z, tokens) as (app, pilot):
        main = app.main_screen
        await desk.say(CUSTOMER, "oi, preciso de ajuda")
        row = await until(pilot, lambda: row_of(app, CUSTOMER), what="a live pending ticket")
        assert row["status"] == "pending" and row["unread"] >= 1
        assert main.query_one("#tabs").badges[0].count == 1

        await pilot.press("a")
        await until(pilot, lambda: main.current["status"] == "open", what="accepted")
        assert main.tab == "mine" and main.composer.input.has_focus

        await pilot.press("slash", "o", "l")
        await until(pilot, lambda: main.composer.menu.display and main.composer._shown)
        await pilot.press("enter")
        assert main.composer.input.text == "Olá Ana, em que posso ajudar?"
        await pilot.press("enter")

        def read_tick():
            return [b for b in main.chat._order if b.item.get("direction") == "out" and b.item.get("user_id")
                    and b.item["ack"] == "read"]
        bubble = (await until(pilot, read_tick, what="the read tick"))[0]
        assert "You" in plain(bubble) and "✓✓" in plain(bubble)

        await pilot.press("ctrl+t")
        dialog = await until(pilot, lambda: isinstance(app.screen, TransferDialog) and app.screen)
        labels = [t["label"] for t in dialog.targets]
        await pilot.press(*["down"] * next(i for i, label in enumerate(labels) if "Suporte" in label))
        await pilot.press("tab", *"Vou te passar para o Suporte", "enter")
        await until(pilot, lambda: main.current["status"] == "pending" and main.current["queue_name"] == "Suporte",
                    what="transferred to Suporte")
        assert row_of(app, CUSTOMER) is None  # it left "mine"

        await pilot.press("1")
        await until(pilot, lambda: row_of(app, CUSTOMER), what="back in pending")
        main.list.select(row["id"])
        await pilot.press("c")
        assert isinstance(app.screen, CloseDialog)
        await pilot.press("enter")
        await until(pilot, lambda: main.current["status"] == "closed", what="closed")
    texts = [m["body"] for m in (await desk.call("message.list", {"ticket_id": row["id"]}))["messages"]]
    assert "Vou te passar para o Suporte" in texts
