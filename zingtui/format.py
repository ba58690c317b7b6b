"""How times, sizes, names and delivery states read in a narrow terminal: words and glyphs, no colours.

Every function takes ``now`` explicitly so the app's clock (frozen in snapshot
tests) decides what "today" is. Colours belong to app.tcss, so a theme can change them.
"""

from __future__ import annotations

import time
from typing import Any

TICKS: dict[str, tuple[str, str]] = {
    # ack -> (glyph, tone); the chat draws a tone with its component class chat--tick-<tone> (none: plain).
    # Read and played share the blue double tick agents know.
    "queued": ("◷", "quiet"),
    "sent": ("✓", "quiet"),
    "server": ("✓", ""),
    "delivered": ("✓✓", ""),
    "read": ("✓✓", "read"),
    "played": ("✓✓", "read"),
    "failed": ("✗", "failed"),
    "unconfirmed": ("?", "failed"),  # sent, WhatsApp never answered: it may not have arrived
    "waiting": ("◷", "quiet"),  # typed and sent while zingd was unreachable: the console holds it
}


def _day(ts: float) -> tuple[int, int, int]:
    t = time.localtime(ts)
    return t.tm_year, t.tm_mon, t.tm_mday


def clock(ts: float) -> str:
    return time.strftime("%H:%M", time.localtime(ts))


def day_label(ts: float, now: float) -> str:
    """Today / Yesterday / a date: the text of a day separator in the chat."""
    if _day(ts) == _day(now):
        return "Today"
    if _day(ts) == _day(now - 86400):
        return "Yesterday"
    return time.strftime("%a %d %b %Y", time.localtime(ts))


def short_when(ts: float | None, now: float) -> str:
    """A list row's time: the clock today, a date otherwise."""
    if not ts:
        return ""
    return clock(ts) if _day(ts) == _day(now) else time.strftime("%d %b", time.localtime(ts))


def same_day(a: float, b: float) -> bool:
    return _day(a) == _day(b)


def size(n: int | None) -> str:
    if n is None:
        return "? B"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def address(number: str) -> str:
    """A contact's number as people read it: +digits, or "LID …" for a placeholder that WhatsApp
    knows only by its hidden id (it becomes the person's contact once WhatsApp maps it)."""
    return f"LID {number.removesuffix('@lid')}" if number.endswith("@lid") else f"+{number}"


def contact_name(ticket: dict[str, Any]) -> str:
    """The best name a ticket's contact has: saved name, WhatsApp push name, or the number."""
    return ticket.get("contact_name") or ticket.get("contact_push_name") or address(ticket.get("contact_number", "?"))


def variables(ticket: dict[str, Any], agent: str) -> dict[str, str]:
    """The quick-reply variables the console can fill as zingd would; {{protocol}} and {{date}} stay for zingd."""
    name = ticket.get("contact_name") or ticket.get("contact_push_name") or ticket.get("contact_number") or ""
    return {"name": name, "first_name": name.split()[0] if name else "", "number": ticket.get("contact_number") or "",
            "agent": agent, "queue": ticket.get("queue_name") or ""}


def preview(message: dict[str, Any], limit: int = 60) -> str:
    """A message in one short line: its text, a voice note's transcript, or its kind for media without a caption."""
    spoken = message.get("transcript")
    return first_line(message.get("body") or (f"🎤 {spoken}" if spoken else f"[{message.get('type') or 'message'}]"),
                      limit)


def row_preview(ticket: dict[str, Any]) -> str:
    """A list row's last line: for a waiting customer what they wrote last (the last message is often
    zing's own greeting or menu), else the conversation's last message."""
    inbound = ticket.get("last_inbound") if ticket.get("status") == "pending" else None
    return inbound or ticket.get("last_message") or ""


def first_line(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def refetchable(media_error: str | None) -> bool:
    """A media error media.fetch may cure: a failed download or save, not a file over the size
    limit or gone from WhatsApp's servers (zingd/channels/whatsapp/inbound.py words them)."""
    return bool(media_error) and not media_error.startswith(("expired", "not downloaded", "discarded"))


BOT = "🤖 Assistant"  # how a bot's message is signed in the chat, never an agent's name


def bot_state(state: str | None, reason: str = "") -> str:
    """The bot's part in a ticket in a few words: "bot answering", "bot stopped: a human replied",
    "handed over: asked for a person"; "" when the bot never took part."""
    reason = " ".join((reason or "").split())
    if state == "active":
        return "🤖 bot answering"
    if state == "stopped":
        return f"🤖 bot stopped: {reason}" if reason else "🤖 bot stopped"
    if state == "handed_over":
        return f"🤖 handed over: {reason}" if reason else "🤖 handed over"
    return ""
