"""The HTTP side of ``zingtui --serve``: textual-serve's server, bounding the browser tabs.

Imported only when serving (aiohttp's web server and textual-serve take a while to import, and
every other zingtui start would pay for them). Each tab is a console process with a zingd
connection: the tabs open in all, open per client address and opened per address a minute are
bounded, so one address can't fill the machine with consoles nor start fresh ones (each with its
own login tries, zingtui/served.py) as fast as it likes.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

from aiohttp import web
from textual_serve.server import Server

from zingd.services.auth import LoginThrottle


class ConsoleServer(Server):
    """textual-serve's server, counting the tabs of each client address before starting one."""

    def __init__(self, command: str, host: str, port: int, public_url: str | None, max_sessions: int,
                 max_per_address: int, tabs_per_minute: int) -> None:
        super().__init__(command, host=host, port=port, title="zing", public_url=public_url)
        self.max_sessions, self.max_per_address = max_sessions, max_per_address
        self.open: Counter[str] = Counter()
        self.opened = LoginThrottle(tabs_per_minute, 60.0)  # new tabs per address: taken, never given back

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        address = client_address(request)
        if sum(self.open.values()) >= self.max_sessions:
            raise web.HTTPServiceUnavailable(text="too many consoles open; try again later")
        if self.open[address] >= self.max_per_address:
            raise web.HTTPTooManyRequests(text=f"at most {self.max_per_address} consoles from one address")
        if (wait := self.opened.wait(address)) > 0:
            raise web.HTTPTooManyRequests(text=f"too many new consoles from this address; try again in {wait:.0f} s")
        self.opened.take(address)
        self.open[address] += 1
        try:
            return await super().handle_websocket(request)
        finally:
            self.open[address] -= 1
            if not self.open[address]:
                del self.open[address]


def client_address(request: web.Request) -> str:
    """Who is asking: the TCP peer, or, when that is a proxy on this machine, the client it names last."""
    peer = request.remote or ""
    try:
        local = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        local = False
    forwarded = request.headers.get("X-Forwarded-For", "")
    if local and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return peer
