"""The company's WhatsApp numbers (admins): health, and pairing with a live QR code.

A cloud number (Meta's Cloud API) pairs with nothing: its line says what Meta says of it (quality
rating, messaging limit, the latest notice) and whether it is being throttled, and its advice is the
cloud kind's (a new access token, WhatsApp Manager); ``connection.updated`` events keep it current,
those with a ``notice`` (a quality webhook) too. Opening the screen asks zingd for the numbers as they are
now: a throttle comes and goes without an event.

QR codes arrive as ``connection.updated`` events while pairing; each one
replaces the last, drawn with half blocks so a 33-module code fits in 19 lines.
The code's two colours stay here, true black on true white whatever the
theme: a scanner needs that contrast, and a theme must not recolour it.
Everything else is coloured by component classes in app.tcss.
"""

from __future__ import annotations

from typing import Any, ClassVar

import segno
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

import time

from zingtui.screens.dialogs import Dialog

DARK, LIGHT = "#000000", "#ffffff"


def qr_text(data: str) -> Text:
    """A scannable QR code: dark modules on a light quiet zone, two module rows per line."""
    matrix = [list(row) for row in segno.make(data, error="l", micro=False).matrix_iter(scale=1, border=2)]
    if len(matrix) % 2:
        matrix.append([0] * len(matrix[0]))
    text = Text()
    for top, bottom in zip(matrix[::2], matrix[1::2]):
        for a, b in zip(top, bottom):
            text.append("▀", style=f"{DARK if a else LIGHT} on {DARK if b else LIGHT}")
        text.append("\n")
    text.rstrip()
    return text


def advice_for(connection: dict[str, Any]) -> str:
    """What an admin can do about a number in a final state (locked, banned…), in its kind's words, as
    zingd words it (``zingd.services.connections.advice``): live states have none."""
    from zingd.services.connections import advice  # the daemon's own table; imported when first needed

    return advice({"kind": connection.get("kind") or "", "status": connection.get("status") or "",
                   "id": connection["id"]})


def apply_update(connection: dict[str, Any], data: dict[str, Any]) -> None:
    """A ``connection.updated`` event onto the console's copy of a number: its state, and Meta's notice."""
    connection.update(status=data.get("status"), reason=data.get("reason") or "")
    notice = data.get("notice")
    if notice:
        cloud = dict(connection.get("cloud") or {})
        for key in ("quality_rating", "messaging_limit"):
            if notice.get(key):
                cloud[key] = notice[key]
        cloud["last_notice"] = notice
        connection["cloud"] = cloud


QUALITY = {"GREEN": "high", "YELLOW": "medium", "RED": "low"}


def cloud_line(connection: dict[str, Any], now: float) -> tuple[str, bool]:
    """"quality GREEN (high) · limit TIER_1K · Acme Store · Meta: FLAGGED": what Meta says of a cloud
    number, and whether it needs an eye (quality not green, a throttle)."""
    cloud = connection.get("cloud") or {}
    quality = cloud.get("quality_rating") or ""
    bits = [f"quality {quality} ({QUALITY[quality]})" if quality in QUALITY else f"quality {quality or 'unknown'}",
            f"limit {cloud.get('messaging_limit') or 'unknown'}"]
    if cloud.get("verified_name"):
        bits.append(cloud["verified_name"])
    event = (cloud.get("last_notice") or {}).get("event")
    if event:
        bits.append(f"Meta: {event}")
    throttled = throttle_text((connection.get("health") or {}).get("throttled"), now)
    if throttled:
        bits.append(throttled)
    return " · ".join(bits), bool(throttled) or quality in ("YELLOW", "RED")


def throttle_text(throttled: Any, now: float) -> str:
    """The channel's word that Meta throttles the number: a time it lasts until, or its reason."""
    if not throttled:
        return ""
    if isinstance(throttled, dict):
        until, reason = throttled.get("until"), throttled.get("reason") or ""
    elif isinstance(throttled, (int, float)):
        until, reason = throttled, ""
    else:
        until, reason = None, str(throttled)
    if isinstance(until, (int, float)) and until <= now:
        return ""
    when = f" until {time.strftime('%H:%M', time.localtime(until))}" if isinstance(until, (int, float)) else ""
    return f"throttled{when}" + (f": {reason}" if reason else "")


