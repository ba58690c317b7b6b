"""The top line: who you are and your status, the health of each number, the daemon link."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

STATUS_STYLE = {"online": ("●", "bold green"), "away": ("◐", "bold yellow"), "offline": ("○", "dim")}
HEALTHY = ("connected",)


class StatusBar(Widget):
    """One line; the numbers that are down are named in red with the reason."""

    DEFAULT_CSS = "StatusBar { height: 1; }"

    user_name = reactive("")
    role = reactive("")
    status = reactive("offline")
    link = reactive("connected")
    connections: reactive[dict[int, dict[str, Any]]] = reactive(dict, always_update=True)

    def render(self) -> Text:
        text = Text().append(" zing ", style="bold reverse")
        glyph, style = STATUS_STYLE.get(self.status, ("?", ""))
        text.append(f" {self.user_name}", style="bold")
        if self.role and self.role != "agent":
            text.append(f" ({self.role})", style="dim")
        text.append(f" {glyph} {self.status}", style=style)
        if self.link != "connected":
            text.append("  ⟳ reconnecting…", style="bold black on yellow")
        up = [c for c in self.connections.values() if c.get("status") in HEALTHY]
        down = [c for c in self.connections.values() if c.get("status") not in HEALTHY]
        if up:
            text.append(f"  ● {up[0]['name'] if len(up) == 1 else f'{len(up)} numbers'}", style="green")
        for conn in down:
            reason = conn.get("reason") or conn.get("status")
            text.append(f"  ✗ {conn['name']}: {reason}", style="bold red")
        text.truncate(self.size.width, overflow="ellipsis")
        return text
