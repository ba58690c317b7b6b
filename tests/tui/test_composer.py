"""The composer's keys and drafts, on fixed data (no daemon needed)."""

from __future__ import annotations

from tests.tui.conftest import fake_console, until
from zingtui.screens.main import MainScreen


async def opened(pilot, ticket_id: int) -> MainScreen:
    main = await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen) and pilot.app.screen)
    await until(pilot, lambda: main.inbox.index["pending"].loaded)
    if ticket_id not in {r["id"] for r in main.list.rows}:
        await pilot.press("2")
    main.list.select(ticket_id)
    await until(pilot, lambda: main.chat.ticket_id == ticket_id)
    return main


async def test_each_ticket_keeps_its_own_draft(tmp_path):
    console = fake_console(tmp_path)
    async with console.run_test(size=(100, 30)) as pilot:
        main = await opened(pilot, 21)
        await pilot.press("r", *"ola ", "ctrl+j", *"tudo")
        assert main.composer.input.text == "ola \ntudo"
        await pilot.press("escape", "down")
        await until(pilot, lambda: main.chat.ticket_id == 22)
        assert main.composer.input.text == ""
        await pilot.press("up")
        await until(pilot, lambda: main.chat.ticket_id == 21)
        assert main.composer.input.text == "ola \ntudo"
        sent = [m for m, _ in console.session.client.calls if m == "message.send"]
        assert sent == []


async def test_slash_with_no_matching_reply_sends_nothing(tmp_path):
    console = fake_console(tmp_path)
    async with console.run_test(size=(100, 30)) as pilot:
        main = await opened(pilot, 21)
        await pilot.press("r", "slash", "z", "z", "z")
        await until(pilot, lambda: main.composer.menu.display)
        await pilot.press("enter")
        assert main.composer.input.text == "/zzz"
        await pilot.press("backspace", "backspace", "backspace", "p", "r", "tab")
        assert main.composer.input.text == "O prazo de entrega é de 5 dias úteis."
        await pilot.press("enter")
        sent = {"ticket_id": 21, "body": "O prazo de entrega é de 5 dias úteis."}
        await until(pilot, lambda: [p for m, p in console.session.client.calls
                                    if m == "message.send" and sent.items() <= p.items()], what="sent")
