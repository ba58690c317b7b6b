"""Who a served console is: nobody until it logs in, whatever OS user serves it.

zingd knows a socket client by its peer uid, and the OS user running these tests is linked to
Demo Co's admin, as an operator's would be. A console served to browsers runs as that user, so
each of its connections says ``rpc.hello {"os_user": false}``: these tests hold zingd to it (no
linked login, no bootstrap, its own login bucket) and the served console to its own throttle and
to the bounds on tabs.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.remote.conftest import Served
from tests.tui.conftest import ANA, until
from zingd.errors import Forbidden, RateLimited, Unauthenticated
from zingtui.screens.login import LoginScreen
from zingtui.screens.main import MainScreen
from zingtui.served import SESSION_TRIES, NoTokens, ServedApp, ServedClient


def test_forgetting_the_os_user_drops_the_linked_login_and_keeps_a_token_one(demo):
    with demo.client() as linked:
        assert linked.call("auth.whoami")["email"] == "admin@demo.zing"  # the OS user's link
    with demo.client() as c:
        assert c.call("rpc.hello", {"os_user": False})["authenticated"] is False
        with pytest.raises(Unauthenticated):
            c.call("auth.whoami")
        token = c.call("auth.login", {"email": ANA[0], "password": ANA[1]})["token"]
        assert c.call("auth.whoami")["email"] == ANA[0]
    with demo.client(token=token) as c:
        assert c.call("rpc.hello", {"os_user": False})["authenticated"] is True  # a token login stays
        assert c.call("auth.whoami")["email"] == ANA[0]


def test_a_connection_that_forgot_its_os_user_cannot_bootstrap(zingd):
    with zingd.client() as c:
        c.call("rpc.hello", {"os_user": False})
        with pytest.raises(Forbidden):
            c.call("auth.bootstrap", {"email": "root@example.com", "password": "rootpass1"})
    with zingd.client() as c:  # the daemon's own OS user still can
        c.call("auth.bootstrap", {"email": "root@example.com", "password": "rootpass1", "link_os_user": False})


def test_failed_logins_of_forgetful_connections_leave_the_os_users_bucket_alone(demo):
    """All served consoles share one bucket in zingd, apart from the terminals of the OS user serving them."""
    with demo.client() as c:
        c.call("rpc.hello", {"os_user": False})
        with pytest.raises(RateLimited):
            for i in range(100):  # another e-mail each time: the peer's bucket empties, not an account's
                with pytest.raises(Unauthenticated):
                    c.call("auth.login", {"email": f"nobody{i}@example.com", "password": "guess-guess"})
    with demo.client() as c:  # the OS user's own connection still logs in
        assert c.call("auth.login", {"email": ANA[0], "password": ANA[1]})["token"]


def served_app(demo) -> ServedApp:
    return ServedApp(demo.socket, alerts=False, tokens=NoTokens(), client_factory=ServedClient)


async def test_the_served_console_asks_for_a_login_though_the_os_user_is_linked(demo):
    app = served_app(demo)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="the login screen")
        with pytest.raises(Unauthenticated):
            await app.session.call("auth.whoami")
        await pilot.press(*ANA[0], "enter")
        await until(pilot, lambda: app.screen.query_one("#password").has_focus, what="the password field")
        await pilot.press(*ANA[1], "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="the queue screen")
        assert (await app.session.call("auth.whoami"))["email"] == ANA[0]
        app.exit()


async def test_a_tab_gets_a_few_tries_then_waits_without_asking_zingd(demo):
    app = served_app(demo)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="the login screen")
        client = app.session.client
        for _ in range(SESSION_TRIES):
            with pytest.raises(Unauthenticated):
                await client.login(ANA[0] + ".typo", "wrong-password")
        with pytest.raises(RateLimited, match="from this browser"):
            await client.login(ANA[0], ANA[1])  # the right password too: the tab's bucket is empty
        app.exit()
    with demo.client() as c:  # zingd never saw that try: Ana's own account has all its tries
        c.call("rpc.hello", {"os_user": False})
        assert c.call("auth.login", {"email": ANA[0], "password": ANA[1]})["token"]


UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


@pytest.mark.parametrize("bound", [("--max-per-address", "1"), ("--tabs-per-minute", "1")])
async def test_tabs_from_one_address_are_bounded(demo, tmp_path, bound):
    """Held open (--max-per-address) or opened one after another (--tabs-per-minute): the next is refused."""
    served = Served(demo, tmp_path, *bound)
    await asyncio.to_thread(served.wait)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(served.url + "ws") as first:
                await first.receive()  # its console started and drew
                if bound[0] == "--tabs-per-minute":
                    await first.close()
                async with http.get(served.url + "ws", headers=UPGRADE) as second:
                    assert second.status == 429
    finally:
        served.stop()
