"""Getting in: credentials once, then the stored token; a login screen when nothing else works."""

from __future__ import annotations

import stat

from tests.helpers import bootstrap
from tests.tui.conftest import ANA, console, ready, until
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
        assert app.session.user["role"] == "admin"
        assert [t.key for t in app.main_screen.inbox.tabs] == ["pending", "mine", "closed", "all"]
