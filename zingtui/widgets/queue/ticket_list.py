"""The ticket list: a line-API view, so ten thousand rows cost what twenty visible ones do.

Each ticket is two lines (contact and time; last message, the time left on its service-level
target (zingtui.sla: amber when close, red when missed) and unread count).
The list never owns the data: the queue pane hands it the rows of the current tab
and it keeps the cursor on the same ticket when they change. When that ticket leaves the
list on its own (a colleague closed or took it) the list holds: no row is marked and none is
opened, so the conversation the agent is typing in stays on screen until they move. Every colour is a
component class (``ticket-list--unread``, ``ticket-list--tags``...) styled in app.tcss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from zingtui import actions, format, sla

ROW = 2
PAGE_AHEAD = 40  # ask for the next page when the cursor or the view is this many rows from the end


@actions.forwarded
class TicketList(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ticket-list--cursor", "ticket-list--cursor-blurred", "ticket-list--empty",
        "ticket-list--unread", "ticket-list--unread-name", "ticket-list--tags", "ticket-list--time",
        "ticket-list--extra", "ticket-list--badge", "ticket-list--preview",
        "ticket-list--sla-ok", "ticket-list--sla-close", "ticket-list--sla-late",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False, tooltip="The ticket above", id="list.up"),
        Binding("down,j", "move(1)", "Down", show=False, tooltip="The ticket below", id="list.down"),
        Binding("pageup", "move(-10)", show=False, tooltip="Ten tickets up", id="list.page_up"),
        Binding("pagedown", "move(10)", show=False, tooltip="Ten tickets down", id="list.page_down"),
        Binding("home", "move(-1000000)", show=False, tooltip="The first ticket", id="list.first"),
        Binding("end", "move(1000000)", show=False, tooltip="The last loaded ticket", id="list.last"),
        *actions.bindings(actions.LIST),
        Binding("q", "app.quit", "Quit", tooltip="Go offline and leave", id="list.quit"),
    ]

    cursor = reactive(0, always_update=True)

    @dataclass
    class Highlighted(Message):
        ticket: dict[str, Any] | None

    @dataclass
    class NeedMore(Message):
        """The view is near the end of what is loaded."""

    def __init__(self, *, clock: Callable[[], float] = time.time, queues: Callable[[], list[dict[str, Any]]] = list,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.queues = queues  # the queues with their service-level targets (amber below a fifth of one)
        self.rows: list[dict[str, Any]] = []
        self.empty_text = "No tickets"
        self.clock = clock
        self._highlighted: int | None = None
        self.held = False  # the open ticket left the rows; the cursor marks nothing until the agent moves

    # -- data --------------------------------------------------------------
    def show(self, rows: list[dict[str, Any]], keep: int | None = None, reset: bool = False,
             hold: bool = True) -> None:
        """Show these rows with the cursor on ticket ``keep`` if present, else where it was (or on top).

        The view does not jump: new tickets appear above a cursor that stays on its ticket. With
        ``hold``, a ``keep`` that was shown and is gone holds the list (see above) instead of
        opening the row that took its place.
        """
        present = keep is not None and any(row["id"] == keep for row in rows)
        if present or not hold:
            self.held = False
        elif keep is not None and keep == self._highlighted:  # it was the row marked (rows change in place)
            self.held = True
        self.rows = rows
        self.virtual_size = Size(self.size.width, len(rows) * ROW)
        index = self.index_of(keep) if keep is not None else None
        if index is None:
            index = 0 if reset else self.cursor
        index = max(0, min(index, len(rows) - 1))
        self.set_reactive(TicketList.cursor, index)
        if reset:
            self.scroll_to(y=max(0, (index + 1) * ROW - self.size.height), animate=False, immediate=True)
        self.refresh()
        if not self.held:
            self._announce()

    def release(self) -> None:
        """Stop holding: open the row under the cursor (after the agent's own close or transfer)."""
        if self.held:
            self.held = False
            self.refresh()
            self._announce()

    @property
    def current(self) -> dict[str, Any] | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def index_of(self, ticket_id: int) -> int | None:
        for i, row in enumerate(self.rows):
            if row["id"] == ticket_id:
                return i
        return None

    def select(self, ticket_id: int) -> bool:
        index = self.index_of(ticket_id)
        if index is not None:
            self.held = False
            self.cursor = index
        return index is not None

    # -- cursor ------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        if self.rows:
            if self.held and abs(delta) == 1:
                delta = 0  # the first step lands on the row that took the open ticket's place
            self.held = False
            self.cursor = max(0, min(self.cursor + delta, len(self.rows) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_lines(old * ROW, ROW)
        self.refresh_lines(new * ROW, ROW)
        self.scroll_to_region(Region(0, new * ROW, 1, ROW), animate=False, immediate=True)
        if not self.held:
            self._announce()
        if len(self.rows) - new < PAGE_AHEAD:
            self.post_message(self.NeedMore())

    def _announce(self) -> None:
        """Tell the screen when the cursor is on a different ticket (not when the same one changes)."""
        ticket = self.current
        ticket_id = ticket["id"] if ticket else None
        if ticket_id != self._highlighted:
            self._highlighted = ticket_id
            self.post_message(self.Highlighted(ticket))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if len(self.rows) - (new + self.size.height) / ROW < PAGE_AHEAD:
            self.post_message(self.NeedMore())

    def on_click(self, event: Click) -> None:
        index = int(event.y + self.scroll_offset.y) // ROW
        if 0 <= index < len(self.rows):
            self.held = False
            self.cursor = index

    def on_mount(self) -> None:
        self.set_interval(sla.TICK_S, self._tick)

    def _tick(self) -> None:
        """Time left on the service-level targets goes down by itself: redraw when a row shows one."""
        if any(sla.running(row) for row in self.rows):
            self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) * ROW)

    # -- drawing -----------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        line = y + self.scroll_offset.y
        index, part = divmod(line, ROW)
        base = self.rich_style
        if not self.rows:
            if y == 1:
                style = self.get_component_rich_style("ticket-list--empty")
                return Strip([Segment(f" {self.empty_text}".ljust(width)[:width], style)])
            return Strip.blank(width, base)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        ticket = self.rows[index]
        text = self._line(ticket, part, width)
        strip = Strip(list(text.render(self.app.console)), text.cell_len).adjust_cell_length(width, base)
        if index == self.cursor and not self.held:
            name = "ticket-list--cursor" if self.has_focus else "ticket-list--cursor-blurred"
            strip = strip.apply_style(self.get_component_rich_style(name))
        return strip

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"ticket-list--{part}", partial=True)

    def _line(self, ticket: dict[str, Any], part: int, width: int) -> Text:
        unread = ticket.get("unread") or 0
        if part == 0:
            when = format.short_when(ticket.get("last_message_at"), self.clock())
            mark = Text("● " if unread else "  ", style=self._style("unread"))
            name = Text().append(format.contact_name(ticket), style=self._style("unread-name") if unread else "")
            tags = " ".join(f"#{t}" for t in ticket.get("tags") or ())
            if tags:
                name.append(f" {tags}", style=self._style("tags"))
            room = max(1, width - 2 - len(when) - 1)
            name.truncate(room, overflow="ellipsis")
            name.pad_right(room - name.cell_len)
            return Text.assemble(mark, name, " ", (when, self._style("time")))
        right = Text()
        due = sla.due(ticket, self.clock(), self.queues())
        if due is not None:
            right.append(f" {due.text}", style=self._style(f"sla-{due.tone}"))
        if width >= 44:
            extra = " · ".join(x for x in (ticket.get("queue_name"), ticket.get("user_name")) if x)
            if extra:
                right.append(f" {extra}", style=self._style("extra"))
        if unread:
            right.append(f" {unread} ", style=self.get_component_rich_style("ticket-list--badge"))  # whole: its
            # text colour is the theme's contrast for the badge's background, which a partial style can't work out
        preview = Text("  " + format.first_line(format.row_preview(ticket), 200), style=self._style("preview"))
        room = max(1, width - right.cell_len)
        preview.truncate(room, overflow="ellipsis")
        preview.pad_right(room - preview.cell_len)
        return Text.assemble(preview, right)
