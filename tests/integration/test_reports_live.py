"""report.live through a real zingd: agents' load and last reply, what waits in each queue (and
past its target), each number's state and outbox, for a supervisor of the company."""

from __future__ import annotations

import sqlite3

import pytest

from tests.integration.support import FORBIDDEN, call_err, db_rows, wait_outbox_empty


def _by_name(rows: list[dict]) -> dict:
    return {r["name"]: r for r in rows}


def test_live_panel(desk):
    ana = desk.agent("ana", status="online")
    desk.agent("bia", status="away")
    sam = desk.agent("sam", role="supervisor")
    sales = desk.queue("Vendas", members=["ana"])
    desk.queue("Suporte", members=["bia"])

    desk.say("5511911110001", "quero comprar")
    waiting = desk.ticket_of("5511911110001")
    sam.call("ticket.transfer", {"id": waiting["id"], "queue_id": sales})
    desk.say("5511911110002", "oi")
    taken = desk.ticket_of("5511911110002")
    ana.call("ticket.accept", {"id": taken["id"]})
    ana.call("message.send", {"ticket_id": taken["id"], "body": "bom dia"})
    wait_outbox_empty(desk.z, desk.admin)
    desk.admin.call("sim.fault", {"disconnect_s": 600})  # what ana says next stays in the outbox
    for body in ("um momento", "já volto"):
        ana.call("message.send", {"ticket_id": taken["id"], "body": body})

    live = sam.call("report.live")
    agents = _by_name(live["agents"])
    assert set(agents) == {"Ana", "Bia", "Sam", "boss"}
    [last] = db_rows(desk.z, "SELECT max(created_at) AS at FROM messages WHERE user_id = ?",
                     (desk.agent_ids["ana"],))
    assert {k: agents["Ana"][k] for k in ("id", "role", "status", "open_tickets", "max_tickets", "last_reply_at")} == {
        "id": desk.agent_ids["ana"], "role": "agent", "status": "online", "open_tickets": 1, "max_tickets": 10,
        "last_reply_at": last["at"]}
    assert agents["Ana"]["since_last_reply_s"] == pytest.approx(live["at"] - last["at"])
    assert (agents["Bia"]["status"], agents["Bia"]["open_tickets"], agents["Bia"]["last_reply_at"],
            agents["Bia"]["since_last_reply_s"]) == ("away", 0, None, None)

    queues = _by_name(live["queues"])
    assert list(queues) == ["Suporte", "Vendas"]  # nothing waits outside a queue: no row for it
    assert (queues["Vendas"]["id"], queues["Vendas"]["waiting"], queues["Vendas"]["breaches"]) == (sales, 1, 0)
    assert queues["Vendas"]["oldest_wait_s"] == pytest.approx(live["at"] - waiting["created_at"])
    assert (queues["Suporte"]["waiting"], queues["Suporte"]["oldest_wait_s"], queues["Suporte"]["breaches"]) == (
        0, None, 0)

    [number] = live["numbers"]
    [row] = db_rows(desk.z, "SELECT status, (SELECT count(*) FROM outbox) AS outbox FROM connections")
    assert (number["id"], number["name"], number["kind"]) == (desk.connection_id, "Main", "sim")
    assert (number["state"], number["outbox"]) == (row["status"], 2)

    assert call_err(ana, "report.live").code == FORBIDDEN


def test_what_waits_before_any_queue(desk):
    """A ticket still in no queue (the menu, or a number with none) is its own row: id and name null."""
    desk.queue("Vendas")
    desk.queue("Suporte")  # two queues: the customer is asked which, in the menu
    desk.say("5511911110003", "alô")
    live = desk.admin.call("report.live")
    assert [(q["id"], q["name"], q["waiting"]) for q in live["queues"]] == [
        (desk.queues["Suporte"], "Suporte", 0), (desk.queues["Vendas"], "Vendas", 0), (None, None, 1)]


def test_breaches_are_the_active_tickets_past_a_target(desk):
    """The SLA targets set tickets.breached_* (schema v16); the panel counts, per queue, the pending
    and open tickets with either flag. Set here in the stopped daemon's database: what is counted,
    not how the SLA worker decides it."""
    sales, support = desk.queue("Vendas"), desk.queue("Suporte")
    tickets = {}
    for n, queue in enumerate((sales, sales, sales, support)):
        number = f"551191111002{n}"
        desk.say(number, "oi")
        tickets[n] = desk.ticket_of(number)["id"]
        desk.admin.call("ticket.transfer", {"id": tickets[n], "queue_id": queue})
    desk.admin.call("ticket.close", {"id": tickets[3], "farewell": False})
    desk.close()
    assert desk.z.stop() == 0
    conn = sqlite3.connect(desk.z.data_dir / "zing.db")
    with conn:
        conn.executemany("UPDATE tickets SET breached_first_response = ?, breached_resolution = ? WHERE id = ?",
                         [(1, 0, tickets[0]), (1, 1, tickets[1]), (1, 1, tickets[3])])
    conn.close()
    desk.z.start()
    with desk.z.client() as boss:
        queues = {q["name"]: q for q in boss.call("report.live")["queues"]}
    assert (queues["Vendas"]["waiting"], queues["Vendas"]["breaches"]) == (3, 2)
    assert (queues["Suporte"]["waiting"], queues["Suporte"]["breaches"]) == (0, 0)  # closed: no longer counted
