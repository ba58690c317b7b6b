"""The queue pane (left): the tabs, the filter line and the ticket list, and the pages and live views that fill them.

Pages from ``ticket.list`` and ticket views from events meet in ``Inbox``; a
view that arrives while its tab's page is loading is put back on top of the
page, so nothing falls between the two. The pane never opens a ticket itself:
when the cursor lands on another one it posts ``QueuePane.Opened`` and the
screen shows it; the screen tells the pane which ticket is open (``kept``) so
the cursor stays on it as the rows move.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from zingtui import format
from zingtui.model import TAB_BY_KEY, Directory, Filter, Inbox
from zingtui.widgets.queue.tabs import Badge, TabBar
from zingtui.widgets.queue.ticket_list import TicketList

PAGE = 200
COUNTS_DEBOUNCE_S = 0.3
RECONCILE_EVERY_S = 15.0
ALERT_BURST_S = 0.3


class QueuePane(Vertical):
    ALLOW_MAXIMIZE = True

    tab = reactive("pending")

    @dataclass
    class Opened(Message):
        """The cursor is on a different ticket: the screen shows it."""

        ticket: dict[str, Any]

    def __init__(self, inbox: Inbox, directory: Directory, *, clock: Callable[[], float],
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.inbox = inbox
        self.directory = directory
        self.clock = clock
        self.flt = Filter()
        self.kept: int | None = None  # the open ticket: the list keeps its cursor on it
        self._loading: dict[str, list[dict[str, Any]]] = {}  # tab -> ticket views that arrived during its page
        self._alerts: list[str] = []
        self._counts_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield TabBar(id="tabs")
        yield Static("", id="filters")
        yield TicketList(id="tickets", clock=self.clock, queues=lambda: self.directory.queues)

    @property
    def list(self) -> TicketList:
        return self.query_one(TicketList)

    def on_mount(self) -> None:
        self.query_one("#filters", Static).display = False
        self.update_tabs()
        self.set_interval(RECONCILE_EVERY_S, self.reconcile)

    # -- pages ---------------------------------------------------------------
    async def load_tab(self, key: str, reset: bool = False) -> None:
        index = self.inbox.index[key]
        if key in self._loading or (not reset and (not index.loaded or index.next is None)):
            return
        params = {**TAB_BY_KEY[key].params(), **self.flt.params(), "limit": PAGE}
        if not reset:
            params["before"] = index.next
        self._loading[key] = []
        try:
            out = await self.app.call("ticket.list", params)
        finally:
            arrived = self._loading.pop(key)
        if out is None:
            return
        if reset:
            index.clear()
        index.add_page(out["tickets"], out.get("next"))
        for ticket in arrived:  # newer than the page: put them back on top of it
            self.inbox.apply(ticket)
        if key == self.tab:
            self.show_list(reset=reset)
        self.update_tabs()

    async def load_counts(self) -> None:
        out = await self.app.call("ticket.list", {"status": "pending", "limit": 1, "counts": True}, quiet=True)
        if out is not None:
            self.inbox.counts = out.get("counts") or {}
            self.update_tabs()

    def schedule_counts(self) -> None:
        if self._counts_timer is None:
            self._counts_timer = self.set_timer(COUNTS_DEBOUNCE_S, self._counts_due)

    def _counts_due(self) -> None:
        self._counts_timer = None
        self.run_worker(self.load_counts(), group="counts")

    async def reconcile(self) -> None:
        """Catch what events can't tell this agent, e.g. a pending ticket another agent took."""
        await self.load_counts()
        pending = self.inbox.index["pending"]
        server = self.inbox.counts.get("pending", {}).get("count", 0)
        if pending.loaded and pending.next is None and server != len(pending) and not self.flt.active:
            await self.load_tab("pending", reset=True)

    async def reload(self) -> None:
        """Every tab loaded so far (and the one shown), from the top, with the counts."""
        await asyncio.gather(self.load_counts(), *(self.load_tab(key, reset=True)
                                                   for key, index in self.inbox.index.items()
                                                   if index.loaded or key == self.tab))

    # -- live views ------------------------------------------------------------
    def apply(self, ticket: dict[str, Any], alert: bool = False, follow: bool = False) -> None:
        """A fresh view of a ticket: move it between tabs; with follow, switch to the tab it went to."""
        for arrived in self._loading.values():
            arrived.append(ticket)
        new_pending = alert and self.inbox.index["pending"].get(ticket["id"]) is None
        changed = self.inbox.apply(ticket)
        if new_pending and self.inbox.index["pending"].get(ticket["id"]) is not None:
            self.alert(ticket)
        if follow:
            self.follow(ticket["id"])
        if self.tab in changed:
            self.show_list()
        self.update_tabs()
        self.schedule_counts()

    def discard(self, ticket_id: int) -> None:
        """A ticket this agent may no longer see."""
        for index in self.inbox.index.values():
            index.discard(ticket_id)
        self.show_list()
        self.update_tabs()

    def rename_contact(self, contact: dict[str, Any]) -> None:
        names = {"contact_name": contact.get("name", ""), "contact_push_name": contact.get("push_name", "")}
        for index in self.inbox.index.values():
            for row in index.rows:
                if row["contact_id"] == contact.get("id"):
                    row.update(names)
        self.list.refresh()

    def follow(self, ticket_id: int) -> None:
        """Keep a ticket in view: switch to a tab that holds it (the list keeps the open ticket selected)."""
        if self.inbox.index[self.tab].get(ticket_id) is None:
            for tab in self.inbox.tabs:
                if self.inbox.index[tab.key].get(ticket_id) is not None:
                    self.tab = tab.key
                    return
        self.list.select(ticket_id)

    def alert(self, ticket: dict[str, Any]) -> None:
        """Ring once for a burst of new pending tickets, and name them in one toast."""
        if not self.app.alerts:
            return
        self._alerts.append(format.contact_name(ticket))
        if len(self._alerts) == 1:
            self.set_timer(ALERT_BURST_S, self._flush_alerts)

    def _flush_alerts(self) -> None:
        names, self._alerts = self._alerts, []
        self.app.bell()
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        self.notify(", ".join(names[:3]) + more, title="New ticket" if len(names) == 1 else "New tickets")

    @property
    def alerting(self) -> bool:
        """A burst of new tickets is being gathered for one ring."""
        return bool(self._alerts)

    # -- showing -------------------------------------------------------------
    def show_list(self, reset: bool = False, hold: bool = True) -> None:
        """The tab's rows; ``hold`` (not on a tab the agent picked) keeps a ticket that left them open."""
        rows = self.inbox.rows(self.tab, self.flt)
        self.list.empty_text = f"No {TAB_BY_KEY[self.tab].title.lower()} tickets" + (
            " match the filter" if self.flt.active else "")
        self.list.show(rows, keep=self.kept, reset=reset, hold=hold)

    def update_tabs(self) -> None:
        bar = self.query_one(TabBar)
        bar.active = self.tab
        bar.badges = tuple(Badge(t, *self.inbox.badge(t)) for t in self.inbox.tabs)

    def set_filter(self, flt: Filter) -> None:
        """Narrow the lists (the screen reloads them) and say so on the filter line."""
        self.flt = flt
        names = []
        if flt.queue_id is not None:
            names.append(next((q["name"] for q in self.directory.queues if q["id"] == flt.queue_id), "queue"))
        if flt.tag:
            names.append(f"#{flt.tag}")
        if flt.connection_id is not None:
            names.append(self.directory.connections.get(flt.connection_id, {}).get("name", "number"))
        line = self.query_one("#filters", Static)
        line.update(Text(f"▼ {' · '.join(names)}  (f to change)"))
        line.display = flt.active

    def watch_tab(self, old: str, new: str) -> None:
        if not self.is_mounted:
            return
        self.update_tabs()
        self.show_list(reset=True, hold=False)
        if not self.inbox.index[new].loaded:
            self.run_worker(self.load_tab(new, reset=True), group=f"tab-{new}")

    def on_tab_bar_chosen(self, message: TabBar.Chosen) -> None:
        self.tab = message.key

    def on_ticket_list_need_more(self) -> None:
        index = self.inbox.index[self.tab]
        if index.next is not None and self.tab not in self._loading:
            self.run_worker(self.load_tab(self.tab), group=f"tab-{self.tab}")

    def on_ticket_list_highlighted(self, message: TicketList.Highlighted) -> None:
        message.stop()
        if message.ticket is not None:
            self.kept = message.ticket["id"]  # before the screen opens it: a redraw meanwhile keeps it selected
            self.post_message(self.Opened(message.ticket))
