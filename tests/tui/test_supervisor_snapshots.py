"""Snapshots of the supervisor's panel (live tables, an agent's tickets with their targets, the charts)
from fixed data at a frozen clock. Update after an intended change:
pytest tests/tui/test_supervisor_snapshots.py --snapshot-update"""

from __future__ import annotations


import pytest

from tests.tui import fakes
from tests.tui.conftest import fake_console, until
from tests.tui.test_snapshots import queue_ready
from zingtui.screens.supervisor import SupervisorScreen

H, MIN, NOW = 3600.0, fakes.MIN, fakes.NOW
SUPERVISOR = {**fakes.ANA, "role": "supervisor"}
LIVE = {"at": NOW,
        "agents": [{"id": 2, "name": "Ana Agent", "role": "supervisor", "status": "online", "open_tickets": 2,
                    "max_tickets": 5, "last_reply_at": NOW - 6 * MIN, "since_last_reply_s": 6 * MIN},
                   {"id": 3, "name": "Bruno Agent", "role": "agent", "status": "away", "open_tickets": 4,
                    "max_tickets": 4, "last_reply_at": NOW - 2 * H, "since_last_reply_s": 2 * H},
                   {"id": 4, "name": "Carla Agent", "role": "agent", "status": "offline", "open_tickets": 0,
                    "max_tickets": 5, "last_reply_at": None, "since_last_reply_s": None}],
        "queues": [{"id": 2, "name": "Suporte", "waiting": 1, "oldest_wait_s": 2 * MIN, "breaches": 0},
                   {"id": 1, "name": "Vendas", "waiting": 1, "oldest_wait_s": 9 * MIN, "breaches": 2},
                   {"id": None, "name": None, "waiting": 1, "oldest_wait_s": 86400.0, "breaches": 0}],
        "numbers": [{"id": 1, "name": "Demo WhatsApp", "kind": "sim", "state": "connected", "status_reason": "",
                     "outbox": 0},
                    {"id": 2, "name": "Loja Centro", "kind": "whatsapp", "state": "disconnected",
                     "status_reason": "logged out from the phone", "outbox": 12}]}
DUE = {21: {"first_response_at": NOW - 86400, "resolution_due_at": NOW + 5 * MIN},  # amber: 5 min left
       22: {"first_response_at": None, "first_response_due_at": NOW - 25 * MIN, "breached_first_response": 1}}


def _stats(**figures) -> dict:
    keys = ("tickets", "pending", "open", "closed", "reopened", "transfers", "ratings", "csat_1", "csat_2",
            "csat_3", "csat_4", "csat_5", "breached_first_response", "breached_resolution", "messages_in",
            "messages_out")
    averages = ("avg_wait_s", "avg_first_response_s", "avg_handling_s", "avg_resolution_s", "reopen_rate",
                "avg_rating")
    return {**dict.fromkeys(keys, 0), **dict.fromkeys(averages), **figures}


def _series(by: str) -> dict:
    if by == "day":
        rows = [_stats(bucket=f"2025-12-{d:02d}", tickets=(d * 7) % 11 + 2) for d in range(19, 32)]
        rows.append(_stats(bucket="2026-01-01", tickets=4))
    else:
        rows = [_stats(bucket=f"{h:02d}", avg_first_response_s=(60.0 * (3 + (h * 5) % 9) if 8 <= h < 20 else None))
                for h in range(24)]
    return {"since": NOW - 14 * 86400, "until": NOW, "timezone": "America/Sao_Paulo", "by": by, "group": None,
            "rows": [{**r, "group_id": None, "group_name": None} for r in rows]}


class SupervisorClient(fakes.FakeClient):
    """Ana as a supervisor, with a live panel and the series behind the charts."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, user=SUPERVISOR, **kwargs)

    def _answer(self, method, p):
        if method == "rpc.discover":
            return {"methods": [{"name": m} for m in (*fakes.METHODS, "report.live", "report.series", "report.summary")]}
        if method == "report.live":
            return LIVE
        if method == "report.series":
            return _series(p["by"])
        if method == "report.summary":
            total = _stats(tickets=96, avg_wait_s=4 * MIN + 10, avg_first_response_s=6 * MIN, avg_handling_s=H + 5 * MIN,
                           avg_resolution_s=2 * H, breached_first_response=3, breached_resolution=1, ratings=40,
                           avg_rating=4.4)
            return {"since": NOW - 14 * 86400, "until": NOW, "timezone": "America/Sao_Paulo", "total": total}
        out = super()._answer(method, p)
        if method == "ticket.list":
            out["tickets"] = [{**t, **DUE.get(t["id"], {})} for t in out["tickets"]
                              if p.get("user_id") in (None, t["user_id"]) and p.get("queue_id") in (None, t["queue_id"])]
        return out


pytestmark = pytest.mark.usefixtures("utc")  # tests/tui/conftest.py



async def panel(pilot) -> SupervisorScreen:
    main = await queue_ready(pilot)
    main.list.focus()
    await pilot.press("v")
    screen = await until(pilot, lambda: isinstance(pilot.app.screen, SupervisorScreen) and pilot.app.screen)
    await until(pilot, lambda: screen.query_one("#tickets").row_count == 2, what="Ana's tickets")
    await pilot.pause()
    return screen


def test_supervisor_live(snap_compare, tmp_path):
    """Agents (one at capacity, one never replied), queues with breaches and the menu, a number down,
    and Ana's tickets: one amber (5 min left to solve), one red (first reply 25 min late)."""
    assert snap_compare(fake_console(tmp_path, client_factory=SupervisorClient), terminal_size=(120, 32),
                        run_before=panel)


def test_supervisor_charts(snap_compare, tmp_path):
    async def run_before(pilot):
        screen = await panel(pilot)
        await pilot.press("r")
        await until(pilot, lambda: "America/Sao_Paulo" in str(screen.query_one("#reports-title").content))
        await pilot.pause()

    assert snap_compare(fake_console(tmp_path, client_factory=SupervisorClient), terminal_size=(120, 32),
                        run_before=run_before)
