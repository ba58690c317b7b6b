"""Getting in: credentials once, then the stored token; a login screen when nothing else works."""

from __future__ import annotations

import stat

import pytest

from tests.helpers import bootstrap
from tests.tui.conftest import ANA, console, ready, until
from zingd.errors import ZingError
from zingtui.screens.login import LoginScreen


async def test_credentials_store_a_token_that_logs_in_next_time(demo, tokens):
    async with console(demo, tokens, ANA) as (app, _):
        assert app.session.user["email"] == ANA[0]
    stored = tokens.load(str(demo.socket))
    assert stored and stat.S_IMODE(tokens.path.stat().st_mode) == 0o600

    async with console(demo, tokens, credentials=None) as (app, _):
        assert app.session.user["email"] == ANA[0]


async def test_a_revoked_token_is_forgotten_and_the_login_screen_asks(zingd, tokens, tmp_path):
    bootstrap(zingd, email="root@example.com", password="rootpass1")  # not linked to this OS user
    tokens.save(str(zingd.socket), "zt_not-a-real-token")
    async with console(zingd, tokens, credentials=None, wait=False) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="the login screen")
        assert tokens.load(str(zingd.socket)) is None
        await pilot.press(*"root@example.com", "enter", *"wrong-password", "enter")
        await until(pilot, lambda: "password" in str(app.screen.query_one("#login-error").render()).lower(),
                    what="the refusal")
        await pilot.press(*"rootpass1", "enter")
        await until(pilot, lambda: ready(app), what="logged in")
        assert app.session.user["email"] == "root@example.com"
    assert tokens.load(str(zingd.socket))


async def test_the_os_user_link_logs_in_without_a_password(demo, tokens):
    async with console(demo, tokens, credentials=None) as (app, _):
        assert app.session.user["role"] == "superadmin"  # the demo admin
        assert [t.key for t in app.main_screen.inbox.tabs] == ["pending", "mine", "closed", "all"]


async def test_log_out_from_the_palette_revokes_the_token_and_goes_offline(desk, tokens):
    async with console(desk.z, tokens, ANA) as (app, pilot):
        token = tokens.load(str(desk.z.socket))
        await pilot.press("ctrl+p", *"log out")
        palette = app.screen
        await until(pilot, lambda: palette.query("CommandList").first().option_count, what="hits")
        await pilot.press("enter")
        await until(pilot, lambda: not app.is_running, what="the console quit")
    assert tokens.load(str(desk.z.socket)) is None
    ana = next(u for u in await desk.call("user.list") if u["email"] == ANA[0])
    assert ana["status"] == "offline"  # said while still logged in, before the token went
    with desk.z.client() as c, pytest.raises(ZingError, match="(?i)token"):
        c.call("auth.token", {"token": token})
