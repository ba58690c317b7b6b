"""The small modal dialogs of the ticket actions: close, resend, transfer, tag, filter, attach, react, history.

Each returns its answer through ``dismiss``; the main screen makes the call,
so every RPC error still ends in one toast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    OptionList,
    Select,
    SelectionList,
    Static,
)
from textual.widgets.option_list import Option

from zingtui import format
from zingtui.model import Directory, Filter


class Dialog(ModalScreen):
    """A centred box with a title; Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]
    TITLE_TEXT = ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.TITLE_TEXT
            yield from self.body()

    def body(self) -> ComposeResult:
        yield from ()

    def action_cancel(self) -> None:
        self.dismiss(None)


class CloseDialog(Dialog):
    """Enter closes (the farewell goes by default); f toggles the farewell."""

    TITLE_TEXT = "Close ticket"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "confirm", "Close", priority=True, id="close.confirm"),
        Binding("f", "farewell", "Farewell on/off", id="close.farewell"),
    ]

    def __init__(self, ticket: dict[str, Any]) -> None:
        super().__init__()
        self.ticket = ticket

    def body(self) -> ComposeResult:
        yield Label(f"Close #{self.ticket['id']} with {format.contact_name(self.ticket)}?")
        yield Checkbox("Send the farewell (and the rating survey, if on)", value=True, id="farewell")
        yield Static("⏎ close · f farewell on/off · esc cancel", classes="hint")

    def action_farewell(self) -> None:
        box = self.query_one("#farewell", Checkbox)
        box.value = not box.value

    def action_confirm(self) -> None:
        self.dismiss({"farewell": self.query_one("#farewell", Checkbox).value})


class ResendDialog(Dialog):
    """Sending an unconfirmed message again is deliberate: it may already have arrived."""

    TITLE_TEXT = "Send again?"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "confirm", "Send again", priority=True,
                                                     id="resend.confirm")]

    def body(self) -> ComposeResult:
        yield Label("WhatsApp never confirmed this message: it may have arrived.")
        yield Label("Sending it again could show it to the customer twice.")
        yield Static("⏎ send again · esc cancel", classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)


class TransferDialog(Dialog):
    """Pick one target, an agent or a queue; an optional message goes to the customer."""

    TITLE_TEXT = "Transfer ticket"

    def __init__(self, ticket: dict[str, Any], queues: list[dict[str, Any]], users: list[dict[str, Any]],
                 me: int) -> None:
        super().__init__()
        self.ticket = ticket
        self.targets: list[dict[str, Any]] = [
            *({"queue_id": q["id"], "label": f"Queue  {q['name']}"} for q in queues),
            *({"user_id": u["id"], "label": f"Agent  {u['name']}  ({u.get('status', '?')})"}
              for u in users if u["id"] != me and u.get("enabled", 1)),
        ]

    def body(self) -> ComposeResult:
        yield Label(f"Hand #{self.ticket['id']} ({format.contact_name(self.ticket)}) to:")
        if self.targets:
            yield OptionList(*(Option(t["label"]) for t in self.targets), id="targets")
        else:
            yield Label("No queue or agent to transfer to.", classes="hint")
        yield Input(placeholder="Message to the customer (optional)", id="transfer-message")
        yield Static("↑↓ choose · ⏎ transfer · tab message · esc cancel", classes="hint")

    def on_mount(self) -> None:
        if self.targets:
            self.query_one("#targets", OptionList).highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._confirm()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._confirm()

    def _confirm(self) -> None:
        if not self.targets:
            return
        index = self.query_one("#targets", OptionList).highlighted or 0
        target = {k: v for k, v in self.targets[index].items() if k != "label"}
        message = self.query_one("#transfer-message", Input).value.strip()
        self.dismiss({**target, "message": message or None})


