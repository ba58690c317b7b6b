"""A ticket's service-level target as the console shows it: which target runs, the time left, its tone.

zingd keeps the due times and the breach flags on every ticket view (``first_response_due_at``,
``resolution_due_at``, ``breached_*``); the console only reads them against its clock. The first
response counts until an agent has answered, then the resolution, until the close. The tone is
"late" once the target is missed (flagged, or its due time passed), "close" when less than a fifth of
the queue's target or less than ten minutes are left, else "ok". Kept free of Textual: cheap to test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TICK_S = 15.0  # how often the console redraws the time left (no call: it is the clock that moves)
CLOSE_SHARE = 0.2  # amber below this share of the target ...
CLOSE_S = 600.0  # ... or below ten minutes left
TARGETS = {"first_response": "sla_first_response_s", "resolution": "sla_resolution_s"}
SHORT = {"first_response": "reply", "resolution": "solve"}


@dataclass(frozen=True, slots=True)
class Due:
    target: str  # "first_response" | "resolution"
    left_s: float  # negative: overdue by that much
    tone: str  # "ok" | "close" | "late"

    @property
    def text(self) -> str:
        """"reply in 12m", "solve 1h05m late": a few cells for a list row or a title (words, not an
        emoji clock: terminals disagree on its width)."""
        what = SHORT[self.target]
        if self.tone == "late":
            return f"{what} {duration(-self.left_s)} late" if self.left_s < 0 else f"{what} late"
        return f"{what} in {duration(self.left_s)}"


def running(ticket: dict[str, Any]) -> str | None:
    """The target that counts now: the first response until an agent answered, then the resolution."""
    if ticket.get("status") == "closed":
        return None
    if ticket.get("first_response_at") is None and ticket.get("first_response_due_at") is not None:
        return "first_response"
    if ticket.get("resolution_due_at") is not None:
        return "resolution"
    return None


def target_s(ticket: dict[str, Any], queues: list[dict[str, Any]], target: str) -> float | None:
    """The queue's target for the ticket, in seconds, when the console knows the queue."""
    queue = next((q for q in queues if q.get("id") == ticket.get("queue_id")), None)
    return queue.get(TARGETS[target]) if queue else None


def due(ticket: dict[str, Any], now: float, queues: list[dict[str, Any]] = ()) -> Due | None:
    """The running target's state, or None when the ticket has none."""
    target = running(ticket)
    if target is None:
        return None
    left = ticket[f"{target}_due_at"] - now
    if ticket.get(f"breached_{target}") or left <= 0:
        return Due(target, left, "late")
    whole = target_s(ticket, list(queues), target)
    close = left < CLOSE_S or (whole is not None and left < CLOSE_SHARE * whole)
    return Due(target, left, "close" if close else "ok")


def duration(seconds: float | None) -> str:
    """45s, 12m, 1h05m, 3d04h: the shortest clear form."""
    if seconds is None:
        return "—"
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
