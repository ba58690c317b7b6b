"""The one table of things an agent can do: it feeds the key bindings, the keymap ids and the command palette.

Every action is a method of the main screen (``action_<name>``); each context
(the ticket list, the chat, the composer) binds it to its own key, so the
footer shows what works where the focus is, and letters never fire while the
agent is typing. The composer's keys are control keys and take priority over
the text area's own.

An action is kept as its name and arguments, never as a string to pick apart:
``Act.action`` builds the string Textual dispatches, and the palette asks
``check_action`` with the same name and arguments. Each binding has the id
``<context>.<act id>`` (``list.accept``, ``composer.close``), which the
``[keymap]`` table of config.toml uses to give it other keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from textual.binding import Binding

LIST, CHAT, COMPOSER = "list", "chat", "composer"
CONTEXTS = (LIST, CHAT, COMPOSER)


@dataclass(frozen=True, slots=True)
class Act:
    name: str
    title: str
    help: str
    keys: dict[str, str] = field(default_factory=dict)
    label: str = ""
    show: bool = True
    args: tuple[str, ...] = ()

    @property
    def action(self) -> str:
        """The action string Textual runs: ``accept``, ``tab('pending')``."""
        return f"{self.name}({', '.join(map(repr, self.args))})" if self.args else self.name

    @property
    def id(self) -> str:
        """The action's part of a binding id: ``accept``, ``tab_pending``."""
        return "_".join((self.name, *self.args))

    @property
    def footer(self) -> str:
        return self.label or self.title.split()[0]


def tab(key: str, title: str, help: str, digit: str) -> Act:
    return Act("tab", title, help, {LIST: digit}, show=False, args=(key,))


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
    Act("react", "React to message", "Put an emoji on the selected message, or take the number's off",
        {CHAT: "l"}, label="React"),
    Act("template", "Send a template", "An approved WhatsApp template: all a cloud number may send outside the "
        "24-hour window", {LIST: "T", CHAT: "T", COMPOSER: "ctrl+e"}, label="Template"),
    Act("retry", "Retry failed message", "Send the selected failed message again, or fetch a file whose download "
        "failed", {CHAT: "y"}, label="Retry"),
    Act("open_media", "Open file", "Open the selected message's file", {CHAT: "enter"}, label="Open"),
    Act("save_media", "Save file", "Save a copy of the selected message's file", {CHAT: "s"}, label="Save",
        show=False),
    Act("history", "Ticket history", "Who accepted, transferred and closed this ticket", {LIST: "h", CHAT: "h"},
        show=False),
    Act("suggest", "Suggest a reply", "The assistant drafts an answer into the composer; you edit and send it",
        {COMPOSER: "ctrl+s"}),
    Act("rewrite", "Rewrite draft", "Shorter, friendlier, more formal, fixed grammar, or in the customer's "
        "language", {COMPOSER: "ctrl+r"}),
    Act("summarize", "Summarize conversation", "The assistant sums the conversation up; save it as a note",
        {LIST: "u", CHAT: "u", COMPOSER: "ctrl+l"}, label="Summary"),
    Act("propose_tags", "Propose tags", "The assistant proposes tags from the company's own; pick and apply",
        {LIST: "p", CHAT: "p"}, label="Propose", show=False),
    Act("search", "Search messages", "Full-text search over every conversation", {LIST: "slash"}),
    Act("filter", "Filter tickets", "By queue, tag or number", {LIST: "f"}),
    tab("pending", "Pending tab", "Tickets waiting for an agent", "1"),
    tab("mine", "Open tab", "Your open tickets", "2"),
    tab("closed", "Closed tab", "Closed tickets", "3"),
    tab("all", "All tab", "Every agent's open tickets (supervisors)", "4"),
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
NAMES = frozenset(act.name for act in ACTS)


def binding_id(context: str, act: Act) -> str:
    return f"{context}.{act.id}"


def bindings(context: str) -> list[Binding]:
    """The key bindings one context gets from the table (run by ``forwarded`` on the widget's screen)."""
    out = []
    for act in ACTS:
        key = act.keys.get(context)
        if key:
            out.append(Binding(key, act.action, act.footer, show=act.show, priority=context == COMPOSER,
                               tooltip=act.help, id=binding_id(context, act)))
    return out


def forwarded(cls: type) -> type:
    """Give a widget the table's actions, run and checked on its own screen.

    Textual's ``screen.`` namespace means the topmost screen: under a dialog the
    footer would ask the dialog whether "accept" applies. Forwarding asks the
    screen the widget lives on.
    """
    for name in NAMES:
        def action(self, *args, _name=name):
            return getattr(self.screen, f"action_{_name}")(*args)
        setattr(cls, f"action_{name}", action)
    base_check = cls.check_action

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in NAMES:
            return self.screen.check_action(action, parameters)
        return base_check(self, action, parameters)
    cls.check_action = check_action
    return cls


def key_hint(act: Act, keymap: Mapping[str, str] | None = None) -> str:
    """The keys of an action, for the command palette: 'c · ^d' (the keymap's, where it remaps them)."""
    keys = []
    for context in CONTEXTS:
        bound = (keymap or {}).get(binding_id(context, act)) or act.keys.get(context) or ""
        for key in bound.split(","):
            key = {"slash": "/", "enter": "⏎"}.get(key.strip(), key.strip()).replace("ctrl+", "^")
            if key and key not in keys:
                keys.append(key)
    return " · ".join(keys)
