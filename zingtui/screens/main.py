"""The queue screen: the queue pane on the left, the conversation pane on the right, the status line on top.

The screen is where the parts meet: it owns the session and the directory
(numbers, queues, tags, agents) and hands them to the panes, routes zingd's
events to the part they concern, and opens the ticket the queue pane picks.
It subscribes to the tenant's events before it loads anything, so nothing
falls between a page and the stream. What an agent does to a ticket (every
``action_*`` of ``zingtui.actions``) lives in ``TicketActions``, and what the
assistant does for them (suggest, rewrite, summarize, propose tags) in ``CopilotActions``.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from zingtui.messages import Daemon
from zingtui.model import Directory, Filter, Inbox
from zingtui.screens.connections import apply_update
from zingtui.screens.copilot_actions import CopilotActions
from zingtui.screens.manage import ManageScreen
from zingtui.screens.settings import SettingsScreen
from zingtui.screens.supervisor import NEEDS_ROLE, SupervisorScreen
from zingtui.screens.ticket_actions import TicketActions
from zingtui.session import Session
from zingtui.widgets.conversation.chat import ChatView
from zingtui.widgets.conversation.composer import Composer
from zingtui.widgets.conversation.pane import CHAT_EVENTS, ConversationPane
from zingtui.widgets.queue.pane import QueuePane
from zingtui.widgets.queue.ticket_list import TicketList
from zingtui.widgets.statusbar import StatusBar


# The events that change what the dialogs offer (``MainScreen.reference_event``).
REFERENCE_EVENTS = frozenset({"tag.created", "tag.updated", "tag.deleted", "queue.created", "queue.updated",
                              "queue.deleted", "quickreply.created", "quickreply.updated", "quickreply.deleted",
                              "user.created"})


class MainScreen(TicketActions, CopilotActions, Screen):
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "focus_list", show=False, tooltip="Back to the ticket list", id="main.focus_list"),
        Binding("question_mark", "keys", "Keys", show=False, tooltip="Show every key that works here",
                id="main.keys"),
        Binding("d", "manage", "Desk", tooltip="Your desk: quick replies and your scheduled messages",
                id="main.manage"),
        Binding("e", "settings", "Settings", tooltip="The company's settings: see, change, clear (admins)",
                id="main.settings"),
        Binding("v", "supervisor", "Supervise", show=False, tooltip="Live panel and charts: agents, queues, numbers "
                "(supervisors)", id="main.supervisor"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.directory = Directory()
        self._in_order = asyncio.Lock()  # ticket changes reach zingd in the order the agent made them
        # Made here, not in compose: what they hold (the inbox, the open ticket) can be read before they mount.
        self.queue = QueuePane(Inbox(session.me, session.supervisor), self.directory, clock=self.app.clock,
                               id="side")
        self.conversation = ConversationPane(session, self.directory, self.change, clock=self.app.clock,
                                             id="conversation")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            yield self.queue
            yield self.conversation
        yield Footer()

    # -- the parts -------------------------------------------------------------
    @property
    def inbox(self) -> Inbox:
        return self.queue.inbox

    @property
    def list(self) -> TicketList:
        return self.queue.list

    @property
    def chat(self) -> ChatView:
        return self.conversation.chat

    @property
    def composer(self) -> Composer:
        return self.conversation.composer

    @property
    def tab(self) -> str:
        return self.queue.tab

    @property
    def current(self) -> dict[str, Any] | None:
        """The open ticket."""
        return self.conversation.ticket

    def on_mount(self) -> None:
        if not (self.is_attached and self.queue.is_attached and self.conversation.is_attached):
            return  # the app is leaving while the screen mounts: its parts never came
        bar = self.query_one(StatusBar)
        bar.user_name = self.session.user.get("name", "")
        bar.role = self.session.user.get("role", "")
        bar.status = self.session.user.get("status", "offline")
        self.list.focus()
        self.boot()

    @work(group="boot")
    async def boot(self) -> None:
        await self.app.subscribe(self._on_event)
        queue = self.queue
        await asyncio.gather(self.load_directory(), queue.load_counts(), queue.load_tab(queue.tab, reset=True))
        if self.session.user.get("status") != "online":
            await self.set_status("online")

    def _on_event(self, params: dict[str, Any]) -> None:
        self.post_message(Daemon.Event(params))

    async def load_directory(self) -> None:
        """Numbers, queues, tags, agents and quick replies: what the dialogs offer."""
        call, s, d = self.app.call, self.session, self.directory
        numbers = await call("connection.list", quiet=True)
        for c in numbers or []:
            d.connections[c["id"]] = {**c, "reason": c.get("status_reason", "")}
        self.query_one(StatusBar).connections = d.connections
        if s.supports("queue.list"):
            d.queues = await call("queue.list", quiet=True) or []
        if s.supports("tag.list"):
            d.tags = await call("tag.list", quiet=True) or []
        if s.supports("user.directory"):
            d.users = {u["id"]: u for u in await call("user.directory", quiet=True) or []}
        if s.supports("assistant.status"):
            await self.load_assistant()
        await self.conversation.load_replies()

    def reference_event(self, kind: str, data: dict[str, Any]) -> None:
        """A tag, queue, quick reply or colleague changed while the console is open: the dialogs
        (tag, transfer, filter, the composer's / menu) offer the list as it is now."""
        d = self.directory
        thing, _, change = kind.partition(".")
        if thing == "quickreply":
            self.run_worker(self.conversation.load_replies(), group="replies", exclusive=True)
        elif thing == "user":
            user = data["user"]
            if user.get("enabled", 1):
                d.users[user["id"]] = user
        else:  # a tag or a queue: data[thing] is the row as committed
            field = "tags" if thing == "tag" else "queues"
            row, rows = data[thing], getattr(d, field)
            old = next((r for r in rows if r["id"] == row["id"]), {})
            rows = [r for r in rows if r["id"] != row["id"]]
            if change != "deleted":
                rows.append({**old, **row})
            setattr(d, field, sorted(rows, key=lambda r: r["name"] if thing == "tag" else r["id"]))

    def action_manage(self) -> None:
        self.app.push_screen(ManageScreen(self.session))

    def action_supervisor(self) -> None:
        """Supervisors and up; anyone else is told why nothing opens (the key is in the palette for all)."""
        if not self.session.supervisor:
            self.notify(NEEDS_ROLE, title="supervisors only", severity="warning")
        elif not self.session.supports("report.live"):
            self.notify("this zingd has no report.live yet", severity="error")
        else:
            self.app.push_screen(SupervisorScreen(self.session))

    def action_settings(self) -> None:
        """Admins only: check_action hides the key from the others, the palette asks it too."""
        self.app.push_screen(SettingsScreen())

    # -- between the parts -----------------------------------------------------
    def on_queue_pane_opened(self, message: QueuePane.Opened) -> None:
        """The row as the inbox has it now: events that came after the cursor moved (the routing's
        ticket.updated, with the queue and its due times) must not be undone by the older view."""
        self.open(self.inbox.find(message.ticket["id"]) or message.ticket)

    def open(self, ticket: dict[str, Any]) -> None:
        self.queue.kept = ticket["id"]
        self.conversation.open(ticket)

    def apply_ticket(self, ticket: dict[str, Any], alert: bool = False, follow: bool = False) -> None:
        """A fresh view of a ticket, for both panes; with follow, the list switches to the tab it went to."""
        self.conversation.refresh_ticket(ticket)
        self.queue.apply(ticket, alert=alert, follow=follow)

    def set_filter(self, flt: Filter) -> None:
        self.queue.set_filter(flt)
        self.action_reload()

    def on_composer_escaped(self) -> None:
        self.list.focus()

    # -- zingd -------------------------------------------------------------------
    def on_daemon_event(self, event: Daemon.Event) -> None:
        kind, data = event.type, event.data
        if data.get("ticket"):
            self.apply_ticket(data["ticket"], alert=kind in ("ticket.created", "ticket.updated"))
            if data.get("merged_into") and self.conversation.shows(data["ticket"]["id"]):
                self.follow_merge(data["merged_into"])
        if kind in CHAT_EVENTS:
            self.conversation.event(event)
        elif kind == "bot.updated":
            self.conversation.bot_event(data)
        elif kind == "assistant.updated" and self.session.supports("assistant.status"):
            self.run_worker(self.load_assistant(), group="assistant", exclusive=True)  # an admin changed it
        elif kind == "connection.updated":
            connections = self.directory.connections
            conn = connections.setdefault(data["id"], {"id": data["id"], "name": f"number {data['id']}"})
            apply_update(conn, data)
            self.query_one(StatusBar).connections = connections
        elif kind in REFERENCE_EVENTS:
            self.reference_event(kind, data)
        elif kind == "user.updated":
            user = data.get("user") or {}
            if user.get("enabled", 1):
                self.directory.users.setdefault(user.get("id"), user).update(user)
            else:  # as user.directory: enabled users only
                self.directory.users.pop(user.get("id"), None)
            if user.get("id") == self.session.me:
                self.session.user.update(user)
                self.query_one(StatusBar).status = user.get("status", "offline")
        elif kind == "contact.updated":
            contact = data.get("contact") or {}
            self.queue.rename_contact(contact)
            self.conversation.rename_contact(contact)
        elif kind == "lagged" and data.get("resync"):
            self.action_reload()
        forward = getattr(self.app.screen, "daemon_event", None)
        if forward is not None and self.app.screen is not self:
            forward(kind, data)

    def daemon_state(self, state: str) -> None:
        bar = self.query_one(StatusBar)
        if state == "connected" and bar.link != "connected":
            self.notify("Back in touch with zingd", title="reconnected")
            self.queue.schedule_counts()
        bar.link = state

    @work(group="merge")
    async def follow_merge(self, ticket_id: int) -> None:
        """The open ticket was joined into another (one person, two WhatsApp addresses): the
        conversation goes on there, with every message, so show that one."""
        ticket = await self.app.call("ticket.get", {"id": ticket_id}, quiet=True)
        if ticket is not None:
            self.open(ticket)
            self.apply_ticket(ticket, follow=True)  # the list goes to the tab that holds it

    async def change(self, method: str, params: dict[str, Any], **how: Any) -> Any:
        """A call that changes a ticket: one at a time, so a fast "send, close" is never "close, send"."""
        async with self._in_order:
            return await self.app.call(method, params, **how)

    async def set_status(self, status: str) -> None:
        if await self.app.call("user.set_status", {"status": status}) is not None:
            self.session.user["status"] = status
            self.query_one(StatusBar).status = status
