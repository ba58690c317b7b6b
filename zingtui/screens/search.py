"""Full-text search over every conversation the agent may see (message.search)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from zingtui import format
from zingtui.screens.dialogs import Dialog


class SearchScreen(Dialog):
    """Type words (``word*`` for a prefix), Enter searches; ↓ to the results, Enter opens the ticket."""

    TITLE_TEXT = "Search messages"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"search--name", "search--time"}
    BINDINGS: ClassVar[list[BindingType]] = [Binding("down", "results", show=False, tooltip="Down to the results",
                                                     id="search.results")]

    def __init__(self) -> None:
        super().__init__()
        self.results: list[dict[str, Any]] = []

    def body(self) -> ComposeResult:
        yield Input(placeholder="words to find", id="query")
        yield Label("", id="summary", classes="hint")
        yield OptionList(id="results")
        yield Static("⏎ search · ↓ results · ⏎ open · esc close", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.search(event.value.strip())

    @work(exclusive=True, group="search")
    async def search(self, query: str) -> None:
        self.query_one("#summary", Label).update("searching…")
        found = await self.app.call("message.search", {"query": query, "limit": 50})
        self.results = found or []
        clock = self.app.clock()
        options = []
        for hit in self.results:
            line = Text.assemble((format.contact_name(hit), self._style("name")),
                                 f"  #{hit['ticket_id']} {hit['ticket_status']}  ",
                                 (format.short_when(hit.get("created_at"), clock), self._style("time")), "\n  ",
                                 format.first_line(hit.get("body") or "", 120))
            options.append(Option(line))
        results = self.query_one("#results", OptionList)
        results.clear_options()
        results.add_options(options)
        self.query_one("#summary", Label).update(f"{len(self.results)} messages" if found is not None else "")
        if options:
            results.highlighted = 0

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"search--{part}", partial=True)

    def action_results(self) -> None:
        if self.results:
            self.query_one("#results", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.results[event.option_index]["ticket_id"])
