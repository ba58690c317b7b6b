"""The queue tabs: Pending / Open / Closed / All, with counts and unread badges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from zingtui.model import Tab


@dataclass(frozen=True, slots=True)
class Badge:
    tab: Tab
    count: int | None
    unread: int
    more: bool


class TabBar(Widget):
    """One line of tabs; shortens the titles when the pane is narrow. Click or 1-4 to switch.

    Its parts are component classes styled in app.tcss: an inactive tab's number and count are muted, the
    active tab's title stands out, unread counts catch the eye.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"tab-bar--muted", "tab-bar--title", "tab-bar--active",
                                             "tab-bar--unread"}

    badges: reactive[tuple[Badge, ...]] = reactive(tuple)
    active = reactive("pending")

    @dataclass
    class Chosen(Message):
        key: str

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"tab-bar--{part}", partial=True)

    def _parts(self, short: bool) -> list[tuple[str, Text]]:
        parts = []
        muted = self._style("muted")
        for n, badge in enumerate(self.badges, 1):
            on = badge.tab.key == self.active
            title = badge.tab.short if short else badge.tab.title
            part = Text().append(f" {n}:" if not short else " ", style="" if on else muted)
            part.append(title, style=self._style("active" if on else "title"))
            if badge.count is not None:
                part.append(f" {badge.count}{'+' if badge.more else ''}", style="" if on else muted)
            if badge.unread:
                part.append(f" ●{badge.unread}", style=self._style("unread"))
            parts.append((badge.tab.key, part))
        return parts

    def _fitted(self) -> list[tuple[str, Text]]:
        parts = self._parts(short=False)
        if sum(p.cell_len for _, p in parts) > self.size.width:
            parts = self._parts(short=True)
        return parts

    def render(self) -> Text:
        text = Text()
        for _, part in self._fitted():
            text.append_text(part)
        return text

    def on_click(self, event: Click) -> None:
        x = 0
        for key, part in self._fitted():
            x += part.cell_len
            if event.x < x:
                self.post_message(self.Chosen(key))
                return
