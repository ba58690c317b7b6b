"""Campaigns (supervisors): each one's progress, live, with start, pause and cancel.

The same figures as ``zingctl campaigns watch``: done over total, sent /
delivered / read / failed, the rate and the projected end. Refreshed by
``campaign.updated`` events and a poll every few seconds (acks move counts
without a campaign event).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.progress_bar import ProgressBar
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from zingtui.screens.dialogs import Dialog

STATUSES = ("running", "scheduled", "paused", "done", "cancelled", "draft")

Styler = Callable[[str], Style]


def progress_line(c: dict[str, Any], now: float, style: Styler) -> Table:
    """One campaign as a bar and its counts (fits 80 columns); ``style`` names a part, the theme colours it."""
    n = c["counts"]
    done = n["total"] - n["pending"] - n["queued"]
    grid = Table.grid(padding=(0, 1))
    status = style(c["status"]) if c["status"] in STATUSES else ""
    grid.add_row(Text(f"#{c['id']} {c['name']}"[:28], style=style("name")),
                 ProgressBar(total=max(n["total"], 1), completed=done, width=24),
                 Text(f"{done}/{n['total']}"), Text(c["status"], style=status))
    detail = (f"sent {n['sent']} · delivered {n['delivered']} · read {n['read']} · failed {n['failed']} · "
              f"skipped {n['skipped'] + n['opted_out']}")
    end = (c.get("projection") or {}).get("last_send_at")
    if end and c["status"] == "running":
        detail += f" · ends in ~{max(0, int(end - now)) // 60} min"
    grid.add_row(Text(""), Text(detail, style=style("detail")))
    if c.get("stop_reason"):
        grid.add_row(Text(""), Text(c["stop_reason"], style=style("stopped")))
    return grid


class CampaignsScreen(Dialog):
    """A campaign's status, counts and stop reason are coloured by component classes in app.tcss."""

    TITLE_TEXT = "Campaigns"
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        f"campaigns--{part}" for part in ("name", "detail", "stopped", "empty", *STATUSES)}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start/resume", id="campaigns.start"),
        Binding("p", "pause", "Pause", id="campaigns.pause"),
        Binding("x", "cancel_campaign", "Cancel", id="campaigns.cancel")]

    def __init__(self) -> None:
        super().__init__()
        self.campaigns: list[dict[str, Any]] = []

    def body(self) -> ComposeResult:
        yield OptionList(id="campaigns")
        yield Static("s start/resume · p pause · x cancel · esc close", classes="hint")

    def on_mount(self) -> None:
        self.refresh_list()
        self.set_interval(3.0, self.refresh_list)

    @work(group="campaigns", exclusive=True)
    async def refresh_list(self) -> None:
        rows = await self.app.call("campaign.list", {}, quiet=True)
        if rows is not None:
            self.campaigns = rows
            self.show()

    def show(self) -> None:
        view = self.query_one("#campaigns", OptionList)
        keep = view.highlighted
        view.clear_options()
        now = time.time()
        for c in self.campaigns:
            view.add_option(Option(progress_line(c, now, self._style)))
        if not self.campaigns:
            view.add_option(Option(Text("No campaigns yet: zingctl campaigns create", style=self._style("empty")),
                                   disabled=True))
        else:
            view.highlighted = keep if keep is not None and keep < len(self.campaigns) else 0

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"campaigns--{part}", partial=True)

    def daemon_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "campaign.updated":
            fresh = data["campaign"]
            self.campaigns = [fresh if c["id"] == fresh["id"] else c for c in self.campaigns]
            if all(c["id"] != fresh["id"] for c in self.campaigns):
                self.campaigns.insert(0, fresh)
            self.show()

    @property
    def current(self) -> dict[str, Any] | None:
        index = self.query_one("#campaigns", OptionList).highlighted
        return self.campaigns[index] if index is not None and index < len(self.campaigns) else None

    def action_start(self) -> None:
        self.control("campaign.start")

    def action_pause(self) -> None:
        self.control("campaign.pause")

    def action_cancel_campaign(self) -> None:
        self.control("campaign.cancel")

    @work(group="campaign-control")
    async def control(self, method: str) -> None:
        c = self.current
        if c is None:
            return
        out = await self.app.call(method, {"id": c["id"]})
        if out is not None:
            self.notify(f"Campaign {c['name']}: {out['status']}")
            self.daemon_event("campaign.updated", {"campaign": out})
