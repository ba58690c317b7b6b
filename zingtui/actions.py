"""The one table of things an agent can do: it feeds the key bindings and the command palette.

Every action is a method of the main screen (``action_<name>``); each context
(the ticket list, the chat, the composer) binds it to its own key, so the
footer shows what works where the focus is, and letters never fire while the
agent is typing. The composer's keys are control keys and take priority over
the text area's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.binding import Binding

LIST, CHAT, COMPOSER = "list", "chat", "composer"


@dataclass(frozen=True, slots=True)
class Act:
    action: str
    title: str
    help: str
    keys: dict[str, str] = field(default_factory=dict)
    label: str = ""
    show: bool = True

    @property
    def footer(self) -> str:
        return self.label or self.title.split()[0]


ACTS: tuple[Act, ...] = (
    Act("accept", "Accept ticket", "Take this pending ticket and start answering", {LIST: "a", CHAT: "a"}),
    Act("reply", "Reply", "Write to the customer", {LIST: "r,enter"}, show=False),
    Act("close", "Close ticket", "Close, with the farewell message", {LIST: "c", CHAT: "c", COMPOSER: "ctrl+d"}),
    Act("transfer", "Transfer ticket", "Hand over to an agent or a queue, with a message",
        {LIST: "t", CHAT: "t", COMPOSER: "ctrl+t"}),
    Act("reopen", "Reopen ticket", "Open a closed ticket again", {LIST: "o", CHAT: "o"}),
    Act("tag", "Tag ticket", "Choose the ticket's tags", {LIST: "g", CHAT: "g", COMPOSER: "ctrl+g"}),
    Act("contact", "Contact panel", "Name, number, fields, tags and past tickets; edit them",
        {LIST: "i", CHAT: "i", COMPOSER: "ctrl+o"}, label="Contact"),
    Act("note", "Private note", "Write a note only agents see", {LIST: "n", CHAT: "n", COMPOSER: "ctrl+n"},
        label="Note"),
    Act("attach", "Attach file", "Send a file by its path", {COMPOSER: "ctrl+f"}),
    Act("signature", "Toggle signature", "Sign this message with your name, or not", {COMPOSER: "ctrl+b"},
        label="Sign", show=False),
    Act("quote", "Reply to message", "Quote the selected message in your answer", {CHAT: "r"}, label="Quote"),
    Act("retry", "Retry failed message", "Send the selected failed message again", {CHAT: "y"}, label="Retry"),
    Act("open_media", "Open file", "Open the selected message's file", {CHAT: "enter"}, label="Open"),
    Act("save_media", "Save file", "Save a copy of the selected message's file", {CHAT: "s"}, label="Save",
        show=False),
    Act("history", "Ticket history", "Who accepted, transferred and closed this ticket", {LIST: "h", CHAT: "h"},
        show=False),
    Act("search", "Search messages", "Full-text search over every conversation", {LIST: "slash"}),
    Act("filter", "Filter tickets", "By queue, tag or number", {LIST: "f"}),
    Act("tab('pending')", "Pending tab", "Tickets waiting for an agent", {LIST: "1"}, show=False),
    Act("tab('mine')", "Open tab", "Your open tickets", {LIST: "2"}, show=False),
    Act("tab('closed')", "Closed tab", "Closed tickets", {LIST: "3"}, show=False),
    Act("tab('all')", "All tab", "Every agent's open tickets (supervisors)", {LIST: "4"}, show=False),
    Act("toggle_status", "Toggle online/away", "Your status, shown to the team", {LIST: "s"}, show=False),
    Act("connections", "WhatsApp numbers", "Numbers, their health, and pairing by QR code (admins)",
        {LIST: "w"}, show=False),
    Act("campaigns", "Campaigns", "Mass sends and their live progress: start, pause, cancel (supervisors)",
        {LIST: "m"}, show=False),
    Act("zoom", "Zoom pane", "Give the focused pane the whole screen, or stop", {LIST: "z", CHAT: "z"},
        show=False),
    Act("toggle_bell", "Toggle alerts", "Bell and notification for new pending tickets", {}),
    Act("reload", "Reload", "Fetch the queues and the conversation again", {LIST: "ctrl+r"}, show=False),
    Act("logout", "Log out", "Forget the stored token and quit", {}),
)


def _name(act: Act) -> str:
    return act.action.split("(")[0]


def bindings(context: str) -> list[Binding]:
    """The key bindings one context gets from the table (run by ``forwarded`` on the widget's screen)."""
    out = []
    for act in ACTS:
        key = act.keys.get(context)
        if key:
            out.append(Binding(key, act.action, act.footer, show=act.show, priority=context == COMPOSER,
                               tooltip=act.help))
    return out


def forwarded(cls: type) -> type:
    """Give a widget the table's actions, run and checked on its own screen.

    Textual's ``screen.`` namespace means the topmost screen: under a dialog the
    footer would ask the dialog whether "accept" applies. Forwarding asks the
    screen the widget lives on.
    """
    names = {_name(act) for act in ACTS}
    for name in names:
        def action(self, *args, _name=name):
            return getattr(self.screen, f"action_{_name}")(*args)
        setattr(cls, f"action_{name}", action)
    base_check = cls.check_action

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in names:
            return self.screen.check_action(action, parameters)
        return base_check(self, action, parameters)
    cls.check_action = check_action
    return cls


def key_hint(act: Act) -> str:
    """The keys of an action, for the command palette: 'c · ^d'."""
    keys = []
    for context in (LIST, CHAT, COMPOSER):
        for key in (act.keys.get(context) or "").split(","):
            key = {"slash": "/", "enter": "⏎"}.get(key, key).replace("ctrl+", "^")
            if key and key not in keys:
                keys.append(key)
    return " · ".join(keys)
