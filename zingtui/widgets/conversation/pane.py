"""The conversation pane (right): the open ticket's title, its messages and notes, and the composer.

History loads a page at a time; live events for the open ticket that arrive
while a page loads wait in a backlog and are applied after it, so none is lost
or shown twice. Sending goes through ``change``, the screen's one-at-a-time
line to zingd, so a message and a ticket action reach zingd in the order the
agent made them. The pane redraws the footer when what the keys may do
changes (the ticket's state, the selected message).

A reply is saved (``zingtui.drafts``) before it is sent, under its own client_ref. While zingd is
unreachable it waits there, shown in the chat as waiting, and goes, in order, when the link is back
(or when the console starts again); a repeat of a send whose answer was lost returns the first
message, so none goes twice. A reply zingd refuses goes back to the composer.

The assistant's part: the bot's state in the ticket shows on a line under the title (from its
``bot.updated`` events), and a suggested reply streams into the composer, a rewrite replaces the
draft there (``Composer``'s hold): the pane makes those calls, nothing of them is sent by itself.

A cloud ticket's title counts its 24-hour window down (``zingtui.window``, from the ticket view, by the
clock alone), amber in the last hour; once it has closed the composer takes templates only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from zingd.errors import ZingError
from zingtui import format, sla, window
from zingtui.drafts import Drafts, Waiting
from zingtui.messages import Daemon
from zingtui.model import Directory
from zingtui.session import Session
from zingtui.widgets.conversation.chat import ChatView
from zingtui.widgets.conversation.composer import Composer, Draft

OFFLINE = object()  # a send that found zingd unreachable: it waits

HISTORY_PAGE = 50
SETTLE_S = 0.03  # holding an arrow key in the list loads only the ticket where it stops
CHAT_EVENTS = ("message.created", "message.updated", "message.ack", "note.created")

Change = Callable[..., Awaitable[Any]]


class ConversationPane(Vertical):
    ALLOW_MAXIMIZE = True
    COMPONENT_CLASSES: ClassVar[set[str]] = {"conversation--name", "conversation--number", "conversation--tags",
                                             "conversation--sla-ok", "conversation--sla-close",
                                             "conversation--sla-late", "conversation--window-ok",
                                             "conversation--window-close", "conversation--window-closed"}

    def __init__(self, session: Session, directory: Directory, change: Change, *, clock: Callable[[], float],
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.directory = directory
        self.change = change
        self.clock = clock
        self.ticket: dict[str, Any] | None = None
        self._backlog: list[Daemon.Event] | None = None  # chat events that arrived during a history load
        self._keys_state: object = None
        self.drafts = Drafts(self.app.drafts_file, f"{session.socket}#{session.me}")
        self._parked = {w.ref for w in self.drafts.waiting}  # found zingd unreachable: shown as waiting
        self._delivering = False

    def compose(self) -> ComposeResult:
        yield Static("", id="chat-title")
        yield Static("", id="bot-line")  # the bot's part in the ticket, when it has one
        yield ChatView(id="chat", namer=self.name_of, clock=self.clock)
        yield Composer(self.drafts, id="composer")

    @property
    def chat(self) -> ChatView:
        return self.query_one(ChatView)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    def on_mount(self) -> None:
        self.set_interval(sla.TICK_S, self._tick)
        self.composer.default_signature = bool(self.session.user.get("signature"))
        self.chat.clear_chat("Pick a ticket on the left.")
        if self.drafts.waiting:  # left from the last run
            self.deliver()

    # -- the open ticket -----------------------------------------------------
    def shows(self, ticket_id: int) -> bool:
        return self.ticket is not None and self.ticket["id"] == ticket_id

    def open(self, ticket: dict[str, Any]) -> None:
        same = self.shows(ticket["id"])
        self.ticket = ticket
        self.show_title()
        if not same:
            self.reload()
        self.update_keys()

    def refresh_ticket(self, ticket: dict[str, Any]) -> None:
        """A fresh view of the open ticket (accepted, transferred, tagged...). It stays open when it
        leaves the agent's hands; if they were typing in it, they are told their text is kept."""
        if self.shows(ticket["id"]):
            self._left_hands(self.ticket, ticket)
            self.ticket = ticket
            self.show_title()
            self.update_keys()

    def _left_hands(self, was: dict[str, Any], now: dict[str, Any]) -> None:
        me = self.session.me
        closed = now["status"] == "closed" and was["status"] != "closed"
        taken = was.get("user_id") == me and now.get("user_id") != me and now["status"] != "closed"
        if (closed or taken) and self.composer.input.text.strip():
            what = "closed" if closed else f"now with {now.get('user_name') or now.get('queue_name') or 'the queue'}"
            self.notify(f"#{now['id']} is {what}: what you typed stays here, and is saved",
                        title="your draft is kept", severity="warning", timeout=10)

    def _tick(self) -> None:
        """The time left on the open ticket's service-level target, and on its window, goes down by itself."""
        if self.ticket is not None and (sla.running(self.ticket) or self.ticket.get("window_closes_at") is not None):
            self.show_title()

    def rename_contact(self, contact: dict[str, Any]) -> None:
        if self.ticket is not None and self.ticket["contact_id"] == contact.get("id"):
            self.ticket.update(contact_name=contact.get("name", ""), contact_push_name=contact.get("push_name", ""))
            self.show_title()

    def reload(self) -> None:
        if self.ticket is not None:
            self._backlog = []
            self.load_chat(self.ticket["id"])

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"conversation--{part}", partial=True)

    def show_title(self) -> None:
        t = self.ticket
        if t is None:
            return
        title = Text().append(format.contact_name(t), style=self._style("name"))
        title.append(f"  +{t.get('contact_number', '')}", style=self._style("number"))
        open_for = window.of(t, self.clock())
        if open_for is not None:  # before the rest: what may be sent matters more than where the ticket is
            title.append(f"  {open_for.text}", style=self._style(f"window-{open_for.tone}"))
        state = t["status"] + (f" · {t['user_name']}" if t.get("user_name") and t["status"] != "pending" else "")
        numbers = len(self.directory.connections)
        for part in (t.get("queue_name"), state, t.get("connection_name") if numbers > 1 else None):
            if part:
                title.append(f" · {part}")
        for tag in t.get("tags") or ():
            title.append(f" #{tag}", style=self._style("tags"))
        due = sla.due(t, self.clock(), self.directory.queues)
        if due is not None:
            title.append(f"  {due.text}", style=self._style(f"sla-{due.tone}"))
        self.query_one("#chat-title", Static).update(title)
        bot = self.bot_line(t)
        line = self.query_one("#bot-line", Static)
        line.update(bot)
        line.display = bool(bot)
        agent = self.session.user.get("name", "")
        self.composer.set_target(t["id"], format.contact_name(t), format.variables(t, agent))
        closed = open_for is not None and open_for.closed
        if self.composer.window_closed != closed:
            self.composer.window_closed = closed
            self.update_keys()

    def bot_line(self, ticket: dict[str, Any]) -> str:
        """The bot's part in the ticket: as its last bot.updated told it, else as the ticket says."""
        known = self.directory.bots.get(ticket["id"]) or {"state": ticket.get("bot_state"),
                                                            "reason": ticket.get("bot_reason") or ""}
        return format.bot_state(known.get("state"), known.get("reason", ""))

    def bot_event(self, data: dict[str, Any]) -> None:
        """bot.updated: the bot started, stopped or handed over in a ticket; the line under the title says so."""
        ticket_id = data.get("ticket_id")
        self.directory.bots[ticket_id] = {"state": data.get("state") or "", "reason": data.get("reason") or ""}
        if self.shows(ticket_id):
            self.show_title()

    def update_keys(self) -> None:
        """Redraw the footer only when what applies changed (it rebuilds its widgets each time)."""
        item = self.chat.selected_item
        t = self.ticket
        state = (t and (t["status"], t.get("user_id"), t.get("connection_kind"), window.closed(t, self.clock())),
                 item and (item.get("_note"), item.get("ack"), bool(item.get("media_path"))))
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    def on_chat_view_selected(self) -> None:
        self.update_keys()

    def name_of(self, item: dict[str, Any]) -> str:
        """Who wrote a message, as the agent knows them."""
        if item.get("direction") != "out":
            return format.contact_name(self.ticket) if self.ticket else "customer"
        if item.get("bot"):
            return format.BOT
        if item.get("from_device"):
            return "Phone"
        uid = item.get("user_id")
        if uid is None:
            return "zing"
        if uid == self.session.me:
            return "You"
        if uid in self.directory.users:
            return self.directory.users[uid]["name"]
        if self.ticket is not None and self.ticket.get("user_id") == uid:
            return self.ticket.get("user_name") or f"Agent {uid}"
        return f"Agent {uid}"

    # -- history ---------------------------------------------------------------
    @work(exclusive=True, group="chat")
    async def load_chat(self, ticket_id: int) -> None:
        await asyncio.sleep(SETTLE_S)
        page = await self.app.call("message.list", {"ticket_id": ticket_id, "limit": HISTORY_PAGE})
        notes: list[dict[str, Any]] = []
        if self.session.supports("note.list"):
            notes = await self.app.call("note.list", {"ticket_id": ticket_id}, quiet=True) or []
        if not self.shows(ticket_id):
            return
        if page is None:
            self.chat.clear_chat("Could not load this conversation.")
            return
        self.chat.set_history(ticket_id, page["messages"], notes, page["more"])
        backlog, self._backlog = self._backlog or [], None
        for event in backlog:
            self._apply(event)
        for reply in self.drafts.waiting_for(ticket_id):
            if reply.ref in self._parked:
                self.chat.add(self._waiting_item(reply))
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

    # -- live events -----------------------------------------------------------
    def event(self, event: Daemon.Event) -> None:
        """A message, ack or note event: shown if it is the open ticket's (after its page, if one is loading)."""
        data = event.data
        ticket_id = data.get("ticket_id") or (data.get("message") or data.get("note") or {}).get("ticket_id")
        if not self.shows(ticket_id):
            return
        if self._backlog is not None:
            self._backlog.append(event)
        elif self.chat.ticket_id == ticket_id:
            self._apply(event)

    def _apply(self, event: Daemon.Event) -> None:
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
        t = self.ticket
        if (t is not None and t.get("unread") and t["status"] == "open" and t.get("user_id") == self.session.me
                and self.session.supports("message.read")):
            self.run_worker(self.app.call("message.read", {"ticket_id": t["id"]}, quiet=True), group="read")

    # -- composing -------------------------------------------------------------
    def on_composer_submitted(self, message: Composer.Submitted) -> None:
        if self.ticket is None:
            self.notify("Pick a ticket first", severity="warning")
            return
        draft = message.draft
        if draft.note:
            self.composer.sent()
            self.save_note(self.ticket, draft)
            return
        self.drafts.wait(Waiting(draft.ticket_id, draft.body, self.clock(),
                                 quoted_id=draft.quoted["id"] if draft.quoted else None, signature=draft.signature,
                                 attachment=str(draft.attachment) if draft.attachment else None))
        self.composer.sent()  # after the reply is saved: at no moment is it nowhere
        self.deliver()

    @work(group="send")
    async def save_note(self, ticket: dict[str, Any], draft: Draft) -> None:
        note = await self.change("note.create", {"ticket_id": ticket["id"], "body": draft.body})
        if note is None:
            self.composer.restore(draft)
        elif self.chat.ticket_id == ticket["id"]:
            self.chat.add({**note, "_note": True})

    @work(group="deliver")
    async def deliver(self) -> None:
        """Send the waiting replies, oldest first; stop at the first that finds zingd unreachable
        (the app starts this again when the link is back)."""
        if self._delivering:
            return
        self._delivering = True
        try:
            while self.drafts.waiting:
                reply = self.drafts.waiting[0]
                if await self.send(reply) is OFFLINE:
                    for waiting in self.drafts.waiting:
                        self._park(waiting)
                    return
        finally:
            self._delivering = False

    async def send(self, reply: Waiting) -> object:
        """One reply to zingd: the message it became, OFFLINE, or None when zingd refused it (the
        composer has the text back)."""
        params = reply.params()
        if reply.attachment is not None:
            upload_id = params["upload_id"] = await self.upload(Path(reply.attachment))
            if upload_id is OFFLINE or upload_id is None:
                return upload_id if upload_id is OFFLINE else self._refused(reply)
        try:
            sent = await self.change("message.send", params, offline=True)
        except ConnectionError:
            return OFFLINE
        if sent is None:
            if "upload_id" in params:  # refused: the upload would only wait to expire
                await self.app.call("media.discard", {"upload_id": params["upload_id"]}, quiet=True)
            return self._refused(reply)
        self.drafts.done(reply)
        self.chat.drop(("w", reply.ref))
        if self.chat.ticket_id == reply.ticket_id:
            self.chat.add(sent)
        return sent

    def _refused(self, reply: Waiting) -> None:
        self.drafts.done(reply)
        self.chat.drop(("w", reply.ref))
        attachment = Path(reply.attachment) if reply.attachment else None
        self.composer.restore(Draft(reply.ticket_id, reply.body, False, None, attachment, reply.signature))
        return None

    def _park(self, reply: Waiting) -> None:
        """Show a reply as waiting (once) when its ticket is the one on screen."""
        if reply.ref not in self._parked:
            self._parked.add(reply.ref)
            if self.chat.ticket_id == reply.ticket_id:
                self.chat.add(self._waiting_item(reply))

    def _waiting_item(self, reply: Waiting) -> dict[str, Any]:
        return {"_waiting": reply.ref, "id": 0, "ticket_id": reply.ticket_id, "direction": "out", "type": "text",
                "body": reply.body, "user_id": self.session.me, "ack": "waiting", "created_at": reply.created_at,
                "quoted_id": reply.quoted_id}

    async def upload(self, path: Path) -> int | object | None:
        """Hand the attached file over: the console reads it, with the user's rights (the daemon opens no path)."""
        try:
            return (await self.session.upload(path))["upload_id"]
        except ConnectionError:  # before OSError, which it is
            return OFFLINE
        except OSError as e:
            self.notify(f"cannot read {path}: {e.strerror or e}", title="attachment", severity="error", timeout=6)
        except ZingError as e:
            self.notify(e.message, title=e.kind.replace("_", " "), severity="error", timeout=6)
        return None

    def on_composer_typing(self, message: Composer.Typing) -> None:
        if self.session.supports("message.typing"):
            params = {"ticket_id": message.ticket_id, "composing": message.composing}
            self.run_worker(self.app.call("message.typing", params, quiet=True), group="typing")

    def on_composer_need_replies(self) -> None:
        self.run_worker(self.load_replies(), group="replies", exclusive=True)

    async def load_replies(self) -> None:
        if self.session.supports("quickreply.list"):
            replies = await self.app.call("quickreply.list", {}, quiet=True)
            if replies is not None:
                self.composer.set_replies(replies)

    # -- the assistant writing into the composer ------------------------------
    async def suggest(self, ticket_id: int) -> bool:
        """A suggested reply, streamed into the composer under the draft; the agent edits and sends it.
        False when the call failed (its toast is up)."""
        composer = self.composer
        if not composer.begin_suggestion(ticket_id):
            return True
        text = out = None
        try:
            out = await self.app.call("copilot.suggest", {"ticket_id": ticket_id, "stream": True},
                                      on_notice=lambda method, params: self._piece(ticket_id, method, params))
            if out is not None:
                text = out.get("text") or ""
                if not text.strip():
                    self.notify("The assistant had no reply to suggest", title="assistant", severity="warning")
                sources = [s.get("title") for s in out.get("sources") or () if s.get("title")]
                if sources and text.strip():
                    self.notify("From: " + "; ".join(sources), title="suggestion grounded in")
        finally:
            composer.end_suggestion(ticket_id, text)
        return out is not None

    def _piece(self, ticket_id: int, method: str, params: dict[str, Any]) -> None:
        if method == "copilot.delta":
            self.composer.suggestion_piece(ticket_id, params.get("text") or "")

    async def rewrite(self, ticket_id: int, style: str) -> bool:
        """The draft rewritten in a style; it replaces the draft as one edit (ctrl+z gives it back).
        False when the call failed (its toast is up)."""
        composer = self.composer
        text = composer.input.text
        if not text.strip() or not composer.begin_rewrite(ticket_id):
            return True
        out = None
        try:
            out = await self.app.call("copilot.rewrite", {"text": text, "style": style, "ticket_id": ticket_id})
        finally:
            composer.end_rewrite(ticket_id, out and out.get("text"))
        return out is not None