class TagDialog(Dialog):
    """Space toggles a tag, Enter saves the set."""

    TITLE_TEXT = "Tags"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "save", "Save", priority=True, id="tags.save")]

    def __init__(self, ticket: dict[str, Any], tags: list[dict[str, Any]]) -> None:
        super().__init__()
        self.ticket = ticket
        self.tags = tags

    def body(self) -> ComposeResult:
        current = set(self.ticket.get("tags") or ())
        if self.tags:
            yield SelectionList[str](*((t["name"], t["name"], t["name"] in current) for t in self.tags), id="tags")
        else:
            yield Label("This company has no tags yet (a supervisor: zingctl tags create NAME).", classes="hint")
        yield Static("space toggle · ⏎ save · esc cancel", classes="hint")

    def action_save(self) -> None:
        if not self.tags:
            self.dismiss(None)
            return
        self.dismiss(list(self.query_one("#tags", SelectionList).selected))


class FilterDialog(Dialog):
    """Narrow the lists by queue, tag and number: tab between the choices, Enter opens one and picks."""

    TITLE_TEXT = "Filter tickets"

    def __init__(self, current: Filter, queues: list[dict[str, Any]], tags: list[dict[str, Any]],
                 connections: list[dict[str, Any]]) -> None:
        super().__init__()
        self.current = current
        self.queues, self.tags, self.connections = queues, tags, connections

    def body(self) -> ComposeResult:
        choices = (("Queue", "queue", "any queue", [(q["name"], q["id"]) for q in self.queues], self.current.queue_id),
                   ("Tag", "tag", "any tag", [(t["name"], t["name"]) for t in self.tags], self.current.tag),
                   ("Number", "connection", "any number", [(c["name"], c["id"]) for c in self.connections],
                    self.current.connection_id))
        for label, name, prompt, options, value in choices:
            yield Label(label)
            yield Select(options, value=self._value(value, options), prompt=prompt, id=name)
        yield Button("Apply", variant="primary", id="apply")
        yield Button("Clear", id="clear")
        yield Static("tab next · ⏎ open, pick, press · esc cancel", classes="hint")

    @staticmethod
    def _value(value: Any, options: list[tuple[str, Any]]) -> Any:
        """The Select's value for a filter's: none (Select.NULL), also for a queue, tag or number that is
        gone since (a Select refuses a value it has no option for)."""
        return value if value is not None and any(v == value for _, v in options) else Select.NULL

    def _get(self, name: str) -> Any:
        value = self.query_one(f"#{name}", Select).value
        return None if value is Select.NULL else value

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "clear":
            self.dismiss(Filter())
        else:
            self.dismiss(Filter(queue_id=self._get("queue"), connection_id=self._get("connection"),
                                tag=self._get("tag")))


class PathSuggester(Suggester):
    """Complete a file path from what is on disk (first match, directories end with /)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        matches = complete_path(value)
        return matches[0] if matches else None


def complete_path(value: str, limit: int = 50) -> list[str]:
    """Entries that start with what was typed, as the agent would type them."""
    if not value:
        return []
    typed = Path(value).expanduser()
    folder, stem = (typed, "") if value.endswith("/") else (typed.parent, typed.name)
    try:
        names = sorted(p for p in folder.iterdir() if p.name.startswith(stem) and not
                       (p.name.startswith(".") and not stem.startswith(".")))
    except OSError:
        return []
    prefix = value[: len(value) - len(stem)]
    return [prefix + p.name + ("/" if p.is_dir() else "") for p in names[:limit]]


class AttachDialog(Dialog):
    """Type a path; Tab or → takes the completion; Enter attaches."""

    TITLE_TEXT = "Attach a file"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", priority=True, id="attach.complete")]

    def body(self) -> ComposeResult:
        yield Input(placeholder="~/path/to/file", suggester=PathSuggester(), id="path")
        yield Static("", id="matches", classes="hint")
        yield Static("tab complete · ⏎ attach · esc cancel", classes="hint")

    def action_complete(self) -> None:
        box = self.query_one("#path", Input)
        box.action_cursor_right()
        box.cursor_position = len(box.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        matches = complete_path(event.value, limit=8)
        self.query_one("#matches", Static).update("\n".join(m.rsplit("/", 2)[-1] or m for m in matches))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value).expanduser()
        if path.is_file():
            self.dismiss(path)
        else:
            self.notify(f"No file at {event.value}", severity="warning")


# The emoji offered first (WhatsApp's own quick row); any other one can be typed.
QUICK_EMOJI = ("👍", "❤️", "😂", "😮", "😢", "🙏")
TAKE_OFF = ""


class ReactDialog(Dialog):
    """Pick an emoji for the selected message (↑↓ ⏎), or type one; the number's own can come off."""

    TITLE_TEXT = "React"

    def __init__(self, message: dict[str, Any], name: str, current: str = "") -> None:
        super().__init__()
        self.message = message
        self.name_of = name
        self.current = current
        self.choices = [e for e in QUICK_EMOJI if e != current] + ([TAKE_OFF] if current else [])

    def body(self) -> ComposeResult:
        yield Label(f"{self.name_of}: {format.preview(self.message, 40)}")
        if self.current:
            yield Label(f"The number's reaction now: {self.current}", classes="hint")
        yield OptionList(*(Option(f"{e}" if e else f"take {self.current} off") for e in self.choices), id="emoji")
        yield Input(placeholder="or type one emoji", id="emoji-typed")
        yield Static("↑↓ choose · ⏎ react · tab type one · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#emoji", OptionList).highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():  # zingd says whether it is one emoji
            self.dismiss(event.value.strip())


