"""The console in a real headless Chromium (Debian's ``chromium``), driven over the DevTools protocol.

The browser gets the page from ``zingtui --serve``, its tab starts a console that logs in as Ana
(the OS user serving it is linked to Demo Co's admin: the tab must not be the admin), sees the
pending list, accepts a customer's ticket and answers it. What the tab's terminal was sent is read
from the page's WebSocket frames; what happened is read back from zingd; and a screenshot shows the
page rendered: the size asked for, many colours, the login dialog's border where it belongs.
"""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from tests.helpers import until
from tests.remote.cdp import Browser, chromium
from tests.tui.conftest import ANA

pytestmark = [pytest.mark.remote,
              pytest.mark.skipif(chromium() is None, reason="no chromium on PATH: run scripts/remote-test-setup.sh "
                                                             "(Debian's chromium package)")]

CUSTOMER = "5511988887777"
WIDTH, HEIGHT = 1280, 800


def pixels(png: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct colours of a PNG as Chromium writes it (8-bit RGB/RGBA, no palette)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IDAT":
            idat += data
        else:
            chunks.setdefault(kind, data)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    step = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * step
    seen: set[bytes] = set()
    prev = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # undo the row filter (PNG spec, 9.2)
            a = line[i - step] if i >= step else 0
            b, c = prev[i], prev[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            seen.update(bytes(line[x:x + 3]) for x in range(0, stride, step * 4))
        prev = line
    return width, height, seen


async def test_a_browser_tab_logs_in_sees_pending_accepts_and_replies(served, desk, tmp_path):
    browser = await Browser(tmp_path / "chromium", WIDTH, HEIGHT).start()
    try:
        await browser.goto(served.url)
        await until(lambda: "E-mail" in browser.screen_text(), 60, "the login screen in the tab")
        assert "Demo Admin" not in browser.screen_text()  # the OS user's linked account is not the tab's

        png = await browser.screenshot()  # the page renders: the size asked for, not one flat colour
        width, height, colours = pixels(png)
        assert (width, height) == (WIDTH, HEIGHT)
        assert len(colours) > 8, f"a near-blank page: {len(colours)} colours"
        (tmp_path / "login.png").write_bytes(png)

        await browser.focus_terminal()
        await browser.type(ANA[0])
        await until(lambda: ANA[0] in browser.screen_text(), 30, "the e-mail typed")
        await browser.press("enter")  # the password field takes the focus: the cursor is on its placeholder
        await until(lambda: browser.cursor_at("password"), 30, "the cursor in the password field")
        await browser.type(ANA[1])
        await browser.press("enter")
        await until(lambda: "Pending" in browser.screen_text(), 60, "the pending list")
        assert "Ana Agent" in browser.screen_text() and "Demo Admin" not in browser.screen_text()

        await desk.say(CUSTOMER, "bom dia, quero trocar um produto")
        await until(lambda: "bom dia, quero trocar" in browser.screen_text(), 60,
                    "the customer's ticket in the tab")
        ticket = next(t for t in (await desk.call("ticket.list", {"status": "pending"}))["tickets"]
                      if t["contact_number"] == CUSTOMER)

        await until(lambda: "a Accept" in browser.screen_text(), 30, "the list focused (its keys in the footer)")
        await browser.type("a")  # accept the ticket the list has selected
        ana = await until_async(lambda: accepted(desk, ticket["id"]), "accepted in zingd")
        assert ana["name"] == "Ana Agent"
        await until(lambda: "^f Attach" in browser.screen_text(), 30, "the reply box focused (its keys in the footer)")

        await browser.type("Claro! Pode me mandar o número do pedido?")
        await until(lambda: "número do pedido?" in browser.screen_text(), 30, "the reply typed")
        await browser.press("enter")
        sent = await until_async(lambda: replies(desk, ticket["id"]), "the reply in zingd")
        assert sent == [("Claro! Pode me mandar o número do pedido?", ana["id"])]
    finally:
        await browser.close()


async def accepted(desk, ticket_id: int):
    ticket = await desk.call("ticket.get", {"id": ticket_id})
    if ticket["status"] != "open":
        return None
    return next(u for u in await desk.call("user.list") if u["id"] == ticket["user_id"])


async def replies(desk, ticket_id: int):
    messages = (await desk.call("message.list", {"ticket_id": ticket_id}))["messages"]
    return [(m["body"], m["user_id"]) for m in messages if m["direction"] == "out" and m["user_id"]]


async def until_async(check, what: str, timeout: float = 60.0):
    """``until`` for a condition that is itself a call to zingd."""
    latest = None

    async def poll():
        nonlocal latest
        latest = await check()
        return latest

    deadline = asyncio.get_running_loop().time() + timeout
    while not await poll():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(0.05)
    return latest
