"""The dialogs no other test opens, on fixed data: the filter and a ticket's history."""

from __future__ import annotations

from textual.widgets import Select

from tests.tui.conftest import fake_console, plain, until
from zingtui.screens.dialogs import FilterDialog, HistoryScreen
from zingtui.screens.main import MainScreen


async def queue(pilot) -> MainScreen:
    main = await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen) and pilot.app.screen)
    await until(pilot, lambda: main.inbox.index["pending"].loaded and main.directory.tags, what="the queue")
    main.list.focus()
    return main


async def test_the_filter_dialog_narrows_the_list(tmp_path):
    app = fake_console(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        main = await queue(pilot)
        await pilot.press("f")
        dialog = await until(pilot, lambda: isinstance(app.screen, FilterDialog) and app.screen)
        dialog.query_one("#tag", Select).value = "boleto"
        await pilot.click("#apply")
        await until(pilot, lambda: app.screen is main and main.queue.flt.tag == "boleto", what="filtered")
        await until(pilot, lambda: [r["id"] for r in main.list.rows] == [12], what="only the boleto ticket")
        assert "#boleto" in plain(main.query_one("#filters"))
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, FilterDialog))
        await pilot.click("#clear")
        await until(pilot, lambda: len(main.list.rows) == 3 and not main.query_one("#filters").display,
                    what="the filter cleared")


async def test_history_lists_what_happened_to_the_ticket(tmp_path):
    app = fake_console(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        main = await queue(pilot)
        await pilot.press("2")
        main.list.select(21)
        await until(pilot, lambda: main.current and main.current["id"] == 21)
        await pilot.press("h")
        history = await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen)
        text = plain(history.query_one("#history"))
        assert "created  by system" in text and "accepted  by Ana Agent  (queue_id 2)" in text
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main)
