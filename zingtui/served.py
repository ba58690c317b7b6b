"""One browser session's console (``zingtui --serve`` starts one per browser tab).

It runs as the OS user serving the page, but the person in the browser is not that user, so it
takes nothing that user has: on every connection it tells zingd to forget the peer's OS user
(``rpc.hello`` with ``os_user`` false: no linked-account login, no bootstrap, no operator view),
it reads no ``ZING_TOKEN``, no stored token and no keyring, and keeps the token it is given in
memory only: everyone logs in with their e-mail and password (a token is for a console over SSH,
``zingtui --socket``, docs/remote.md).

Failed logins are throttled here as well as in zingd: zingd counts every served console as one
peer (uid-less, apart from the OS user's own terminals), so a single tab guessing passwords could
otherwise empty that bucket for every browser user. Each tab gets ``SESSION_TRIES`` tries per
``SESSION_WINDOW_S`` (zingd.services.auth's ``LoginThrottle``), and zingtui/serve_http.py bounds the
tabs an address may hold open and open a minute.

Files on the server's disk are not the browser user's either: attaching one is refused (the dialog
doesn't open, and an upload a waiting reply names isn't sent).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from textual.screen import Screen

from zingd.errors import Forbidden, RateLimited
from zingd.paths import default_config_path, default_socket_path
from zingd.services.auth import LoginThrottle
from zingtui import keymap as keymaps
from zingtui.app import ZingApp
from zingtui.credentials import TokenStore
from zingtui.screens.dialogs import AttachDialog
from zingtui.screens.login import LoginScreen
from zingtui.session import ConsoleClient

SESSION_TRIES = 5
SESSION_WINDOW_S = 60.0


class ServedClient(ConsoleClient):
    """The console's client, forgetting the OS user on each (re)connection and throttling its logins."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tries = LoginThrottle(SESSION_TRIES, SESSION_WINDOW_S)

    async def connect(self) -> None:
        """Connect, then forget the OS user before anything else is sent on this connection's behalf.

        A token login (a reconnect after logging in) stays; a linked-account login is dropped. A
        zingd that can't forget (older than this console) refuses the parameter, and the console
        stops there rather than act as the server's OS user."""
        await super().connect()
        hello = await self.call("rpc.hello", {"os_user": False})
        if hello["authenticated"] and not self.token:
            raise RuntimeError("zingd still knows this connection by its OS user; refusing to serve it")

    async def login(self, email: str, password: str) -> dict[str, Any]:
        wait = self.tries.wait("tab")
        if wait > 0:
            raise RateLimited(f"too many failed logins from this browser; try again in {wait:.0f} s",
                              retry_after=round(wait, 1))
        self.tries.take("tab")
        out = await super().login(email, password)
        self.tries.give_back("tab")
        return out

    async def upload(self, stream: Any, name: str, progress: Any = None) -> dict[str, Any]:
        raise Forbidden("a console in a browser can't send files from the server's disk", reason="served")


class NoTokens(TokenStore):
    """Keeps nothing: a served console's token lives in its process and dies with the tab."""

    def __init__(self) -> None:
        super().__init__(path=Path(os.devnull), use_keyring=False)

    def load(self, socket: str) -> str | None:
        return None

    def save(self, socket: str, token: str) -> str:
        return "memory"

    def forget(self, socket: str) -> None:
        return None


class ServedApp(ZingApp):
    """The console with a login screen first, always, and no reach into the server's files."""

    async def authenticate(self) -> bool:
        self.switch_screen(LoginScreen())
        return False

    def push_screen(self, screen: Screen | str, *args: Any, **kwargs: Any):
        if isinstance(screen, AttachDialog):
            self.notify("A console in a browser can't attach files from the server's disk.", severity="warning")
            return None
        return super().push_screen(screen, *args, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zingtui-served", description="one browser tab's console")
    parser.add_argument("--socket", type=Path)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args(argv)
    app = ServedApp(args.socket or default_socket_path(), alerts=False, tokens=NoTokens(),
                    client_factory=ServedClient, keymap=keymaps.load(args.config or default_config_path()))
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(main())
