"""A headless Chromium driven over the DevTools protocol: just what the served-console test needs.

Debian's ``chromium`` package, started with ``--remote-debugging-port=0`` (it writes the port it
picked to DevToolsActivePort in its profile), one page, commands and events over a WebSocket
(aiohttp, already a dependency). No Playwright: it downloads its own browsers from a CDN.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import time
import unicodedata
from pathlib import Path
from typing import Any

import aiohttp

# What xterm.js turns into keystrokes: a printable character's text, or a named key's code.
KEYS = {"enter": ("Enter", "Enter", 13, "\r"), "tab": ("Tab", "Tab", 9, "\t"), "escape": ("Escape", "Escape", 27, "")}
# Escape sequences: a CSI (group 1: its parameters, group 2: its final byte), an OSC, a DCS/PM/APC, a 2-byte one.
ESCAPE = re.compile(r"\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[@-Z\\-_])")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One Chromium process and its first page; ``screen_text`` is what the page's terminal was sent."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 800) -> None:
        self.profile, self.width, self.height = profile, width, height
        self.proc: subprocess.Popen | None = None
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        self.received = bytearray()  # the terminal output the page's WebSocket got, as sent

    async def start(self, timeout: float = 60.0) -> Browser:
        binary = chromium()
        assert binary, "no chromium on PATH"
        self.profile.mkdir(parents=True, exist_ok=True)
        (self.profile / "DevToolsActivePort").unlink(missing_ok=True)  # a used profile keeps the last port
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
             f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=open(self.profile / "chromium.log", "wb"))
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.profile / "chromium.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"chromium did not start (exit {self.proc.poll()}):\n{log}")
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        self.http = aiohttp.ClientSession()
        async with self.http.get(f"http://127.0.0.1:{port}/json/list") as r:
            pages = [t for t in await r.json(content_type=None) if t["type"] == "page"]
        self.ws = await self.http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        await self.send("Network.enable")
        await self.send("Page.enable")
        await self.send("Emulation.setDeviceMetricsOverride", {  # the page's size, whatever the window's frame
            "width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        return self

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
            elif data.get("method") == "Network.webSocketFrameReceived":
                frame = data["params"]["response"]
                if frame["opcode"] == 2:
                    self.received += base64.b64decode(frame["payloadData"])

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        rid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        await self.ws.send_json({"id": rid, "method": method, "params": params or {}})
        reply = await asyncio.wait_for(fut, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        out = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return out["result"].get("value")

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    def cells(self) -> dict[tuple[int, int], tuple[str, str]]:
        """The page's terminal, (row, column) -> (character, its background colour), from what it was
        sent: Textual draws with absolute cursor moves (CSI row;col H), SGR colours and text."""
        cells: dict[tuple[int, int], tuple[str, str]] = {}
        row = col = 1
        background = ""
        text = bytes(self.received).decode("utf-8", "replace")
        pos = 0
        for m in ESCAPE.finditer(text + "\x1b[H"):  # a last, harmless move flushes the tail
            for ch in text[pos:m.start()]:
                if ch == "\n":
                    row, col = row + 1, 1
                elif ch >= " ":
                    cells[row, col] = (ch, background)
                    col += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
            pos = m.end()
            if m.group(2) == "H":
                parts = (m.group(1) or "").split(";")
                row, col = int(parts[0] or 1), int(parts[1] or 1) if len(parts) > 1 else 1
            elif m.group(2) == "J" and m.group(1) in ("2", "3"):
                cells.clear()
            elif m.group(2) == "m":
                background = _background_after(m.group(1) or "0", background)
        return cells

    def screen(self) -> list[str]:
        """The terminal as lines of text."""
        cells = self.cells()
        width = max((c for _, c in cells), default=0)
        rows = max((r for r, _ in cells), default=0)
        return ["".join(cells.get((r, c), (" ", ""))[0] for c in range(1, width + 1)) for r in range(1, rows + 1)]

    def screen_text(self) -> str:
        return "\n".join(self.screen())

    def cursor_at(self, word: str) -> bool:
        """Whether Textual's cursor sits on the first letter of ``word`` (an empty input's placeholder,
        focused): that letter drawn on another background than the next."""
        cells = self.cells()
        for r, line in enumerate(self.screen(), start=1):
            c = line.find(word) + 1
            if c and cells[r, c][1] != cells.get((r, c + 1), ("", ""))[1]:
                return True
        return False

    async def focus_terminal(self) -> None:
        """Keys go where xterm.js listens: its hidden textarea (a user's first click puts the focus there)."""
        assert await self.evaluate("(() => { const t = document.querySelector('.xterm-helper-textarea');"
                                   " if (t) t.focus(); return t !== null && document.activeElement === t; })()")

    async def type(self, text: str) -> None:
        for ch in text:
            await self.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": ch, "text": ch})
            await self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": ch})

    async def press(self, name: str) -> None:
        key, code, vk, text = KEYS[name]
        await self.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "code": code, "text": text,
                                                   "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk})
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code,
                                                   "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk})

    async def screenshot(self) -> bytes:
        return base64.b64decode((await self.send("Page.captureScreenshot", {"format": "png"}))["data"])

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _background_after(params: str, background: str) -> str:
    """The background colour after an SGR sequence's parameters ("" for the default)."""
    codes = params.split(";")
    i = 0
    while i < len(codes):
        code = int(codes[i] or 0)
        if code in (38, 48, 58):
            n = 5 if i + 1 < len(codes) and codes[i + 1] == "2" else 3
            if code == 48:
                background = ";".join(codes[i:i + n])
            i += n
            continue
        if code in (0, 49):
            background = ""
        i += 1
    return background
