"""The queue screen: tabs and tickets on the left, the conversation and the composer on the right.

It subscribes to the tenant's events before it loads anything, so nothing
falls between a page and the stream; pages and events meet in ``Inbox``.
The ticket actions of ``zingtui.actions`` live in ``TicketActions``.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from zingtui import format
from zingtui.messages import Daemon
from zingtui.model import TAB_BY_KEY, Filter, Inbox
from zingtui.screens.ticket_actions import TicketActions
from zingtui.session import Session
from zingtui.widgets.chat import ChatView
from zingtui.widgets.composer import Composer, Draft
from zingtui.widgets.statusbar import StatusBar
from zingtui.widgets.tabs import Badge, TabBar
from zingtui.widgets.ticket_list import TicketList

PAGE = 200
HISTORY_PAGE = 50
COUNTS_DEBOUNCE_S = 0.3
RECONCILE_EVERY_S = 15.0
CHAT_EVENTS = ("message.created", "message.updated", "message.ack", "note.created")


class Pane(Vertical):
    ALLOW_MAXIMIZE = True


class MainScreen(TicketActions, Screen):
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "focus_list", show=False),
        Binding("question_mark", "app.show_help_panel", "Keys", show=False),
    ]

    tab = reactive("pending")

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.inbox = Inbox(session.me, session.supervisor)
        self.flt = Filter()
        self.current: dict[str, Any] | None = None
        self.queues: list[dict[str, Any]] = []
        self.tags: list[dict[str, Any]] = []
        self.users: dict[int, dict[str, Any]] = {}
        self.connections: dict[int, dict[str, Any]] = {}
        self._loading: dict[str, list[dict[str, Any]]] = {}  # tab -> ticket views that arrived during its page
        self._chat_backlog: list[Daemon.Event] | None = None  # chat events that arrived during a history load
        self._alerts: list[str] = []
        self._counts_timer: Timer | None = None
        self._in_order = asyncio.Lock()  # ticket changes reach zingd in the order the agent made them
        self._keys_state: object = None

    # -- layout -----------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            with Pane(id="side"):
                yield TabBar(id="tabs")
                yield Static("", id="filters")
                yield TicketList(id="tickets", clock=self.app.clock)
            with Pane(id="conversation"):
                yield Static("", id="chat-title")
                yield ChatView(id="chat", namer=self.name_of, clock=self.app.clock)
                yield Composer(id="composer")
        yield Footer()

    @property
    def list(self) -> TicketList:
        return self.query_one(TicketList)

    @property
    def chat(self) -> ChatView:
        return self.query_one(ChatView)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    def on_mount(self) -> None:
        bar = self.query_one(StatusBar)
        bar.user_name = self.session.user.get("name", "")
        bar.role = self.session.user.get("role", "")
        bar.status = self.session.user.get("status", "offline")
        self.composer.default_signature = bool(self.session.user.get("signature"))
        self.query_one("#filters", Static).display = False
        self.chat.clear_chat("Pick a ticket on the left.")
        self.list.focus()
        self.update_tabs()
        self.boot()
        self.set_interval(RECONCILE_EVERY_S, self.reconcile)

    @work(group="boot")
    async def boot(self) -> None:
        await self.app.subscribe(self._on_event)
        await asyncio.gather(self.load_reference(), self.load_counts(), self.load_tab(self.tab, reset=True))
        if self.session.user.get("status") != "online":
            await self.set_status("online")

    def _on_event(self, params: dict[str, Any]) -> None:
        self.post_message(Daemon.Event(params))

    async def load_reference(self) -> None:
        """Numbers, queues, tags, agents and quick replies: what the dialogs offer."""
        call, s = self.app.call, self.session
        numbers = await call("connection.list", quiet=True)
        for c in numbers or []:
            self.connections[c["id"]] = {**c, "reason": c.get("status_reason", "")}
        self.query_one(StatusBar).connections = self.connections
        if s.supports("queue.list"):
            self.queues = await call("queue.list", quiet=True) or []
        if s.supports("tag.list"):
            self.tags = await call("tag.list", quiet=True) or []
        if s.supports("user.directory"):
            self.users = {u["id"]: u for u in await call("user.directory", quiet=True) or []}
        await self.load_replies()

    async def load_replies(self) -> None:
        if self.session.supports("quickreply.list"):
            replies = await self.app.call("quickreply.list", {}, quiet=True)
            if replies is not None:
                self.composer.set_replies(replies)

    # -- tickets ----------------------------------------------------------
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

    def apply_ticket(self, ticket: dict[str, Any], alert: bool = False, follow: bool = False) -> None:
        """A fresh view of a ticket: move it between tabs; with follow, switch to the tab it went to."""
        for arrived in self._loading.values():
            arrived.append(ticket)
        new_pending = alert and self.inbox.index["pending"].get(ticket["id"]) is None
        changed = self.inbox.apply(ticket)
        if new_pending and self.inbox.index["pending"].get(ticket["id"]) is not None:
            self.alert(ticket)
        if self.current is not None and self.current["id"] == ticket["id"]:
            self.current = ticket
            self.show_title()
            self.update_keys()
        if follow:
            self.follow(ticket["id"])
        if self.tab in changed:
            self.show_list()
        self.update_tabs()
        self.schedule_counts()

    def follow(self, ticket_id: int) -> None:
        """Keep a ticket in view: switch to a tab that holds it (the list keeps the open ticket selected)."""
        if self.inbox.index[self.tab].get(ticket_id) is None:
            for tab in self.inbox.tabs:
                if self.inbox.index[tab.key].get(ticket_id) is not None:
                    self.tab = tab.key
                    return
        self.list.select(ticket_id)

    def show_list(self, reset: bool = False) -> None:
        rows = self.inbox.rows(self.tab, self.flt)
        self.list.empty_text = f"No {TAB_BY_KEY[self.tab].title.lower()} tickets" + (
            " match the filter" if self.flt.active else "")
        self.list.show(rows, keep=self.current["id"] if self.current else None, reset=reset)

    def update_tabs(self) -> None:
        bar = self.query_one(TabBar)
        bar.active = self.tab
        bar.badges = tuple(Badge(t, *self.inbox.badge(t)) for t in self.inbox.tabs)

    def watch_tab(self, old: str, new: str) -> None:
        if not self.is_mounted:
            return
        self.update_tabs()
        self.show_list(reset=True)
        if not self.inbox.index[new].loaded:
            self.run_worker(self.load_tab(new, reset=True), group=f"tab-{new}")

    def on_tab_bar_chosen(self, message: TabBar.Chosen) -> None:
        self.tab = message.key

    def on_ticket_list_need_more(self) -> None:
        index = self.inbox.index[self.tab]
        if index.next is not None and self.tab not in self._loading:
            self.run_worker(self.load_tab(self.tab), group=f"tab-{self.tab}")

    def on_ticket_list_highlighted(self, message: TicketList.Highlighted) -> None:
        if message.ticket is not None:
            self.open(message.ticket)

    def alert(self, ticket: dict[str, Any]) -> None:
        """Ring once for a burst of new pending tickets, and name them in one toast."""
        if not self.app.alerts:
            return
        self._alerts.append(format.contact_name(ticket))
        if len(self._alerts) == 1:
            self.set_timer(0.3, self._flush_alerts)

    def _flush_alerts(self) -> None:
        names, self._alerts = self._alerts, []
        self.app.bell()
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        self.notify(", ".join(names[:3]) + more, title="New ticket" if len(names) == 1 else "New tickets")

    # -- the conversation -------------------------------------------------
    def open(self, ticket: dict[str, Any]) -> None:
        same = self.current is not None and self.current["id"] == ticket["id"]
        self.current = ticket
        self.show_title()
        if not same:
            self._chat_backlog = []
            self.load_chat(ticket["id"])
        self.update_keys()

    def update_keys(self) -> None:
        """Redraw the footer only when what applies changed (it rebuilds its widgets each time)."""
        item = self.chat.selected_item
        t = self.current
        state = (t and (t["status"], t.get("user_id")), item and (item.get("_note"), item.get("ack"),
                                                                  bool(item.get("media_path"))))
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    def show_title(self) -> None:
        t = self.current
        if t is None:
            return
        title = Text().append(format.contact_name(t), style="bold")
        title.append(f"  +{t.get('contact_number', '')}", style="dim")
        state = t["status"] + (f" · {t['user_name']}" if t.get("user_name") and t["status"] != "pending" else "")
        for part in (t.get("queue_name"), state, t.get("connection_name") if len(self.connections) > 1 else None):
            if part:
                title.append(f" · {part}")
        for tag in t.get("tags") or ():
            title.append(f" #{tag}", style="#74c0fc")
        self.query_one("#chat-title", Static).update(title)
        agent = self.session.user.get("name", "")
        self.composer.set_target(t["id"], format.contact_name(t), format.variables(t, agent))

    @work(exclusive=True, group="chat")
    async def load_chat(self, ticket_id: int) -> None:
        await asyncio.sleep(0.03)  # holding an arrow key loads only where it stops
        page = await self.app.call("message.list", {"ticket_id": ticket_id, "limit": HISTORY_PAGE})
        notes: list[dict[str, Any]] = []
        if self.session.supports("note.list"):
            notes = await self.app.call("note.list", {"ticket_id": ticket_id}, quiet=True) or []
        if self.current is None or self.current["id"] != ticket_id:
            return
        if page is None:
            self.chat.clear_chat("Could not load this conversation.")
            return
        self.chat.set_history(ticket_id, page["messages"], notes, page["more"])
        backlog, self._chat_backlog = self._chat_backlog or [], None
        for event in backlog:
            self.chat_event(event)
        self.mark_read()

    def on_chat_view_need_older(self, message: ChatView.NeedOlder) -> None:
        self.load_older(message.ticket_id, message.before_id)

    @work(group="older")
    async def load_older(self, ticket_id: int, before_id: int) -> None:
        page = await self.app.call("message.list", {"ticket_id": ticket_id, "before_id": before_id,
                                                    "limit": HISTORY_PAGE})
        if self.chat.ticket_id != ticket_id:
            return
        if page is None:
            self.chat.loading_older = False
            return
        self.chat.prepend(page["messages"], page["more"])

    def chat_event(self, event: Daemon.Event) -> None:
        data = event.data
        if event.type == "message.ack":
            self.chat.set_ack(data["id"], data["ack"], data.get("error"))
        elif event.type == "note.created":
            self.chat.add({**data["note"], "_note": True})
        elif event.type == "message.updated":
            self.chat.update(data["message"])
        else:
            self.chat.add(data["message"])
            if data["message"].get("direction") == "in":
                self.mark_read()
        self.update_keys()

    def mark_read(self) -> None:
        t = self.current
        if (t is not None and t.get("unread") and t["status"] == "open" and t.get("user_id") == self.session.me
                and self.session.supports("message.read")):
            self.run_worker(self.app.call("message.read", {"ticket_id": t["id"]}, quiet=True), group="read")

    def name_of(self, item: dict[str, Any]) -> str:
        if item.get("direction") != "out":
            return format.contact_name(self.current) if self.current else "customer"
        if item.get("from_device"):
            return "Phone"
        uid = item.get("user_id")
        if uid is None:
            return "zing"
        if uid == self.session.me:
            return "You"
        if uid in self.users:
            return self.users[uid]["name"]
        if self.current is not None and self.current.get("user_id") == uid:
            return self.current.get("user_name") or f"Agent {uid}"
        return f"Agent {uid}"

    def on_chat_view_selected(self) -> None:
        self.update_keys()

    # -- events -----------------------------------------------------------
    def on_daemon_event(self, event: Daemon.Event) -> None:
        kind, data = event.type, event.data
        if data.get("ticket"):
            self.apply_ticket(data["ticket"], alert=kind in ("ticket.created", "ticket.updated"))
        if kind in CHAT_EVENTS:
            ticket_id = data.get("ticket_id") or (data.get("message") or data.get("note") or {}).get("ticket_id")
            if self.current is not None and ticket_id == self.current["id"]:
                if self._chat_backlog is not None:
                    self._chat_backlog.append(event)
                elif self.chat.ticket_id == ticket_id:
                    self.chat_event(event)
        elif kind == "connection.updated":
            conn = self.connections.setdefault(data["id"], {"id": data["id"], "name": f"number {data['id']}"})
            conn.update(status=data.get("status"), reason=data.get("reason") or "")
            self.query_one(StatusBar).connections = self.connections
        elif kind == "user.updated":
            user = data.get("user") or {}
            self.users.setdefault(user.get("id"), user).update(user)
            if user.get("id") == self.session.me:
                self.session.user.update(user)
                self.query_one(StatusBar).status = user.get("status", "offline")
        elif kind == "contact.updated":
            self.contact_changed(data.get("contact") or {})
        elif kind == "lagged" and data.get("resync"):
            self.action_reload()
        forward = getattr(self.app.screen, "daemon_event", None)
        if forward is not None and self.app.screen is not self:
            forward(kind, data)

    def contact_changed(self, contact: dict[str, Any]) -> None:
        names = {"contact_name": contact.get("name", ""), "contact_push_name": contact.get("push_name", "")}
        for index in self.inbox.index.values():
            for row in index.rows:
                if row["contact_id"] == contact.get("id"):
                    row.update(names)
        if self.current is not None and self.current["contact_id"] == contact.get("id"):
            self.current.update(names)
            self.show_title()
        self.list.refresh()

    def daemon_state(self, state: str) -> None:
        bar = self.query_one(StatusBar)
        if state == "connected" and bar.link != "connected":
            self.notify("Back in touch with zingd", title="reconnected")
            self.schedule_counts()
        bar.link = state

    # -- composing --------------------------------------------------------
    def on_composer_submitted(self, message: Composer.Submitted) -> None:
        if self.current is None:
            self.notify("Pick a ticket first", severity="warning")
            return
        self.composer.sent()
        self.send(self.current, message.draft)

    @work(group="send")
    async def send(self, ticket: dict[str, Any], draft: Draft) -> None:
        if draft.note:
            note = await self.change("note.create", {"ticket_id": ticket["id"], "body": draft.body})
            if note is None:
                self.composer.restore(draft)
            elif self.chat.ticket_id == ticket["id"]:
                self.chat.add({**note, "_note": True})
            return
        params: dict[str, Any] = {"ticket_id": ticket["id"], "body": draft.body}
        if draft.quoted is not None:
            params["quoted_id"] = draft.quoted["id"]
        if draft.attachment is not None:
            params["media_path"] = str(draft.attachment)
        if draft.signature is not None:
            params["signature"] = draft.signature
        sent = await self.change("message.send", params)
        if sent is None:
            self.composer.restore(draft)
        elif self.chat.ticket_id == ticket["id"]:
            self.chat.add(sent)

    def on_composer_typing(self, message: Composer.Typing) -> None:
        if self.session.supports("message.typing"):
            params = {"ticket_id": message.ticket_id, "composing": message.composing}
            self.run_worker(self.app.call("message.typing", params, quiet=True), group="typing")

    def on_composer_escaped(self) -> None:
        self.list.focus()

    def on_composer_need_replies(self) -> None:
        self.run_worker(self.load_replies(), group="replies", exclusive=True)

    async def set_status(self, status: str) -> None:
        if await self.app.call("user.set_status", {"status": status}) is not None:
            self.session.user["status"] = status
            self.query_one(StatusBar).status = status