USER_KEYS = ("user_id", "from_user", "to_user")
QUEUE_KEYS = ("queue_id", "from_queue", "to_queue")
ACTIONS = {  # ticket_log actions (zingd's T.log calls) as the agent reads them
    "start": "started by writing to the customer", "queue": "put in a queue", "out_of_hours": "arrived out of hours",
    "assign": "assigned", "accept": "accepted", "close": "closed", "reopen": "reopened",
    "note": "private note added", "rated": "rated", "bot.stopped": "the bot stopped",
    "bot.handoff": "the bot handed over",
}


def history_line(entry: dict[str, Any], directory: Directory) -> str:
    """One ticket_log entry as a sentence, with the names of the agents and queues it refers to."""
    data = entry.get("data") or {}

    def user(uid: Any) -> str:
        return (directory.users.get(uid) or {}).get("name") or f"agent #{uid}"

    def queue(qid: Any) -> str:
        return next((q["name"] for q in directory.queues if q["id"] == qid), f"queue #{qid}")

    action = entry.get("action") or "?"
    if action == "transfer":
        to = user(data["to_user"]) if data.get("to_user") else f"queue {queue(data.get('to_queue'))}"
        was = f" from {user(data['from_user'])}" if data.get("from_user") else ""
        what = f"transferred{was} to {to}"
    elif action == "tags":
        tags = data.get("tags") or []
        what = f"tags set: {' '.join(f'#{t}' for t in tags)}" if tags else "tags cleared"
    elif action == "merged":
        what = f"joined into #{data['into']}" if data.get("into") else f"#{data.get('ticket_id')} joined into it"
    else:
        what = ACTIONS.get(action, action.replace("_", " "))
        details = []
        for key, value in data.items():
            if value is None or value is False or key == "note_id":
                continue
            if key in USER_KEYS:
                details.append(user(value))
            elif key in QUEUE_KEYS:
                details.append(queue(value))
            elif key == "rating":
                details.append(f"{value}/5")
            elif value is True:
                details.append(key.replace("_", " "))
            elif isinstance(value, list):
                details.append(", ".join(map(str, value)))
            else:
                details.append(f"{key.replace('_', ' ')} {value}")
        if details:
            what += f" ({', '.join(details)})"
    return f"{what}, by {entry.get('user_name') or 'zing'}"


class HistoryScreen(Dialog):
    """What happened to a ticket, oldest first, in words and names."""

    TITLE_TEXT = "Ticket history"

    def __init__(self, ticket: dict[str, Any], entries: list[dict[str, Any]], directory: Directory) -> None:
        super().__init__()
        self.ticket = ticket
        self.entries = entries
        self.directory = directory

    def body(self) -> ComposeResult:
        yield Label(f"#{self.ticket['id']} · {format.contact_name(self.ticket)}")
        lines = []
        for entry in self.entries:
            when = time.strftime("%d %b %H:%M", time.localtime(entry.get("created_at") or 0))
            lines.append(f"{when}  {history_line(entry, self.directory)}")
        yield Static("\n".join(lines) or "Nothing yet.", id="history")
        yield Static("esc close", classes="hint")
