"""The copilot's dialogs: how to rewrite the draft, the conversation's summary, the tags it proposes.

Like the ticket dialogs, each returns the agent's answer through ``dismiss`` and the main
screen makes the call (``CopilotActions``). The summary dialog opens while the assistant is
still writing and is filled in when it answers, so the agent sees at once that it is on its way.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from zingtui import format
from zingtui.screens.dialogs import Dialog

# copilot.rewrite's styles, as the agent picks them
STYLES = (("shorter", "Shorter"), ("friendlier", "Friendlier"), ("formal", "More formal"),
          ("grammar", "Fix grammar and spelling"), ("translate", "In the customer's language"))


class RewriteDialog(Dialog):
    """↑↓ and Enter (or the style's digit) pick how the assistant rewrites the draft."""

    TITLE_TEXT = "Rewrite your draft"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(str(n), f"pick({n - 1})", show=False, tooltip=f"Rewrite: {label.lower()}", id=f"rewrite.{style}")
        for n, (style, label) in enumerate(STYLES, 1)
    ]

    def __init__(self, draft: str) -> None:
        super().__init__()
        self.draft = draft

    def body(self) -> ComposeResult:
        yield Label(f"“{format.first_line(self.draft, 64)}”", classes="copilot-reason")
        yield OptionList(*(Option(f"{n}  {label}") for n, (_, label) in enumerate(STYLES, 1)), id="styles")
        yield Static("↑↓ choose · ⏎ or 1-5 rewrite · esc cancel · then ctrl+z undoes", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#styles", OptionList).highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_pick(event.option_index)

    def action_pick(self, index: int) -> None:
        self.dismiss(STYLES[index][0])


class SummaryDialog(Dialog):
    """The conversation summed up by the assistant; n saves it as a private note on the ticket."""

    TITLE_TEXT = "Summary"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "note", "Save as note", tooltip="Save the summary as a private note on the ticket",
                id="summary.note"),
    ]

    def __init__(self, ticket: dict[str, Any]) -> None:
        super().__init__()
        self.ticket = ticket
        self.text: str | None = None

    def body(self) -> ComposeResult:
        yield Label(f"#{self.ticket['id']} · {format.contact_name(self.ticket)}")
        with VerticalScroll(id="summary"):
            yield Static("🤖 The assistant is reading the conversation…", id="summary-text")
        yield Static("esc close", id="summary-hint", classes="hint")

    def fill(self, text: str) -> None:
        """The assistant's summary, once it answers."""
        self.text = text.strip()
        self.query_one("#summary-text", Static).update(self.text or "The assistant had nothing to say.")
        if self.text:
            self.query_one("#summary-hint", Static).update("n save as a note · esc close")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "note":
            return bool(self.text)
        return True

    def action_note(self) -> None:
        if self.text:
            self.dismiss(self.text)


class TagProposalDialog(Dialog):
    """The tags the assistant proposes (the company's own, none the ticket has): space unticks, Enter adds."""

    TITLE_TEXT = "Proposed tags"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "apply", "Add", priority=True, tooltip="Add the ticked tags to the ticket",
                id="proposal.apply")]

    def __init__(self, ticket: dict[str, Any], tags: list[str], reason: str) -> None:
        super().__init__()
        self.ticket = ticket
        self.tags = tags
        self.reason = reason

    def body(self) -> ComposeResult:
        yield Label(f"The assistant proposes for #{self.ticket['id']} ({format.contact_name(self.ticket)}):")
        yield SelectionList[str](*((f"#{tag}", tag, True) for tag in self.tags), id="proposed")
        if self.reason.strip():
            yield Static(f"why: {self.reason.strip()}", classes="copilot-reason")
        yield Static("space untick · ⏎ add the ticked · esc cancel", classes="hint")

    def action_apply(self) -> None:
        self.dismiss(list(self.query_one("#proposed", SelectionList).selected))
