"""Snapshots of the main screens at 80×24 and 160×48, from fixed data (tests/tui/fakes.py) at a frozen clock.

Update after an intended change: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations


import pytest

from tests.tui import fakes
from tests.tui.conftest import fake_console, until
from zingtui.screens.main import MainScreen

SMALL, LARGE = (80, 24), (160, 48)


pytestmark = pytest.mark.usefixtures("utc")  # tests/tui/conftest.py



app = fake_console


async def steady(pilot) -> None:
    """No blinking cursors in a snapshot."""
    for screen in pilot.app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False
    await pilot.pause()


async def queue_ready(pilot) -> MainScreen:
    main = await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen) and pilot.app.screen)
    await until(pilot, lambda: main.inbox.index["pending"].loaded and main.chat.ticket_id is not None)
    await steady(pilot)
    return main


async def open_ticket(pilot, ticket_id: int = 21) -> MainScreen:
    main = await queue_ready(pilot)
    await pilot.press("2")
    main.list.select(ticket_id)
    await until(pilot, lambda: main.chat.ticket_id == ticket_id and main.inbox.index["mine"].loaded)
    chat = main.chat
    await until(pilot, lambda: chat.messages() and chat.scroll_offset.y == chat.max_scroll_y,
                what="the conversation drawn and scrolled to its newest message")
    await steady(pilot)
    return main


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_pending_queue(snap_compare, tmp_path, size):
    assert snap_compare(app(tmp_path), terminal_size=size, run_before=queue_ready)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_conversation(snap_compare, tmp_path, size):
    """Day separators, edits, deletions, media, a quote, ticks, a failed message and a note."""
    assert snap_compare(app(tmp_path), terminal_size=size, run_before=open_ticket)


def test_quick_replies(snap_compare, tmp_path):
    async def run_before(pilot):
        await open_ticket(pilot)
        await pilot.press("r", "slash", "o")
        await until(pilot, lambda: pilot.app.screen.composer.menu.display)
        await steady(pilot)

    assert snap_compare(app(tmp_path), terminal_size=SMALL, run_before=run_before)


def test_close_dialog(snap_compare, tmp_path):
    async def run_before(pilot):
        await open_ticket(pilot)
        await pilot.press("c")
        await steady(pilot)

    assert snap_compare(app(tmp_path), terminal_size=SMALL, run_before=run_before)


def test_contact_panel(snap_compare, tmp_path):
    async def run_before(pilot):
        await open_ticket(pilot)
        await pilot.press("i")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ContactScreen")

    assert snap_compare(app(tmp_path), terminal_size=SMALL, run_before=run_before)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_connections_with_qr(snap_compare, tmp_path, size):
    async def run_before(pilot):
        main = await queue_ready(pilot)
        main.session.user["role"] = "admin"
        await pilot.press("w", "down", "p")
        await until(pilot, lambda: pilot.app.screen.pairing == 2)

    assert snap_compare(app(tmp_path), terminal_size=size, run_before=run_before)


def test_login(snap_compare, tmp_path):
    """No token, no OS link: the console asks (the fake says no to whoami)."""
    class Stranger(fakes.FakeClient):
        async def call(self, method, params=None, timeout=None):
            if method == "auth.whoami":
                from zingd.errors import Unauthenticated
                raise Unauthenticated("log in first")
            return await super().call(method, params, timeout)

    console = app(tmp_path, credentials=False)
    console.client_factory = Stranger
    async def run_before(pilot):
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "LoginScreen")
        await steady(pilot)

    assert snap_compare(console, terminal_size=SMALL, run_before=run_before)


def test_filter_dialog(snap_compare, tmp_path):
    """The filter with a queue chosen by keys (issue 13: f used to crash the console)."""
    async def run_before(pilot):
        main = await queue_ready(pilot)
        main.list.focus()
        await pilot.press("f")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "FilterDialog")
        await pilot.press("enter", "down", "enter", "tab")
        await until(pilot, lambda: pilot.app.screen.query_one("#queue").value == 1)
        await steady(pilot)

    assert snap_compare(app(tmp_path), terminal_size=SMALL, run_before=run_before)
