"""The supervisor's panel (``v``, supervisors and up): who is working, what waits, how the numbers are.

The Live tab shows ``report.live``: the agents (status, open tickets of their capacity, time since
their last reply), the queues (waiting, oldest wait, tickets past a target) and the numbers (state,
outbox depth), and below them the tickets of the agent or queue under the cursor (an agent's open
ones, a queue's waiting ones), each with its service-level time left. From there the supervisor opens
a ticket in the main screen (⏎), reassigns it (``t``: ticket.transfer to an agent or a queue) or
writes to its agent (``n``: zing has no chat between colleagues, so it is a private note on the
ticket, which the agent sees in the conversation). The Reports tab has the last two weeks'
figures (``report.summary``) and charts ``report.series`` with textual-plotext: tickets per day and
the average first response per hour of day, in the company's time zone.

It stays current from the events the main screen forwards (tickets, agents, numbers, messages,
breaches): a burst of them costs one ``report.live`` after a short pause, never a poll. The times
since a reply or a wait go on counting between calls from the console's clock.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, HelpPanel, Input, Label, Static, TabbedContent, TabPane
from textual.widgets.data_table import CellDoesNotExist
from textual_plotext import PlotextPlot

from zingtui import format, sla
from zingtui.screens.dialogs import Dialog, TransferDialog
from zingtui.session import Session

DEBOUNCE_S = 0.5  # a burst of events costs one report.live
LIVE_EVENTS = ("user.updated", "user.created", "connection.updated", "message.created", "queue.updated",
               "queue.created", "queue.deleted")
DAYS = 14  # the tickets-per-day chart
HOURS_OF = 30  # days behind the first-response-per-hour chart
TICKETS_PAGE = 100
NEEDS_ROLE = "The supervisor panel needs the supervisor role"
STATUS = {"online": "● online", "away": "◐ away", "offline": "○ offline"}


def summary_line(summary: dict[str, Any]) -> str:
    """The period's figures in one line above the charts: TME, first response, TMA, resolution, breaches, CSAT."""
    t = summary["total"]
    rating = f"{t['avg_rating']:.1f}/5 ({t['ratings']})" if t.get("avg_rating") is not None else "—"
    return (f"Last {DAYS} days ({summary['timezone']}): {t['tickets']} tickets · wait {sla.duration(t['avg_wait_s'])}"
            f" · first response {sla.duration(t['avg_first_response_s'])} · handling "
            f"{sla.duration(t['avg_handling_s'])} · resolution {sla.duration(t['avg_resolution_s'])} · breaches "
            f"{t['breached_first_response'] + t['breached_resolution']} · rating {rating}")


def since(seconds: float | None, elapsed: float) -> str:
    """A time since something, counted on by the seconds elapsed since zingd said it."""
    return "—" if seconds is None else sla.duration(seconds + elapsed)


