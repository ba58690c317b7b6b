"""The top line: who you are and your status, the health of each number, the daemon link.

Its colours are component classes styled in app.tcss (``status-bar--online``, ``status-bar--down``...).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

STATUS_GLYPH = {"online": "●", "away": "◐", "offline": "○"}
HEALTHY = ("connected",)


class StatusBar(Widget):
    """One line; the numbers that are down are named with the reason, in the theme's error colour."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        f"status-bar--{part}" for part in (
            "brand", "name", "role", "online", "away", "offline", "reconnecting", "up", "down")
    }

    user_name = reactive("")
    role = reactive("")
    status = reactive("offline")
    link = reactive("connected")
    connections: reactive[dict[int, dict[str, Any]]] = reactive(dict, always_update=True)

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"status-bar--{part}", partial=True)

    def render(self) -> Text:
        text = Text().append(" zing ", style=self._style("brand"))
        text.append(f" {self.user_name}", style=self._style("name"))
        if self.role and self.role != "agent":
            text.append(f" ({self.role})", style=self._style("role"))
        known = self.status in STATUS_GLYPH
        text.append(f" {STATUS_GLYPH.get(self.status, '?')} {self.status}",
                    style=self._style(self.status) if known else "")
        if self.link != "connected":
            # whole, not partial: its text colour is the theme's contrast for its background
            text.append("  ⟳ reconnecting…", style=self.get_component_rich_style("status-bar--reconnecting"))
        up = [c for c in self.connections.values() if c.get("status") in HEALTHY]
        down = [c for c in self.connections.values() if c.get("status") not in HEALTHY]
        if up:
            text.append(f"  ● {up[0]['name'] if len(up) == 1 else f'{len(up)} numbers'}", style=self._style("up"))
        for conn in down:
            reason = conn.get("reason") or conn.get("status")
            text.append(f"  ✗ {conn['name']}: {reason}", style=self._style("down"))
        text.truncate(self.size.width, overflow="ellipsis")
        return text
