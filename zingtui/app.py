"""zingtui: the agents' console. ``zingtui [--socket PATH] [--email E --password P] [--no-bell]``.

The app reaches zingd (retrying while it is down), logs in with the given
credentials, else ``ZING_TOKEN`` or the stored token, else the OS-user link,
else a login screen, then opens the queue screen. Every RPC goes through ``ZingApp.call``, which turns errors
into toasts: the agent never sees a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from zingd.errors import ZingError
from zingd.paths import default_socket_path
from zingd.rpc.client import Client
from zingtui.commands import ZingCommands
from zingtui.credentials import TokenStore
from zingtui.messages import Daemon
from zingtui.screens.login import LoginScreen, SplashScreen
from zingtui.screens.main import MainScreen
from zingtui.session import ClientFactory, Session

RETRY_S = 1.0


class ZingApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "zing"
    COMMANDS = App.COMMANDS | {ZingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", priority=True, show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
    ]

    def __init__(self, socket: Path, email: str | None = None, password: str | None = None, alerts: bool = True,
                 tokens: TokenStore | None = None, client_factory: ClientFactory = Client,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.socket = socket
        self.credentials = (email, password) if email and password else None
        self.alerts = alerts
        self.tokens = tokens or TokenStore()
        self.client_factory = client_factory
        self.clock = clock
        self.session: Session | None = None
        self.leaving = False

    # -- start -------------------------------------------------------------
    async def on_mount(self) -> None:
        splash = SplashScreen()
        await self.push_screen(splash)  # mounted before the first status line is written to it
        self.start(splash)

    @work(exclusive=True, group="start")
    async def start(self, splash: SplashScreen) -> None:
        self.session = Session(self.socket, self._on_state, self.client_factory)
        while True:
            try:
                await self.session.connect()
                break
            except (ConnectionError, OSError) as e:
                if self.leaving:
                    return
                splash.status(f"{e}\nRetrying… (ctrl+c quits)")
                await asyncio.sleep(RETRY_S)
        try:
            if await self.authenticate():
                await self.enter()
        except (ConnectionError, ZingError) as e:
            if self.screen is splash:
                splash.status(f"Could not log in: {getattr(e, 'message', e)}")

    async def authenticate(self) -> bool:
        """Given credentials, else a stored token, else the OS-user link; False means: ask."""
        session = self.session
        if self.credentials is not None:
            try:
                await self.store(await session.login(*self.credentials))
                return True
            except ZingError as e:
                login = LoginScreen(self.credentials[0])
                await self.switch_screen(login)
                login.failed(e.message)
                return False
        token = os.environ.get("ZING_TOKEN") or self.tokens.load(str(self.socket))
        if token:
            if await session.resume(token):
                return True
            self.tokens.forget(str(self.socket))
        if await session.implicit():
            return True
        self.switch_screen(LoginScreen())
        return False

    async def store(self, token: str) -> None:
        await asyncio.to_thread(self.tokens.save, str(self.socket), token)

    def on_login_screen_submitted(self, message: LoginScreen.Submitted) -> None:
        self.login(message.email, message.password)

    @work(exclusive=True, group="login")
    async def login(self, email: str, password: str) -> None:
        screen = self.screen
        try:
            await self.store(await self.session.login(email, password))
            await self.enter()
        except (ZingError, ConnectionError) as e:
            if isinstance(screen, LoginScreen):
                screen.failed(getattr(e, "message", str(e)))

    async def enter(self) -> None:
        await self.session.discover()
        self.switch_screen(MainScreen(self.session))

    # -- the daemon ----------------------------------------------------------
    def _on_state(self, state: str) -> None:
        self.post_message(Daemon.State(state))

    def on_daemon_state(self, message: Daemon.State) -> None:
        main = self.main_screen
        if main is not None:
            main.daemon_state(message.state)

    @property
    def main_screen(self) -> MainScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    async def call(self, method: str, params: dict[str, Any] | None = None, *, quiet: bool = False) -> Any:
        """Call zingd; on any error show a toast (unless quiet) and return None."""
        if self.leaving:
            raise asyncio.CancelledError
        try:
            return await self.session.call(method, params)
        except ZingError as e:
            if not quiet:
                text = f"this zingd has no {method} yet" if e.kind == "method_not_found" else e.message
                self.notify(text, title=e.kind.replace("_", " "), severity="error", timeout=6)
        except ConnectionError:
            if not quiet:
                self.notify("zingd is not reachable; reconnecting…", title="offline", severity="warning")
        return None

    async def subscribe(self, handler: Callable[[dict[str, Any]], None]) -> None:
        if self.leaving:
            raise asyncio.CancelledError
        await self.session.subscribe(handler)

    # -- leaving -------------------------------------------------------------
    async def action_quit(self) -> None:
        self.leaving = True  # from here on a worker stops at its next call
        await self.leave()
        self.exit()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Stop the workers first: none may touch a widget that is being torn down.

        A worker that starts later (a screen mounting as the app leaves) stops at its first call.
        """
        self.leaving = True
        self.workers.cancel_all()
        super().exit(*args, **kwargs)

    async def on_unmount(self) -> None:
        await self.leave()

    def logout(self) -> None:
        async def out() -> None:
            await self.call("auth.logout", quiet=True)
            self.tokens.forget(str(self.socket))
            await self.action_quit()
        self.run_worker(out(), group="logout")

    async def leave(self) -> None:
        """Say we went offline (briefly: a dead daemon must not hold the exit) and hang up."""
        if self.session is None:
            return
        if self.main_screen is not None:  # it set us online
            try:
                await asyncio.wait_for(self.session.call("user.set_status", {"status": "offline"}), 1.0)
            except (TimeoutError, ZingError, ConnectionError):
                pass
        await self.session.close()
        self.session = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zingtui", description="zing's console for agents: work the WhatsApp queue.")
    parser.add_argument("--socket", type=Path, help="zingd's socket (default: $ZING_SOCKET, else the runtime dir)")
    parser.add_argument("--email", help="log in as this user (the token is stored for next time)")
    parser.add_argument("--password", help="the user's password (with --email)")
    parser.add_argument("--bell", action=argparse.BooleanOptionalAction, default=True,
                        help="ring the bell and notify on new pending tickets (default: on)")
    args = parser.parse_args(argv)
    if bool(args.email) != bool(args.password):
        parser.error("--email and --password go together")
    app = ZingApp(args.socket or default_socket_path(), args.email, args.password, alerts=args.bell)
    app.run()
    return app.return_code or 0