class SupervisorScreen(Screen):
    """Live and Reports tabs; the keys act on the ticket under the cursor of the bottom table."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"supervisor--sla-ok", "supervisor--sla-close", "supervisor--sla-late",
                                             "supervisor--online", "supervisor--away", "supervisor--offline",
                                             "supervisor--down", "supervisor--warn"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="Back to the tickets", id="supervisor.back"),
        Binding("enter", "open_ticket", "Open", tooltip="Open the ticket under the cursor", id="supervisor.open"),
        Binding("t", "reassign", "Reassign", tooltip="Hand the ticket to another agent or a queue",
                id="supervisor.reassign"),
        Binding("n", "note", "Note to agent", tooltip="Write to the ticket's agent: a private note on the ticket",
                id="supervisor.note"),
        Binding("l", "show('live')", "Live", tooltip="Agents, queues and numbers now", id="supervisor.live"),
        Binding("r", "show('reports')", "Reports", tooltip="Charts: tickets per day, first response per hour",
                id="supervisor.reports"),
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="Fetch the panel again", id="supervisor.reload"),
        Binding("question_mark", "keys", "Keys", show=False, tooltip="Show every key that works here",
                id="supervisor.keys"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.live: dict[str, Any] = {"agents": [], "queues": [], "numbers": []}
        self.tickets: list[dict[str, Any]] = []
        self.scope: tuple[str, int | None] | None = None  # ("agent", id) or ("queue", id): whose tickets show
        self._fetched = 0.0  # the console's clock when report.live answered
        self._due: Timer | None = None
        self._charted = False

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="live", id="panel"):
            with TabPane("Live", id="live"):
                with Horizontal(id="live-top"):
                    yield DataTable(id="agents", cursor_type="row", zebra_stripes=True)
                    yield DataTable(id="queues", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="numbers", cursor_type="row", show_cursor=False)
                yield Label("", id="tickets-title", classes="section")
                yield DataTable(id="tickets", cursor_type="row", zebra_stripes=True, show_cursor=False)
            with TabPane("Reports", id="reports"):
                with Vertical():
                    yield Static("", id="reports-title", classes="section")
                    yield PlotextPlot(id="per-day")
                    yield PlotextPlot(id="per-hour")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#agents", DataTable).add_columns("Agent", "Status", "Open", "Last reply")
        self.query_one("#queues", DataTable).add_columns("Queue", "Waiting", "Oldest", "Breaches")
        numbers = self.query_one("#numbers", DataTable)
        numbers.add_columns("Number", "State", "Outbox")
        numbers.can_focus = False  # nothing to pick there: tab goes agents, queues, tickets
        self.query_one("#tickets", DataTable).add_columns("#", "Contact", "Status", "Agent", "Queue", "Waited",
                                                          "Target")
        self.query_one("#agents", DataTable).focus()
        self.set_interval(sla.TICK_S, self.redraw)
        self.load()

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"supervisor--{part}", partial=True)

    # -- loading ---------------------------------------------------------------
    @work(group="supervisor-live", exclusive=True)
    async def load(self) -> None:
        live = await self.app.call("report.live", {})
        if live is None:
            return
        self.live, self._fetched = live, self.app.clock()
        self.redraw()
        if self.scope is None:
            first = live["agents"][0]["id"] if live["agents"] else None
            self.scope = ("agent", first) if first is not None else None
        await self.load_tickets()

    async def load_tickets(self) -> None:
        """The tickets of the agent or queue under the cursor: an agent's open ones, a queue's waiting ones."""
        if self.scope is None:
            return
        kind, key = self.scope
        if kind == "agent":
            params = {"status": "open", "user_id": key}
        else:
            params = {"status": "pending", **({"queue_id": key} if key is not None else {})}
        out = await self.app.call("ticket.list", {**params, "limit": TICKETS_PAGE}, quiet=True)
        if out is None or self.scope != (kind, key):
            return
        rows = out["tickets"]
        if kind == "queue" and key is None:
            rows = [t for t in rows if t.get("queue_id") is None]
        self.tickets = sorted(rows, key=lambda t: t["created_at"])
        self.draw_tickets()

    def daemon_event(self, kind: str, data: dict[str, Any]) -> None:
        """Anything that moves a figure: one reload after the burst."""
        if kind.startswith("ticket.") or kind in LIVE_EVENTS:
            if self._due is None:
                self._due = self.set_timer(DEBOUNCE_S, self._reload_due)

    def on_screen_resume(self) -> None:
        """Back from a dialog: the events meanwhile went to the dialog, not here."""
        if self._fetched:
            self.load()

    def _reload_due(self) -> None:
        self._due = None
        self.load()

    def action_reload(self) -> None:
        self.load()
        if self._charted:
            self.load_charts()

    # -- drawing -------------------------------------------------------------
    def redraw(self) -> None:
        """The three tables from the last report.live, with the times counted on by the clock."""
        elapsed = max(0.0, self.app.clock() - self._fetched) if self._fetched else 0.0
        self._refill("#agents", [
            (a["id"], (a["name"], Text(STATUS.get(a["status"], a["status"]), style=self._style(a["status"])),
                       self._load(a), since(a.get("since_last_reply_s"), elapsed)))
            for a in self.live["agents"]])
        self._refill("#queues", [
            (q["id"], (q["name"] or "(menu)", str(q["waiting"]),
                       since(q.get("oldest_wait_s"), elapsed) if q["waiting"] else "—",
                       Text(str(q["breaches"]), style=self._style("sla-late") if q["breaches"] else "")))
            for q in self.live["queues"]])
        self._refill("#numbers", [
            (n["id"], (n["name"], self._state(n), str(n["outbox"]))) for n in self.live["numbers"]])
        numbers = self.query_one("#numbers", DataTable)
        numbers.styles.height = len(self.live["numbers"]) + 1
        self.draw_tickets()

    def _load(self, agent: dict[str, Any]) -> Text:
        cap = agent.get("max_tickets") or 0
        text = f"{agent['open_tickets']}/{cap}" if cap else str(agent["open_tickets"])
        full = cap and agent["open_tickets"] >= cap
        return Text(text, style=self._style("warn") if full else "")

    def _state(self, number: dict[str, Any]) -> Text:
        state = number["state"]
        if state == "connected":
            return Text(state, style=self._style("online"))
        reason = number.get("status_reason")
        return Text(f"{state}: {reason}" if reason else state, style=self._style("down"))

    def _refill(self, selector: str, rows: list[tuple[Any, tuple]]) -> None:
        """Replace a table's rows and keep the cursor on the same row key."""
        table = self.query_one(selector, DataTable)
        keep = self._key_at(table)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=str(key))
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False, scroll=False)

    @staticmethod
    def _key_at(table: DataTable) -> str | None:
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # the cursor is past the rows (they shrank)
            return None

    def draw_tickets(self) -> None:
        now = self.app.clock()
        queues = self.directory_queues()
        rows = []
        for t in self.tickets:
            due = sla.due(t, now, queues)
            target = Text(due.text, style=self._style(f"sla-{due.tone}")) if due else Text("")
            waited = sla.duration(((t.get("accepted_at") or now) if t["status"] == "open" else now) - t["created_at"])
            rows.append((t["id"], (str(t["id"]), format.first_line(format.contact_name(t), 24), t["status"],
                                   t.get("user_name") or "—", t.get("queue_name") or "—", waited, target)))
        self._refill("#tickets", rows)
        self.query_one("#tickets-title", Label).update(self._scope_title())

    def _scope_title(self) -> str:
        if self.scope is None:
            return "Tickets"
        kind, key = self.scope
        if kind == "agent":
            name = next((a["name"] for a in self.live["agents"] if a["id"] == key), "the agent")
            return f"{name}'s open tickets ({len(self.tickets)})"
        name = next((q["name"] for q in self.live["queues"] if q["id"] == key), None) or "the menu"
        return f"Waiting in {name} ({len(self.tickets)})"

    def directory_queues(self) -> list[dict[str, Any]]:
        main = getattr(self.app, "main_screen", None)
        return main.directory.queues if main is not None else []

    # -- choosing ------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.has_focus:
            self.choose(event.data_table)

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, DataTable):
            self.choose(event.widget)
        self._cursor_on_tickets()

    def on_descendant_blur(self) -> None:
        self._cursor_on_tickets()

    def _cursor_on_tickets(self) -> None:
        """The bottom table marks a ticket only while it has the keys: the keys act on that one (and a
        marked row would hide its red or amber)."""
        table = self.query_one("#tickets", DataTable)
        table.show_cursor = table.has_focus

    def choose(self, table: DataTable) -> None:
        """The agents' or the queues' table has the cursor: the bottom table shows that row's tickets."""
        key = self._key_at(table) if table.id in ("agents", "queues") else None
        if key is None:
            return
        scope = ("agent" if table.id == "agents" else "queue", None if key == "None" else int(key))
        if scope != self.scope:
            self.scope = scope
            self.tickets = []
            self.draw_tickets()
            self.run_worker(self.load_tickets(), group="supervisor-tickets", exclusive=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "tickets":
            self.action_open_ticket()
        elif event.data_table.id in ("agents", "queues"):
            self.query_one("#tickets", DataTable).focus()

    @property
    def ticket(self) -> dict[str, Any] | None:
        """The ticket under the bottom table's cursor, when that table has the keys."""
        table = self.query_one("#tickets", DataTable)
        key = self._key_at(table) if table.has_focus else None
        return next((t for t in self.tickets if str(t["id"]) == key), None)

    def _picked(self) -> dict[str, Any] | None:
        ticket = self.ticket
        if ticket is None:
            self.notify("Pick a ticket in the bottom table first (tab moves there)", severity="warning")
        return ticket

    # -- acting --------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_keys(self) -> None:
        if self.query(HelpPanel):
            self.app.action_hide_help_panel()
        else:
            self.app.action_show_help_panel()

    def action_show(self, tab: str) -> None:
        """Switch tabs; the focus goes along (a focused table left behind would switch back to its tab)."""
        self.set_focus(None)
        self.query_one("#panel", TabbedContent).active = tab
        if tab == "live":
            self.query_one("#agents", DataTable).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "reports" and not self._charted:
            self._charted = True
            self.load_charts()

    def action_open_ticket(self) -> None:
        ticket = self._picked()
        main = self.app.main_screen
        if ticket is not None and main is not None:
            self.app.pop_screen()
            main.open_by_id(ticket["id"])

    def action_reassign(self) -> None:
        ticket = self._picked()
        main = self.app.main_screen
        if ticket is None or main is None:
            return
        d = main.directory
        dialog = TransferDialog(ticket, d.queues, list(d.users.values()), self.session.me)
        self.app.push_screen(dialog, lambda answer: answer and self.reassign(ticket, answer))

    @work(group="supervisor-act")
    async def reassign(self, ticket: dict[str, Any], answer: dict[str, Any]) -> None:
        params = {"id": ticket["id"], **{k: v for k, v in answer.items() if v is not None}}
        done = await self.app.call("ticket.transfer", params)
        if done is not None:
            self.notify(f"#{ticket['id']} is now with {done.get('user_name') or done.get('queue_name') or 'the queue'}")
            self.load()

    def action_note(self) -> None:
        ticket = self._picked()
        if ticket is not None:
            self.app.push_screen(AgentNoteDialog(ticket), lambda body: body and self.note(ticket, body))

    @work(group="supervisor-act")
    async def note(self, ticket: dict[str, Any], body: str) -> None:
        if await self.app.call("note.create", {"ticket_id": ticket["id"], "body": body}) is not None:
            self.notify(f"Note left on #{ticket['id']} for {ticket.get('user_name') or 'its next agent'}")

    # -- charts --------------------------------------------------------------
    @work(group="supervisor-charts", exclusive=True)
    async def load_charts(self) -> None:
        now = self.app.clock()
        period = {"since": now - DAYS * 86400, "until": now}
        total = await self.app.call("report.summary", period)
        days = await self.app.call("report.series", {"by": "day", **period})
        hours = await self.app.call("report.series", {"by": "hour", "since": now - HOURS_OF * 86400, "until": now})
        if total is None or days is None or hours is None:
            return
        self.query_one("#reports-title", Static).update(summary_line(total))
        per_day = self.query_one("#per-day", PlotextPlot)
        plt = per_day.plt
        plt.clear_data()
        plt.clear_figure()
        labels = [r["bucket"][5:] for r in days["rows"]]  # 2026-11-03 -> 11-03
        plt.bar(labels, [r["tickets"] for r in days["rows"]])
        plt.title("Tickets per day")
        per_day.refresh()
        per_hour = self.query_one("#per-hour", PlotextPlot)
        plt = per_hour.plt
        plt.clear_data()
        plt.clear_figure()
        plt.bar([r["bucket"] for r in hours["rows"]],
                [round((r["avg_first_response_s"] or 0) / 60, 1) for r in hours["rows"]])
        plt.title("Average first response (minutes) by hour of day")
        per_hour.refresh()


class AgentNoteDialog(Dialog):
    """A few words for the ticket's agent; saved as a private note (the customer never sees it)."""

    TITLE_TEXT = "Note to the agent"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "save", "Leave note", priority=True,
                                                     id="agent_note.save")]

    def __init__(self, ticket: dict[str, Any]) -> None:
        super().__init__()
        self.ticket = ticket

    def body(self) -> ComposeResult:
        who = self.ticket.get("user_name") or "whoever takes it"
        yield Label(f"#{self.ticket['id']} ({format.contact_name(self.ticket)}), for {who}:")
        yield Input(placeholder="Only agents see it, in the conversation", id="agent-note")
        yield Static("⏎ leave the note · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#agent-note", Input).focus()

    def action_save(self) -> None:
        body = self.query_one("#agent-note", Input).value.strip()
        if body:
            self.dismiss(body)