class ConnectionsScreen(Dialog):
    TITLE_TEXT = "WhatsApp numbers"
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        f"connections--{part}" for part in ("up", "down", "name", "detail", "reason", "paired", "hint", "code",
                                            "cloud", "warn")}
    BINDINGS: ClassVar[list[BindingType]] = [Binding("p", "pair", "Pair", id="connections.pair"),
                                             Binding("r", "restart", "Restart", id="connections.restart")]

    def __init__(self, connections: list[dict[str, Any]]) -> None:
        super().__init__()
        self.connections = connections
        self.pairing: int | None = None
        self.loaded = False  # the fresh list from zingd is in
        self._throttle_timer: Timer | None = None

    def body(self) -> ComposeResult:
        yield OptionList(id="numbers")
        yield Static("", id="pairing")
        yield Static("p pair · r restart · esc close", classes="hint")

    def on_mount(self) -> None:
        self.show()
        self.reload()

    @work(group="numbers", exclusive=True)
    async def reload(self) -> None:
        """The numbers as zingd has them now (the copies the main screen keeps are updated in place)."""
        fresh = await self.app.call("connection.list", quiet=True)
        known = {c["id"]: c for c in self.connections}
        for row in fresh or ():
            row = {**row, "reason": row.get("status_reason", "")}
            if row["id"] in known:
                known[row["id"]].update(row)
            else:
                self.connections.append(row)
        self.loaded = True
        self.show()

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"connections--{part}", partial=True)

    def show(self) -> None:
        numbers = self.query_one("#numbers", OptionList)
        keep = numbers.highlighted
        numbers.clear_options()
        for c in self.connections:
            ok = c.get("status") == "connected"
            line = Text().append("● " if ok else "✗ ", style=self._style("up" if ok else "down"))
            line.append(f"{c['name']}", style=self._style("name"))
            detail = f"  {c.get('kind', '')}  {c.get('phone') or ''}  {c.get('status')}"
            line.append(detail, style=self._style("detail"))
            if c.get("reason"):
                line.append(f"  {c['reason']}", style=self._style("reason"))
            if c.get("kind") == "cloud":
                words, warn = cloud_line(c, self.app.clock())
                line.append(f"\n    {words}", style=self._style("warn" if warn else "cloud"))
            advice = advice_for(c)
            if advice:
                line.append(f"\n    → {advice}", style=self._style("hint"))
            numbers.add_option(Option(line))
        if self.connections:
            numbers.highlighted = keep if keep is not None and keep < len(self.connections) else 0
        self._redraw_when_throttles_end()

    def _redraw_when_throttles_end(self) -> None:
        """A throttle ends without an event: one local timer at the earliest end redraws the list."""
        now = self.app.clock()
        ends = [t["until"] for c in self.connections
                if isinstance(t := (c.get("health") or {}).get("throttled"), dict)
                and isinstance(t.get("until"), (int, float)) and t["until"] > now]
        if self._throttle_timer is not None:
            self._throttle_timer.stop()
            self._throttle_timer = None
        if ends:
            self._throttle_timer = self.set_timer(min(ends) - now + 0.5, self.show)

    @property
    def current(self) -> dict[str, Any] | None:
        index = self.query_one("#numbers", OptionList).highlighted
        return self.connections[index] if index is not None and index < len(self.connections) else None

    def daemon_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind != "connection.updated":
            return
        for c in self.connections:
            if c["id"] == data.get("id"):
                apply_update(c, data)  # the main screen's copy too, often the same dict: it changes nothing twice
        self.show()
        if data.get("id") == self.pairing:
            self.show_pairing(data)

    def show_pairing(self, data: dict[str, Any]) -> None:
        panel = self.query_one("#pairing", Static)
        if data.get("status") == "connected":
            panel.update(Text("Paired: the number is connected.", style=self._style("paired")))
            self.pairing = None
        elif data.get("qr"):
            code = qr_text(data["qr"])
            code.append("\nScan with WhatsApp › Linked devices › Link a device", style=self._style("hint"))
            panel.update(code)
        elif data.get("pair_code"):
            panel.update(Text(f"Pairing code: {data['pair_code']}", style=self._style("code")))

    def action_pair(self) -> None:
        if self.current is not None and self.current.get("kind") == "cloud":
            self.notify("A cloud number doesn't pair: it connects with its access token "
                        f"(zingctl connections update {self.current['id']} --access-token -)", severity="warning")
        elif self.current is not None:
            self.pair(self.current["id"])

    @work(group="pair")
    async def pair(self, connection_id: int) -> None:
        self.query_one("#pairing", Static).update("Asking the number for a QR code…")
        out = await self.app.call("connection.pair", {"id": connection_id})
        if out is None:
            self.query_one("#pairing", Static).update("")
            return
        self.pairing = connection_id
        self.show_pairing(out)

    def action_restart(self) -> None:
        if self.current is not None:
            self.restart(self.current["id"])

    @work(group="pair")
    async def restart(self, connection_id: int) -> None:
        if await self.app.call("connection.restart", {"id": connection_id}) is not None:
            self.notify("Restarting the number")
