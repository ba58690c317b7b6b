"""A cloud ticket's 24-hour window as the console shows it: the time left, its tone, what the agent may send.

WhatsApp's Cloud API takes free-form messages only within 24 hours of the customer's last message;
after that only an approved template. zingd puts the moment on every ticket view of a cloud number
(``window_closes_at``: 0 when the customer never wrote; absent or None on other kinds, which have no
window); the console only reads it against its clock, as ``zingtui.sla`` does the targets, so the
header counts down with no call. The tone is "close" in the last hour, "closed" once it has passed.
Kept free of Textual: cheap to test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zingtui.sla import duration

CLOSE_S = 3600.0  # amber in the window's last hour


@dataclass(frozen=True, slots=True)
class Window:
    left_s: float  # 0 or less: closed
    tone: str  # "ok" | "close" | "closed"

    @property
    def closed(self) -> bool:
        return self.tone == "closed"

    @property
    def text(self) -> str:
        """"window closes in 3h20m", "window closed: templates only"."""
        if self.closed:
            return "window closed: templates only"
        return f"window closes in {duration(self.left_s)}"


def of(ticket: dict[str, Any] | None, now: float) -> Window | None:
    """The ticket's window, or None when its number has none (not a cloud number)."""
    closes = (ticket or {}).get("window_closes_at")
    if closes is None:
        return None
    left = closes - now
    if left <= 0:
        return Window(left, "closed")
    return Window(left, "close" if left < CLOSE_S else "ok")


def closed(ticket: dict[str, Any] | None, now: float) -> bool:
    """Only a template may go to this customer now."""
    w = of(ticket, now)
    return w is not None and w.closed
