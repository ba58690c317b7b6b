"""The supervisor's panel (v) and the service-level targets on tickets, through a real zingd: the live
tables follow events, a supervisor opens, reassigns and leaves a note for the agent, the charts load;
an agent is told the panel is for supervisors; a ticket's time left goes amber, then red at its breach."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from tests.helpers import Zingd
from tests.tui.conftest import ANA, Desk, console, from_palette, toasts, until
from zingd.demo import ADMIN
from zingtui import sla
from zingtui.screens.dialogs import TransferDialog
from zingtui.screens.main import MainScreen
from zingtui.screens.supervisor import NEEDS_ROLE, AgentNoteDialog, SupervisorScreen

SUPERVISOR = (ADMIN[0], ADMIN[2])  # Demo Co's admin: a superadmin, so a supervisor and more


def cells(screen, selector: str) -> list[list[str]]:
    table = screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def row(screen, selector: str, first: str) -> list[str] | None:
    return next((r for r in cells(screen, selector) if r[0] == first), None)


async def open_panel(app, pilot) -> SupervisorScreen:
    app.main_screen.list.focus()
    await pilot.press("v")
    return await until(pilot, lambda: isinstance(app.screen, SupervisorScreen) and app.screen, what="the panel")


async def test_the_panel_follows_events_and_acts_on_an_agents_ticket(desk, tokens):
    ana = await desk.as_agent(*ANA)
    await desk.say("5511977770001", "oi")
    first = (await desk.call("ticket.list", {"status": "pending"}))["tickets"][0]
    await asyncio.to_thread(ana.call, "ticket.accept", {"id": first["id"]})
    async with console(desk.z, tokens, credentials=SUPERVISOR, size=(110, 32)) as (app, pilot):
        screen = await open_panel(app, pilot)
        await until(pilot, lambda: (row(screen, "#agents", "Ana Agent") or [None] * 3)[2].startswith("1"),
                    what="Ana with one open ticket")
        assert row(screen, "#numbers", "Demo WhatsApp")[1] == "connected"
        waiting = lambda: sum(int(r[1]) for r in cells(screen, "#queues"))  # noqa: E731
        assert waiting() == 0
        await desk.say("5511977770002", "alguém aí?")
        await until(pilot, lambda: waiting() == 1, what="the new customer waiting, from the events")

        agents = screen.query_one("#agents", DataTable)
        assert agents.has_focus and agents.cursor_row == 0  # Ana's row: by name, Ana, Bruno, Demo Admin
        await until(pilot, lambda: [r[0] for r in cells(screen, "#tickets")] == [str(first["id"])],
                    what="Ana's open ticket below")
        await pilot.press("n")
        await until(pilot, lambda: any("Pick a ticket" in t for t in toasts(app, "warning")), what="pick first")
        await pilot.press("enter")  # on the agent: down to their tickets
        await until(pilot, lambda: screen.query_one("#tickets", DataTable).has_focus, what="the tickets table")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, AgentNoteDialog), what="the note dialog")
        await pilot.press(*"ligue para o cliente", "enter")
        await until(pilot, lambda: app.screen is screen and any("Note left" in t for t in toasts(app)),
                    what="the note saved")
        notes = await desk.call("note.list", {"ticket_id": first["id"]})
        assert [n["body"] for n in notes] == ["ligue para o cliente"]

        await pilot.press("t")
        dialog = await until(pilot, lambda: isinstance(app.screen, TransferDialog) and app.screen, what="reassign")
        bruno = next(i for i, t in enumerate(dialog.targets) if "Bruno" in t["label"])
        dialog.query_one("#targets").highlighted = bruno
        await pilot.press("enter")
        await until(pilot, lambda: (row(screen, "#agents", "Bruno Agent") or [None] * 3)[2].startswith("1"),
                    what="Bruno has it now")
        assert (await desk.call("ticket.get", {"id": first["id"]}))["user_name"] == "Bruno Agent"

        await pilot.press("r")
        title = screen.query_one("#reports-title", Static)
        await until(pilot, lambda: "America/Sao_Paulo" in str(title.content), what="the charts loaded")
        assert "2 tickets" in str(title.content)
        assert screen.query_one("#per-day", PlotextPlot).plt._active.monitor  # something was plotted
        await pilot.press("l")
        await until(pilot, lambda: agents.has_focus, what="the live tab, on the agents")
        await pilot.press("down", "enter")  # Bruno's row, down to his tickets
        await until(pilot, lambda: [r[0] for r in cells(screen, "#tickets")] == [str(first["id"])],
                    what="Bruno's ticket below")
        await pilot.press("enter")
        main = await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen, what="back")
        await until(pilot, lambda: main.current and main.current["id"] == first["id"], what="the ticket open")


async def test_an_agent_is_told_the_panel_is_for_supervisors(desk, tokens):
    async with console(desk.z, tokens) as (app, pilot):
        assert "Supervisor panel" in await from_palette(app, pilot, "supervisor")
        await pilot.press("enter")
        await until(pilot, lambda: NEEDS_ROLE in toasts(app, "warning"), what="the reason")
        assert isinstance(app.screen, MainScreen)


SPEED = 180.0  # virtual seconds per real second: the 1-hour target passes in 20 s
TARGET_S = 3600.0


@pytest.fixture
def fast(tmp_path):
    z = Zingd(tmp_path / "fast", demo=True, env={"ZING_CLOCK_SPEED": str(SPEED)}).start()
    client = z.client()
    yield Desk(z, client)
    client.close()
    z.kill()


def follow(desk: Desk):
    """The daemon's virtual clock, for the console: its time left must read as zingd's."""
    virtual, real = desk.client.call("daemon.status")["clock"], time.time()
    return lambda: virtual + (time.time() - real) * SPEED


def tone_of(widget, component: str, text: str) -> str | None:
    """Which SLA component class colours the part of ``text`` (a rendered line) that shows the time left."""
    for part in ("ok", "close", "late"):
        style = widget.get_component_rich_style(f"{component}--sla-{part}", partial=True)
        for span in text.spans:
            shown = text.plain[span.start:span.end]
            if ("reply" in shown or "solve" in shown) and span.style == style:
                return part
    return None


async def test_time_left_goes_amber_then_red_at_the_breach(fast, tokens, monkeypatch):
    monkeypatch.setattr(sla, "TICK_S", 0.2)  # the redraw the clock alone asks for, often enough for 20 s
    queue = next(q for q in await fast.call("queue.list") if q["name"] == "Vendas")
    await fast.call("queue.update", {"id": queue["id"], "sla_first_response_s": TARGET_S, "sla_clock": "calendar"})
    connection = (await fast.call("connection.list"))[0]
    await fast.call("connection.set_queues", {"id": connection["id"], "queue_ids": [queue["id"]]})
    async with console(fast.z, tokens, credentials=SUPERVISOR, clock=follow(fast)) as (app, pilot):
        main = app.main_screen
        await fast.say("5511977770003", "quero comprar")
        ticket = await until(pilot, lambda: main.list.rows and main.list.rows[0].get("first_response_due_at")
                             and main.list.rows[0], what="the pending ticket, routed into Vendas with its due time")
        line = lambda: main.list._line(main.list.rows[0], 1, 60)  # noqa: E731
        header = lambda: main.conversation.query_one("#chat-title", Static).content  # noqa: E731
        await until(pilot, lambda: main.current and main.current["id"] == ticket["id"], what="opened")
        assert tone_of(main.list, "ticket-list", line()) == "ok" and "reply in" in line().plain
        await until(pilot, lambda: tone_of(main.list, "ticket-list", line()) == "close", timeout=60, what="amber")
        await until(pilot, lambda: tone_of(main.conversation, "conversation", header()) == "close", what="amber too")
        panel = await open_panel(app, pilot)  # the breach reaches it too, as an event
        await until(pilot, lambda: (row(panel, "#queues", "Vendas") or [None] * 4)[3] == "1", timeout=60,
                    what="the breach counted on the panel")
        assert main.list.rows[0].get("breached_first_response")  # the ticket.sla_breached event's view
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main, what="back")
        assert tone_of(main.list, "ticket-list", line()) == "late" and "late" in line().plain
        await until(pilot, lambda: tone_of(main.conversation, "conversation", header()) == "late", what="red")


def test_which_target_runs_and_its_tone():
    queues = [{"id": 1, "sla_first_response_s": 3600.0, "sla_resolution_s": 86400.0}]
    t = {"status": "pending", "queue_id": 1, "first_response_at": None, "first_response_due_at": 1000.0 + 3600,
         "resolution_due_at": 1000.0 + 86400, "breached_first_response": 0, "breached_resolution": 0}
    assert (sla.due(t, 1000.0, queues).tone, sla.due(t, 1000.0, queues).text) == ("ok", "reply in 1h00m")
    assert sla.due(t, 1000.0 + 2900, queues).tone == "close"  # 11m40s left: under a fifth of the hour
    assert sla.due(t, 1000.0 + 2900, []).tone == "ok"  # the queue unknown: only the ten minutes count
    assert sla.due({**t, "breached_first_response": 1}, 1000.0, queues).text == "reply late"
    answered = {**t, "status": "open", "first_response_at": 1500.0}
    assert sla.due(answered, 1000.0 + 90000, queues).text == "solve 1h00m late"
    assert sla.due({**answered, "status": "closed"}, 0, queues) is None
