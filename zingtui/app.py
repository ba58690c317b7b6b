"""zingtui: the agents' console. ``zingtui [--socket PATH] [--email E [--password-stdin]] [--no-bell] [--keys]``.

The app reaches zingd (retrying while it is down), logs in with the given
credentials, else ``ZING_TOKEN`` or the stored token, else the OS-user link,
else a login screen, then opens the queue screen. Every RPC goes through ``ZingApp.call``, which turns errors
into toasts: the agent never sees a traceback.

A password never goes on the command line (``ps`` shows it to every user of
the machine): with ``--email`` it comes from ``--password-stdin``, else
``ZING_PASSWORD``, else the login screen asks for it. Keys can be remapped in
the ``[keymap]`` table of config.toml (``zingtui.keymap``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from zingd.errors import ZingError
from zingd.paths import default_config_path, default_socket_path
from zingtui import keymap as keymaps
from zingtui import serve
from zingtui.commands import ZingCommands
from zingtui.credentials import TokenStore
from zingtui.drafts import drafts_path
from zingtui.messages import Daemon
from zingtui.screens.login import LoginScreen, SplashScreen
from zingtui.screens.main import MainScreen
from zingtui.session import ClientFactory, ConsoleClient, Notice, Session

RETRY_S = 1.0


class ZingApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "zing"
    COMMANDS = App.COMMANDS | {ZingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c,ctrl+q", "quit", "Quit", priority=True, show=False, tooltip="Go offline and leave",
                id="app.quit"),
    ]

    def __init__(self, socket: Path, email: str | None = None, password: str | None = None, alerts: bool = True,
                 tokens: TokenStore | None = None, client_factory: ClientFactory = ConsoleClient,
                 clock: Callable[[], float] = time.time, keymap: Mapping[str, str] | None = None,
                 drafts_file: Path | None = None) -> None:
        super().__init__()
        self.socket = socket
        self.email = email
        self.credentials = (email, password) if email and password else None
        self.keymap = dict(keymap or {})
        self.set_keymap(self.keymap)
        self._clashes: set[frozenset[str]] = set()
        self.alerts = alerts
        self.tokens = tokens or TokenStore()
        self.drafts_file = drafts_file or drafts_path()  # unsent text and waiting replies (zingtui.drafts)
        self.client_factory = client_factory
        self.clock = clock
        self.session: Session | None = None
        self.leaving = False
        self.offline_said = False  # user.set_status offline went out (before a logout, or at exit)

    # -- start -------------------------------------------------------------
    async def on_mount(self) -> None:
        for clash in keymaps.clashes(self.keymap):
            self.notify(f"{clash}: the keymap's binding has the key now", title="keymap", severity="warning",
                        timeout=10)
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
        """Given credentials, else a stored token, else the OS-user link; False means: ask.

        An e-mail without a password asks at once, for that user's password.
        """
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
        if self.email:
            await self.switch_screen(LoginScreen(self.email))
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

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node: Any) -> None:
        """Say once when the keymap took a key from one of Textual's own bindings (ours: ``keymap.clashes``)."""
        ids = frozenset(b.id or b.action for b in clashed_bindings)
        if ids not in self._clashes:
            self._clashes.add(ids)
            keys = ", ".join(sorted({b.key for b in clashed_bindings}))
            self.notify(f"{keys}: taken from {', '.join(sorted(ids))}", title="keymap", severity="warning")

    # -- the daemon ----------------------------------------------------------
    def _on_state(self, state: str) -> None:
        self.post_message(Daemon.State(state))

    def on_daemon_state(self, message: Daemon.State) -> None:
        main = self.main_screen
        if main is not None:
            main.daemon_state(message.state)
            if message.state == "connected":
                main.conversation.deliver()  # the replies that waited for zingd

    @property
    def main_screen(self) -> MainScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    async def call(self, method: str, params: dict[str, Any] | None = None, *, quiet: bool = False,
                   offline: bool = False, on_notice: Notice | None = None) -> Any:
        """Call zingd; on any error show a toast (unless quiet) and return None.

        With offline, an unreachable zingd raises ConnectionError instead: the caller keeps the call for later.
        With on_notice, the notifications zingd sends for this call (a streamed answer) go there meanwhile.
        """
        if self.leaving:
            raise asyncio.CancelledError
        try:
            return await self.session.call(method, params, on_notice)
        except ZingError as e:
            if not quiet:
                text = f"this zingd has no {method} yet" if e.kind == "method_not_found" else e.message
                self.notify(text, title=e.kind.replace("_", " "), severity="error", timeout=6)
        except ConnectionError:
            if offline:
                raise
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
        main = self.main_screen
        if main is not None and main.conversation.is_mounted:
            main.composer.keep()  # the last keys typed, not only those before the last pause
        self.workers.cancel_all()
        super().exit(*args, **kwargs)

    async def on_unmount(self) -> None:
        await self.leave()

    def logout(self) -> None:
        async def out() -> None:
            await self.say_offline()  # while still logged in: after auth.logout it would be refused
            await self.call("auth.logout", quiet=True)
            self.tokens.forget(str(self.socket))
            await self.action_quit()
        self.run_worker(out(), group="logout")

    async def say_offline(self) -> None:
        """Tell colleagues we went offline, once (briefly: a dead daemon must not hold the exit)."""
        if self.session is None or self.main_screen is None or self.offline_said:  # only the desk set us online
            return
        self.offline_said = True
        try:
            await asyncio.wait_for(self.session.call("user.set_status", {"status": "offline"}), 1.0)
        except (TimeoutError, ZingError, ConnectionError):
            pass

    async def leave(self) -> None:
        """Go offline and hang up."""
        if self.session is None:
            return
        await self.say_offline()
        await self.session.close()
        self.session = None


