"""Dialogs used with the keys a person presses, on fixed data: the filter, a ticket's history, the key list."""

from __future__ import annotations

from textual.widgets import HelpPanel, Select

from tests.tui.conftest import fake_console, plain, until
from zingtui.screens.dialogs import FilterDialog, HistoryScreen
from zingtui.screens.main import MainScreen


async def queue(pilot) -> MainScreen:
    main = await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen) and pilot.app.screen)
    await until(pilot, lambda: main.inbox.index["pending"].loaded and main.directory.tags, what="the queue")
    main.list.focus()
    return main


async def pick(pilot, downs: int) -> None:
    """Open the focused Select, go down to an option (0: the blank "any" one) and take it."""
    await pilot.press("enter", *["down"] * downs, "enter")


async def test_the_filter_dialog_narrows_the_list_by_keys_and_clears(tmp_path):
    app = fake_console(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        main = await queue(pilot)
        await pilot.press("f")
        dialog = await until(pilot, lambda: isinstance(app.screen, FilterDialog) and app.screen)
        assert app.focused is dialog.query_one("#queue", Select)
        await pick(pilot, 1)  # Vendas
        await pilot.press("tab")
        await pick(pilot, 1)  # boleto
        await pilot.press("tab", "tab", "enter")  # past the number, to Apply
        await until(pilot, lambda: app.screen is main and main.queue.flt.tag == "boleto", what="filtered")
        assert main.queue.flt.queue_id == 1 and main.queue.flt.connection_id is None
        await until(pilot, lambda: [r["id"] for r in main.list.rows] == [12], what="only the boleto ticket")
        assert "Vendas · #boleto" in plain(main.query_one("#filters"))

        await pilot.press("f")  # the dialog shows the filter as it is
        dialog = await until(pilot, lambda: isinstance(app.screen, FilterDialog) and app.screen)
        assert dialog.query_one("#queue", Select).value == 1 and dialog.query_one("#tag", Select).value == "boleto"
        await pilot.press("tab", "tab", "tab", "tab", "enter")  # Clear
        await until(pilot, lambda: len(main.list.rows) == 3 and not main.query_one("#filters").display,
                    what="the filter cleared")


async def test_a_filter_on_a_tag_that_is_gone_still_opens(tmp_path):
    app = fake_console(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        main = await queue(pilot)
        await pilot.press("f", "tab")
        await pick(pilot, 2)  # vip
        await pilot.press("tab", "tab", "enter")
        await until(pilot, lambda: main.queue.flt.tag == "vip" and app.screen is main)
        main.directory.tags = [t for t in main.directory.tags if t["name"] != "vip"]  # deleted meanwhile
        await pilot.press("f")
        dialog = await until(pilot, lambda: isinstance(app.screen, FilterDialog) and app.screen)
        assert dialog.query_one("#tag", Select).value is Select.NULL
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main and main.queue.flt.tag == "vip", what="cancel keeps it")


async def test_history_names_people_and_queues(tmp_path):
    app = fake_console(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        main = await queue(pilot)
        await pilot.press("2")
        main.list.select(21)
        await until(pilot, lambda: main.current and main.current["id"] == 21)
        await pilot.press("h")
        history = await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen)
        text = plain(history.query_one("#history"))
        assert "put in a queue (Suporte), by zing" in text
        assert "accepted, by Ana Agent" in text and "tags set: #vip, by Ana Agent" in text
        assert "queue_id" not in text and "[" not in text
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main)


async def test_question_mark_opens_and_closes_the_key_list(tmp_path):
    app = fake_console(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        main = await queue(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: main.query(HelpPanel), what="the key list")
        await pilot.press("question_mark")
        await until(pilot, lambda: not main.query(HelpPanel), what="closed by ?")
        await pilot.press("question_mark")
        await until(pilot, lambda: main.query(HelpPanel), what="the key list again")
        await pilot.press("escape")
        await until(pilot, lambda: not main.query(HelpPanel), what="closed by escape")
        assert main.list.has_focus
