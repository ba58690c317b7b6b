"""The console's copy of the queues: which tickets each tab holds, newest activity first.

Pages from ``ticket.list`` and live events land here in any order; a row is
replaced only by a view at least as new (``updated_at``), so a slow page can't
undo a fresher event. Kept free of Textual so it is cheap to test.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

Ticket = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Tab:
    key: str
    title: str
    short: str
    status: str
    mine: bool = False
    supervisors: bool = False

    def params(self) -> dict[str, Any]:
        return {"status": self.status, "mine": self.mine}

    def holds(self, ticket: Ticket, me: int) -> bool:
        return ticket.get("status") == self.status and (not self.mine or ticket.get("user_id") == me)


TABS = (
    Tab("pending", "Pending", "Pend", "pending"),
    Tab("mine", "Open", "Open", "open", mine=True),
    Tab("closed", "Closed", "Closed", "closed"),
    Tab("all", "All", "All", "open", supervisors=True),
)
TAB_BY_KEY = {tab.key: tab for tab in TABS}


@dataclass(frozen=True, slots=True)
class Filter:
    """What the agent narrowed the lists to; sent to ticket.list and matched against live events."""

    queue_id: int | None = None
    connection_id: int | None = None
    tag: str | None = None

    def params(self) -> dict[str, Any]:
        pairs = (("queue_id", self.queue_id), ("connection_id", self.connection_id), ("tag", self.tag))
        return {k: v for k, v in pairs if v is not None}

    def matches(self, ticket: Ticket) -> bool:
        return (
            (self.queue_id is None or ticket.get("queue_id") == self.queue_id)
            and (self.connection_id is None or ticket.get("connection_id") == self.connection_id)
            and (self.tag is None or self.tag in (ticket.get("tags") or ()))
        )

    @property
    def active(self) -> bool:
        return self != Filter()


@dataclass
class Assistant:
    """The company's assistant as ``assistant.status`` last said: can the copilot answer (a chat
    model is set), and if not, the reason an agent can pass on to their admin."""

    chat: bool = False
    reason: str = ""

    def update(self, status: dict[str, Any]) -> None:
        self.chat = bool(status.get("chat"))
        self.reason = status.get("reason") or ""

    @property
    def off(self) -> str:
        """Why the copilot keys do nothing: "the assistant is off: <reason>"."""
        reason = self.reason.strip()
        if reason.lower().startswith("the assistant is off"):
            return reason
        return f"the assistant is off: {reason}" if reason else "the assistant is off"


@dataclass
class Directory:
    """Who and what the console names and offers: numbers, queues, tags, agents.

    Loaded once by the screen, kept current by events, and shared by the panes
    (names in the chat and on the filter line) and the dialogs (transfer, tag, filter).
    ``bots`` is the bot's part in each ticket as its ``bot.updated`` events told it
    (``{"state", "reason"}``); ``assistant`` is whether the copilot can answer.
    """

    connections: dict[int, dict[str, Any]] = field(default_factory=dict)
    queues: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    bots: dict[int, dict[str, str]] = field(default_factory=dict)
    assistant: Assistant = field(default_factory=Assistant)


def _key(ticket: Ticket) -> tuple[float, int]:
    return (-(ticket.get("last_message_at") or 0.0), -ticket["id"])


@dataclass
class TicketIndex:
    """One tab's tickets in list order; upsert and discard cost a bisect and a memmove."""

    rows: list[Ticket] = field(default_factory=list)
    _keys: list[tuple[float, int]] = field(default_factory=list)
    _by_id: dict[int, Ticket] = field(default_factory=dict)
    next: list | None = None
    loaded: bool = False

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, ticket_id: int) -> Ticket | None:
        return self._by_id.get(ticket_id)

    def upsert(self, ticket: Ticket) -> bool:
        old = self._by_id.get(ticket["id"])
        if old is not None:
            if (ticket.get("updated_at") or 0) < (old.get("updated_at") or 0):
                return False
            self._drop(old)
        key = _key(ticket)
        at = bisect_left(self._keys, key)
        self._keys.insert(at, key)
        self.rows.insert(at, ticket)
        self._by_id[ticket["id"]] = ticket
        return True

    def discard(self, ticket_id: int) -> bool:
        old = self._by_id.get(ticket_id)
        if old is None:
            return False
        self._drop(old)
        return True

    def _drop(self, old: Ticket) -> None:
        at = bisect_left(self._keys, _key(old))
        del self._keys[at], self.rows[at]
        del self._by_id[old["id"]]

    def clear(self) -> None:
        self.rows.clear()
        self._keys.clear()
        self._by_id.clear()
        self.next = None
        self.loaded = False

    def add_page(self, tickets: list[Ticket], next_cursor: list | None) -> None:
        for ticket in tickets:
            self.upsert(ticket)
        self.next = next_cursor
        self.loaded = True

    def unread(self) -> int:
        return sum(1 for row in self.rows if row.get("unread"))


class Inbox:
    """Every tab's index, kept consistent as ticket views arrive."""

    def __init__(self, me: int, supervisor: bool) -> None:
        self.me = me
        self.supervisor = supervisor
        self.tabs = [tab for tab in TABS if supervisor or not tab.supervisors]
        self.index = {tab.key: TicketIndex() for tab in self.tabs}
        self.counts: dict[str, dict[str, int]] = {}

    def apply(self, ticket: Ticket) -> set[str]:
        """Put a fresh ticket view where it belongs (and nowhere else); the tabs that changed."""
        changed = set()
        for tab in self.tabs:
            index = self.index[tab.key]
            if tab.holds(ticket, self.me):
                if index.upsert(ticket):
                    changed.add(tab.key)
            elif index.discard(ticket["id"]):
                changed.add(tab.key)
        return changed

    def find(self, ticket_id: int) -> Ticket | None:
        for index in self.index.values():
            row = index.get(ticket_id)
            if row is not None:
                return row
        return None

    def rows(self, tab: str, flt: Filter) -> list[Ticket]:
        rows = self.index[tab].rows
        return [r for r in rows if flt.matches(r)] if flt.active else rows

    def badge(self, tab: Tab) -> tuple[int | None, int, bool]:
        """(count, unread, more to load) for a tab label; no count where the server gives none (closed).

        The server counts what the caller sees: for an agent the open count is "mine", for a
        supervisor it is everyone's ("All"), so a supervisor's "Open" counts the rows loaded.
        """
        index = self.index[tab.key]
        server = {"pending": "pending", "all": "open", "mine": None if self.supervisor else "open"}.get(tab.key)
        if server is not None:
            c = self.counts.get(server, {})
            return c.get("count", len(index)), c.get("unread", index.unread()), False
        if tab.key == "mine":
            return len(index), index.unread(), index.next is not None
        return None, 0, False
