"""``zingtui --serve``: the console in a browser, over HTTP, with textual-serve.

Each browser tab that opens the page gets its own console process (``zingtui.served``), which
must log in: it never acts as the OS user running this server (see that module). The server
listens on 127.0.0.1 unless told otherwise; to reach it from elsewhere, put it behind a TLS
reverse proxy that forwards WebSocket upgrades, and give the address browsers use as
``--public-url`` (the page tells the browser where its WebSocket is). docs/remote.md shows how.

Every tab is a process holding a zingd connection, so their number is bounded: ``--max-sessions``
in all, ``--max-per-address`` from one client address (behind a proxy on this machine, the
address in its ``X-Forwarded-For``), and that address opens at most ``--tabs-per-minute``
(zingtui/serve_http.py). With each tab's own login throttle this bounds how fast one address can
guess passwords, and so how fast it can drain zingd's per-peer login bucket, which every served
console shares.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from zingd.errors import ZingError
from zingd.paths import default_socket_path
from zingd.rpc.client import SyncClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8766
# What the server's own environment may carry that a browser user must not get (a token, a password,
# a desktop to open files on): the consoles it starts don't inherit it.
PRIVATE_ENV = ("ZING_TOKEN", "ZING_PASSWORD", "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS",
               "SSH_AUTH_SOCK")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """zingtui's flags for serving (``--socket`` and ``--config`` are zingtui's own)."""
    group = parser.add_argument_group("serving the console in a browser")
    group.add_argument("--serve", action="store_true",
                       help="serve the console over HTTP (textual-serve); each browser tab logs in")
    group.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    group.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    group.add_argument("--public-url", help="the URL browsers use, behind a reverse proxy "
                                            "(e.g. https://desk.example.com); default http://HOST:PORT")
    group.add_argument("--max-sessions", type=int, default=64, help="browser tabs open at once (default 64)")
    group.add_argument("--max-per-address", type=int, default=4,
                       help="browser tabs open at once from one client address (default 4)")
    group.add_argument("--tabs-per-minute", type=int, default=10,
                       help="browser tabs one client address may open a minute (default 10)")


def check_daemon(socket: Path) -> None:
    """Refuse to serve a zingd that isn't there, or can't forget a connection's OS user (an older one)."""
    try:
        with SyncClient(socket, timeout=10) as c:
            hello = c.call("rpc.hello", {"os_user": False})
    except (ConnectionError, OSError) as e:
        raise SystemExit(f"zingtui --serve: zingd is not reachable at {socket}: {e}") from None
    except ZingError as e:
        raise SystemExit(f"zingtui --serve: this zingd can't serve browsers (upgrade it): {e.message}") from None
    if hello["authenticated"]:
        raise SystemExit("zingtui --serve: zingd still knows the connection by its OS user; upgrade zingd")


def command(socket: Path, config: Path | None) -> str:
    """The shell command textual-serve runs for each tab."""
    argv = [sys.executable, "-m", "zingtui.served", "--socket", str(socket)]
    if config is not None:
        argv += ["--config", str(config)]
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (``zingtui --serve``)."""
    socket = (args.socket or default_socket_path()).absolute()
    check_daemon(socket)
    for name in PRIVATE_ENV:
        os.environ.pop(name, None)
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    from zingtui.serve_http import ConsoleServer  # aiohttp's server and textual-serve: only when serving

    server = ConsoleServer(command(socket, args.config and args.config.absolute()), args.host, args.port,
                           args.public_url, args.max_sessions, args.max_per_address, args.tabs_per_minute)
    server.serve()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m zingtui.serve``: the same as ``zingtui --serve``."""
    parser = argparse.ArgumentParser(prog="zingtui --serve", description="zing's console in a browser")
    parser.add_argument("--socket", type=Path, help="zingd's socket (default: $ZING_SOCKET, else the runtime dir)")
    parser.add_argument("--config", type=Path, help="settings file with the [keymap] table")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
