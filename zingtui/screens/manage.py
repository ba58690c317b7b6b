"""The agent's desk (``d``): what agents and supervisors change day to day without zingctl.

Quick replies (new, edit, delete: one's personal ones; tenant-wide ones too for supervisors, as
zingd allows) and one's own scheduled messages (cancel). The daemon decides every rule; the desk
offers only what the role may do, so a refusal is rare and still ends in one toast. Kept current
by the ``quickreply.*`` and ``schedule.*`` events the main screen forwards.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Checkbox, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from zingtui import format
from zingtui.screens.dialogs import Dialog
from zingtui.session import Session

# What zingd fills in a quick reply (zingd.services.quickreplies.VARIABLES); it refuses any other.
VARIABLES = "{{name}} {{first_name}} {{number}} {{agent}} {{protocol}} {{queue}} {{date}}"


def reply_line(reply: dict[str, Any]) -> str:
    scope = "mine" if reply.get("scope") == "personal" else "everyone"
    return f"/{reply['shortcut']:<16} {scope:<8} {format.first_line(reply['body'], 44)}"


def schedule_line(s: dict[str, Any]) -> str:
    when = time.strftime("%d %b %H:%M", time.localtime(s["run_at"]))
    repeat = f" ↻ {s['cron']}" if s.get("cron") else ""
    who = s.get("contact_name") or format.address(s.get("number") or "?")
    return f"{when}{repeat}  {format.first_line(who, 20)}: {format.first_line(s['body'], 36)}"


class ManageScreen(Dialog):
    """Two lists; the keys act on the quick replies, ``x`` on the scheduled messages."""

    TITLE_TEXT = "My desk"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_reply", "New reply", id="manage.new"),
        Binding("e", "edit_reply", "Edit reply", id="manage.edit"),
        Binding("d", "delete_reply", "Delete reply", id="manage.delete"),
        Binding("x", "cancel_schedule", "Cancel schedule", id="manage.cancel"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.replies: list[dict[str, Any]] = []
        self.schedules: list[dict[str, Any]] = []

    def body(self) -> ComposeResult:
        yield Label("Quick replies", classes="section")
        yield OptionList(id="replies")
        yield Label("My scheduled messages", classes="section")
        yield OptionList(id="schedules")
        yield Static("n new · e/⏎ edit · d delete reply · x cancel schedule · tab next list · esc close",
                     classes="hint")

    def on_mount(self) -> None:
        self.query_one("#replies", OptionList).focus()
        self.load_replies()
        self.load_schedules()

    # -- the lists -------------------------------------------------------------
    @work(group="manage-replies", exclusive=True)
    async def load_replies(self) -> None:
        rows = await self.app.call("quickreply.list", {}, quiet=True)
        if rows is not None:
            self.replies = rows
            self._fill("#replies", [reply_line(r) for r in rows], "No quick replies yet: n adds one")

    @work(group="manage-schedules", exclusive=True)
    async def load_schedules(self) -> None:
        rows = await self.app.call("schedule.list", {"status": "pending"}, quiet=True)
        if rows is not None:  # a supervisor's list has everyone's: the desk shows one's own
            self.schedules = [s for s in rows if s["user_id"] == self.session.me]
            self._fill("#schedules", [schedule_line(s) for s in self.schedules],
                       "Nothing scheduled (zingctl schedules add)")

    def _fill(self, selector: str, lines: list[str], empty: str) -> None:
        view = self.query_one(selector, OptionList)
        keep = view.highlighted
        view.clear_options()
        view.add_options(Option(line) for line in lines)
        if not lines:
            view.add_option(Option(empty, disabled=True))
        else:
            view.highlighted = min(keep or 0, len(lines) - 1)

    def daemon_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind.startswith("quickreply."):
            self.load_replies()
        elif kind.startswith("schedule."):
            self.load_schedules()

    def _current(self, selector: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        index = self.query_one(selector, OptionList).highlighted
        return rows[index] if index is not None and index < len(rows) else None

    # -- quick replies -----------------------------------------------------------
    def _editable(self) -> dict[str, Any] | None:
        """The highlighted quick reply, if the caller may change it (tenant-wide ones: supervisors)."""
        reply = self._current("#replies", self.replies)
        if reply is not None and reply["scope"] != "personal" and not self.session.supervisor:
            self.notify("Only supervisors change the quick replies everyone shares", severity="warning")
            return None
        return reply

    def action_new_reply(self) -> None:
        self.app.push_screen(QuickReplyDialog(None, share=self.session.supervisor), self._saved)

    def action_edit_reply(self) -> None:
        reply = self._editable()
        if reply is not None:
            self.app.push_screen(QuickReplyDialog(reply), self._saved)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "replies":
            self.action_edit_reply()

    def _saved(self, reply: dict[str, Any] | None) -> None:
        if reply is not None:
            self.notify(f"Saved /{reply['shortcut']}")
            self.load_replies()

    def action_delete_reply(self) -> None:
        reply = self._editable()
        if reply is not None:
            self.app.push_screen(ConfirmDialog(f"Delete the quick reply /{reply['shortcut']}?", "Delete"),
                                 lambda yes: yes and self.change("quickreply.delete", reply["id"], self.load_replies))

    # -- schedules -----------------------------------------------------------
    def action_cancel_schedule(self) -> None:
        s = self._current("#schedules", self.schedules)
        if s is not None:
            self.app.push_screen(ConfirmDialog(f"Cancel this message?\n{schedule_line(s)}", "Cancel it"),
                                 lambda yes: yes and self.change("schedule.cancel", s["id"], self.load_schedules))

    @work(group="manage-change")
    async def change(self, method: str, item_id: int, reload) -> None:
        """Delete a quick reply or cancel a schedule, then reload its list. (Not ``remove``: that is
        how Textual takes a screen away, and Esc would call this instead.)"""
        if await self.app.call(method, {"id": item_id}) is not None:
            self.notify("Deleted" if method == "quickreply.delete" else "Cancelled")
            reload()


class QuickReplyDialog(Dialog):
    """A quick reply's shortcut and text; ctrl+s saves it through zingd and closes only when zingd took
    it (an unknown variable, a taken shortcut: the toast says why and the text stays to fix)."""

    TITLE_TEXT = "Quick reply"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="quick_reply.save")]

    def __init__(self, reply: dict[str, Any] | None, share: bool = False) -> None:
        super().__init__()
        self.reply = reply
        self.share = share  # may make it everyone's (a new one, by a supervisor)

    def body(self) -> ComposeResult:
        r = self.reply or {}
        yield Label("Shortcut (typed after /)")
        yield Input(r.get("shortcut", ""), placeholder="obrigado", id="shortcut")
        yield Label("Text")
        yield TextArea(r.get("body", ""), id="body", compact=True)
        if self.share:
            yield Checkbox("Everyone's (the whole company), not only mine", id="shared")
        yield Static(f"variables: {VARIABLES}\n^s save · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#shortcut", Input).focus()

    def on_input_submitted(self) -> None:
        self.query_one("#body", TextArea).focus()

    def action_save(self) -> None:
        self.save()

    @work(group="quick-reply-save", exclusive=True)
    async def save(self) -> None:
        shortcut = self.query_one("#shortcut", Input).value.strip()
        body = self.query_one("#body", TextArea).text
        if self.reply is None:
            personal = not (self.share and self.query_one("#shared", Checkbox).value)
            out = await self.app.call("quickreply.create", {"shortcut": shortcut, "body": body, "personal": personal})
        else:
            out = await self.app.call("quickreply.update", {"id": self.reply["id"], "shortcut": shortcut, "body": body})
        if out is not None:
            self.dismiss(out)


class ConfirmDialog(Dialog):
    """A yes-or-no before something that can't be undone: Enter confirms, Escape keeps it."""

    TITLE_TEXT = "Are you sure?"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "confirm", "Yes", priority=True, id="confirm.yes")]

    def __init__(self, question: str, verb: str) -> None:
        super().__init__()
        self.question, self.verb = question, verb

    def body(self) -> ComposeResult:
        yield Label(self.question)
        yield Static(f"⏎ {self.verb.lower()} · esc keep it", classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)