def parse_args(argv: list[str] | None = None, stdin: IO[str] | None = None,
               environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """The command line, with the password found (``password``) and the keymap read (``keymap``)."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="zingtui", allow_abbrev=False, description="zing's console for agents: work the WhatsApp queue.",
        epilog="Keys: ? shows them, ctrl+p finds any action. Remap them in the [keymap] table of the config file "
               "(binding ids: zingtui --keys; examples: config.example.toml).")
    parser.add_argument("--socket", type=Path, help="zingd's socket (default: $ZING_SOCKET, else the runtime dir)")
    parser.add_argument("--config", type=Path,
                        help="settings file with the [keymap] table (default: $ZING_CONFIG, else "
                             "~/.config/zing/config.toml, the file zingd reads)")
    parser.add_argument("--email", help="log in as this user (the token is stored for next time); the password "
                                        "comes from --password-stdin, else $ZING_PASSWORD, else the login screen")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password (with --email) from the first line of stdin")
    parser.add_argument("--password", dest="password_flag", nargs="?", const="", help=argparse.SUPPRESS)
    parser.add_argument("--bell", action=argparse.BooleanOptionalAction, default=True,
                        help="ring the bell and notify on new pending tickets (default: on)")
    parser.add_argument("--keys", action="store_true", help="print every key binding's id and keys, then exit")
    serve.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.password_flag is not None:
        parser.error("--password is gone: a password on the command line shows in ps. "
                     "Use --password-stdin, set ZING_PASSWORD, or type it in the login screen")
    if args.password_stdin and not args.email:
        parser.error("--password-stdin goes with --email")
    args.password = None
    if args.password_stdin:
        source = stdin or sys.stdin
        line = getpass.getpass("Password: ") if source.isatty() else source.readline()  # typed: hidden
        args.password = line.rstrip("\r\n")
        if not args.password:
            parser.error("--password-stdin: no password on stdin")
    elif args.email:
        args.password = environ.get("ZING_PASSWORD") or None
    try:
        args.keymap = keymaps.load(args.config or default_config_path())
    except keymaps.KeymapError as e:
        parser.error(str(e))
    return args


def console(args: argparse.Namespace, **kwargs: Any) -> ZingApp:
    """The app the command line asks for (tests pass their token store and client here)."""
    return ZingApp(args.socket or default_socket_path(), args.email, args.password, alerts=args.bell,
                   keymap=args.keymap, **kwargs)


def _keys_from_the_terminal() -> None:
    """--password-stdin used stdin up: read the keys from the terminal instead, as Textual reads fd 0."""
    if sys.stdin.isatty():
        return
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        raise SystemExit("zingtui: --password-stdin read stdin, and there is no terminal to read keys from") from None
    os.dup2(fd, 0)
    os.close(fd)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve.run(args)
    if args.keys:
        print(keymaps.listing(args.keymap))
        return 0
    if args.password_stdin:
        _keys_from_the_terminal()
    app = console(args)
    app.run()
    return app.return_code or 0
