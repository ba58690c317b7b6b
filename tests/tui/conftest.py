"""Fixtures for console tests: a real zingd (Demo Co, sim channel) and the app under Pilot."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from rich.console import Console
from textual.command import CommandPalette

from tests import helpers
from tests.helpers import Zingd
from tests.tui import fakes
from zingd.rpc.client import SyncClient
from zingtui.app import ZingApp
from zingtui.credentials import TokenStore
from zingtui.screens.main import MainScreen

ANA = ("ana@demo.zing", "demo-agent")
BRUNO = ("bruno@demo.zing", "demo-agent")


@pytest.fixture
def utc(monkeypatch):
    """Times render in UTC, whatever the machine's zone (snapshots)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def tokens(tmp_path) -> TokenStore:
    """A token file in the test's directory: never the user's keyring or ~/.config."""
    return TokenStore(tmp_path / "credentials.json", use_keyring=False)


@pytest.fixture
def admin(demo: Zingd):
    """Demo Co's admin (linked to this OS user): the customers' side and the other agents' hands."""
    with demo.client() as c:
        yield c


class Desk:
    """Blocking calls run in a thread, so the console's event loop keeps running meanwhile."""

    def __init__(self, z: Zingd, client: SyncClient) -> None:
        self.z = z
        self.client = client

    async def call(self, method: str, params: dict | None = None):
        return await asyncio.to_thread(self.client.call, method, params or {})

    async def say(self, number: str, body: str, **extra) -> dict:
        return await self.call("sim.say", {"from": number, "body": body, **extra})

    async def quick_reply(self, shortcut: str, body: str) -> dict:
        return await self.call("quickreply.create", {"shortcut": shortcut, "body": body})

    async def as_agent(self, email: str, password: str) -> SyncClient:
        c = self.z.client()
        await asyncio.to_thread(c.call, "auth.login", {"email": email, "password": password})
        return c


@pytest.fixture
def desk(demo: Zingd, admin: SyncClient) -> Desk:
    return Desk(demo, admin)


async def until(pilot, predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition"):
    """Let the app run until predicate() is truthy; return its value. The bound is generous: on a
    loaded, shared CI machine a round trip to a real zingd can take seconds."""
    return await helpers.until(predicate, timeout, what, pause=pilot.pause)


def fake_console(tmp_path: Path, credentials: bool = True, **kwargs) -> ZingApp:
    """The console on fixed data (tests/tui/fakes.py) at a frozen clock: no daemon, no race."""
    creds = ANA if credentials else (None, None)
    kwargs.setdefault("client_factory", fakes.FakeClient)
    kwargs.setdefault("drafts_file", tmp_path / "drafts.json")
    return ZingApp(Path("/nonexistent/zingd.sock"), *creds, alerts=False,
                   tokens=TokenStore(tmp_path / "credentials.json", use_keyring=False),
                   clock=lambda: fakes.NOW, **kwargs)


def ready(app: ZingApp) -> bool:
    """Logged in, the queue screen up, its first page in and the agent online (the screen's start is over)."""
    return (isinstance(app.screen, MainScreen) and app.screen.inbox.index["pending"].loaded
            and app.session.user.get("status") == "online")


@asynccontextmanager
async def console(z: Zingd, tokens: TokenStore, credentials: tuple[str, str] | None = ANA,
                  size: tuple[int, int] = (100, 30), wait: bool = True, **kwargs):
    """The console under Pilot; by default logged in and showing its queue (its drafts beside the tokens)."""
    kwargs.setdefault("drafts_file", tokens.path.parent / "drafts.json")
    app = ZingApp(z.socket, *(credentials or (None, None)), alerts=kwargs.pop("alerts", False), tokens=tokens,
                  **kwargs)
    async with app.run_test(size=size) as pilot:
        if wait:
            await until(pilot, lambda: ready(app), what="the queue screen")
        yield app, pilot
        if app.is_running:  # leave the way an agent does (run_test alone skips App.exit)
            app.exit()


def rows(app: ZingApp) -> list[dict]:
    return app.main_screen.list.rows


def row_of(app: ZingApp, number: str) -> dict | None:
    return next((r for r in rows(app) if r["contact_number"] == number), None)


def plain(widget) -> str:
    """What a widget shows, as text."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.render())
    return console.export_text()


def toasts(app, severity: str | None = None) -> list[str]:
    return [n.message for n in app._notifications if severity is None or n.severity == severity]


async def from_palette(app, pilot, words: str) -> str:
    """Open the command palette (ctrl+p), type ``words``; the first hit's text (enter runs it)."""
    await pilot.press("ctrl+p")
    palette = await until(pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, what="the palette")
    await pilot.press(*words)
    await until(pilot, lambda: palette.query("CommandList").first().option_count, what="hits")
    return str(palette.query("CommandList").first().get_option_at_index(0).prompt)
