"""Routing a conversation: wallet owner, chatbot menu -> queue, business hours,
auto-assignment. Runs inside the inbound unit of work, so a message and what
it triggers (bot replies, assignment) commit together.

A connection's settings may hold:
  menu: [{"label": "Sales", "queue_id": 1},
         {"label": "Support", "options": [{"label": "Internet", "queue_id": 2}, ...]}]
        (default: one option per queue linked to the connection, or per tenant queue)
  menu_max_retries: 3          invalid answers before the default queue
  default_queue_id: N          where a customer lands after too many invalid answers
  groups: "ignore" | "route" | "chatbot"
                               group chats: left out, routed quietly (the default: to the default
                               queue, no menu, greeting, out-of-hours or opt-out reply: members
                               talk among themselves), or routed as one-to-one chats are
  call_reply: "text"           sent when a customer calls (zing can't take calls; default: nothing)

A number in the tenant's ``bot.connections`` (zingd/assistant/config.py) has the bot as its front
door: a one-to-one chat meets no menu and stays in no queue; the bot (zingd/assistant/bot.py)
answers it and its handoff picks the queue. Groups and backlog are routed as usual.

Backlog (a message that reached zing long after WhatsApp timestamped it, see
``services.inbound.ingest``) is routed quietly: it goes to the default queue
(``default_queue_id``, else the menu's first queue) with no menu, greeting or
out-of-hours message, since hours late a menu would answer nothing; the agent
sees the ticket as usual, and the customer's next live message meets the queue.
"""

from __future__ import annotations

from typing import Any

from zingd.services import hours, sla
from zingd.services.outbound import queue_outbound
from zingd.services.quickreplies import expand
from zingd.store import tickets as T
from zingd.store.db import Tx
from zingd.store.rows import dumps, loads

DEFAULT_RETRIES = 3


def connection_settings(tx: Tx, connection_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    row = tx.one("SELECT * FROM connections WHERE id = ?", (connection_id,))
    return row, loads(row["settings"])


def menu_options(tx: Tx, conn: dict[str, Any], settings: dict[str, Any]) -> list[dict[str, Any]]:
    if settings.get("menu"):
        return settings["menu"]
    rows = tx.all("SELECT q.id, q.name FROM connection_queues cq JOIN queues q ON q.id = cq.queue_id "
                  "WHERE cq.connection_id = ? ORDER BY q.id", (conn["id"],))
    if not rows:
        rows = tx.all("SELECT id, name FROM queues WHERE tenant_id = ? ORDER BY id", (conn["tenant_id"],))
    return [{"label": r["name"], "queue_id": r["id"]} for r in rows]


def _leaves(options: list[dict[str, Any]]) -> list[int]:
    out = []
    for opt in options:
        out.extend(_leaves(opt["options"]) if "options" in opt else [opt["queue_id"]])
    return out


def render_menu(options: list[dict[str, Any]], header: str = "") -> str:
    lines = [header] if header else []
    lines += [f"*{i}* - {opt['label']}" for i, opt in enumerate(options, 1)]
    return "\n".join(lines)


def bot_front_door(tx: Tx, tenant_id: int, connection_id: int) -> bool:
    """Whether the tenant's bot, switched on with a chat model, greets this number's customers. Asked in
    SQL: it runs for every message of a chat in no queue, and the settings hold the bot's instructions."""
    return tx.value(
        "SELECT 1 FROM assistant_settings WHERE tenant_id = ? AND json_extract(settings, '$.bot.enabled') "
        "AND ifnull(json_extract(settings, '$.chat.model'), '') != '' "
        "AND EXISTS (SELECT 1 FROM json_each(settings, '$.bot.connections') WHERE value = ?)",
        (tenant_id, connection_id)) is not None


def tenant_settings(tx: Tx, tenant_id: int) -> dict[str, Any]:
    return loads(tx.value("SELECT settings FROM tenants WHERE id = ?", (tenant_id,)))


def send_bot(tx: Tx, ticket: dict[str, Any], body: str) -> None:
    """A message from zing itself (greeting, menu, farewell): queued like an agent's."""
    if body.strip():
        queue_outbound(tx, ticket, None, expand(tx, ticket, None, body))


def _set_state(tx: Tx, ticket: dict[str, Any], state: dict[str, Any]) -> None:
    tx.execute("UPDATE tickets SET chatbot_state = ? WHERE id = ?", (dumps(state), ticket["id"]))
    ticket["chatbot_state"] = dumps(state)


def assign_user(tx: Tx, ticket: dict[str, Any], user_id: int, how: str) -> None:
    tx.execute("UPDATE tickets SET user_id = ?, status = 'open', accepted_at = ifnull(accepted_at, ?), "
               "updated_at = ? WHERE id = ?", (user_id, tx.now, tx.now, ticket["id"]))
    ticket.update(user_id=user_id, status="open")
    T.log(tx, ticket, None, "assign", user_id=user_id, by=how)


def auto_assign(tx: Tx, ticket: dict[str, Any], queue: dict[str, Any]) -> int | None:
    """Give the ticket to an online agent of the queue under their limit, per the queue's mode."""
    if queue["assign_mode"] == "off":
        return None
    agents = tx.all(
        "SELECT u.id, u.max_tickets, (SELECT count(*) FROM tickets t WHERE t.user_id = u.id AND t.status = 'open') "
        "AS load FROM queue_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.queue_id = ? AND u.enabled = 1 AND u.status = 'online' ORDER BY u.id", (queue["id"],))
    eligible = [a for a in agents if a["load"] < a["max_tickets"]]
    if not eligible:
        return None
    if queue["assign_mode"] == "balanced":
        chosen = min(eligible, key=lambda a: (a["load"], a["id"]))
    else:
        last = queue["rr_last_user_id"] or 0
        chosen = next((a for a in eligible if a["id"] > last), eligible[0])
        tx.execute("UPDATE queues SET rr_last_user_id = ? WHERE id = ?", (chosen["id"], queue["id"]))
        queue["rr_last_user_id"] = chosen["id"]
    assign_user(tx, ticket, chosen["id"], queue["assign_mode"])
    return chosen["id"]


def assign_queue(tx: Tx, ticket: dict[str, Any], queue_id: int, quiet: bool = False) -> None:
    """Into the queue: its greeting, out-of-hours message (unless ``quiet``) and auto-assignment."""
    queue = tx.one("SELECT * FROM queues WHERE id = ? AND tenant_id = ?", (queue_id, ticket["tenant_id"]))
    if queue is None:
        return
    tx.execute("UPDATE tickets SET queue_id = ?, chatbot_state = '{}', updated_at = ? WHERE id = ?",
               (queue_id, tx.now, ticket["id"]))
    ticket.update(queue_id=queue_id, chatbot_state="{}")
    T.log(tx, ticket, None, "queue", queue_id=queue_id, **({"backlog": True} if quiet else {}))
    sla.entered_queue(tx, ticket["id"])
    if not quiet:
        send_bot(tx, ticket, queue["greeting"])
    if not hours.is_open(loads(queue["business_hours"]), tx.now):
        if not quiet:
            send_bot(tx, ticket, queue["out_of_hours_message"])
        T.log(tx, ticket, None, "out_of_hours", queue_id=queue_id)
        return
    auto_assign(tx, ticket, queue)


def _submenu(options: list[dict[str, Any]], path: Any) -> list[dict[str, Any]] | None:
    """The submenu a stored path leads to in the current menu; None if the path no longer fits it."""
    if not isinstance(path, list):
        return None
    current = options
    for index in path:
        if not (isinstance(index, int) and 0 <= index < len(current) and "options" in current[index]):
            return None
        current = current[index]["options"]
    return current


def _choice(body: str, count: int) -> int | None:
    """The 0-based option a menu answer picks, or None. Any script's decimal digits (Arabic-Indic,
    full-width) count; superscripts and circled digits ('²', '①') are isdigit() but not decimal."""
    answer = body.strip()
    if not (answer.isdecimal() and len(answer) <= 9):  # (int() refuses strings of > 4300 digits)
        return None
    number = int(answer)
    return number - 1 if 1 <= number <= count else None


def _menu_step(tx: Tx, ticket: dict[str, Any], conn: dict[str, Any], settings: dict[str, Any],
               options: list[dict[str, Any]], body: str) -> None:
    state = loads(ticket["chatbot_state"])
    current = _submenu(options, state.get("path")) if state.get("stage") == "menu" else None
    if current is None:  # not in the menu yet, or the menu changed under a customer in a submenu: (re)start
        send_bot(tx, ticket, render_menu(options, conn["greeting"]))
        _set_state(tx, ticket, {"stage": "menu", "path": [], "tries": 0})
        return
    index = _choice(body, len(current))
    if index is not None:
        chosen = current[index]
        if "options" in chosen:
            send_bot(tx, ticket, render_menu(chosen["options"]))
            _set_state(tx, ticket, {"stage": "menu", "path": [*state["path"], index], "tries": 0})
        else:
            assign_queue(tx, ticket, chosen["queue_id"])
        return
    tries = state.get("tries", 0) + 1
    if tries >= int(settings.get("menu_max_retries", DEFAULT_RETRIES)):
        assign_queue(tx, ticket, settings.get("default_queue_id") or _leaves(options)[0])
        return
    send_bot(tx, ticket, render_menu(current, "Opção inválida / invalid option. Responda com o número:"))
    _set_state(tx, ticket, {**state, "tries": tries})


def route(tx: Tx, ticket: dict[str, Any], contact: dict[str, Any], body: str, created: bool,
          quiet: bool = False) -> bool:
    """Route an unassigned ticket after a customer message; True if anything changed.
    ``quiet`` (backlog, a group): the default queue, without a word to the customer."""
    if ticket["user_id"] is not None or ticket["queue_id"] is not None:
        return False
    owner = contact.get("owner_user_id")
    if created and owner and tx.value("SELECT 1 FROM users WHERE id = ? AND enabled = 1", (owner,)):
        assign_user(tx, ticket, owner, "wallet")
        return True
    if not quiet and not ticket["is_group"] and bot_front_door(tx, ticket["tenant_id"], ticket["connection_id"]):
        return False  # the bot answers in no queue; its handoff picks one
    conn, settings = connection_settings(tx, ticket["connection_id"])
    options = menu_options(tx, conn, settings)
    if not options:
        return False
    if len(options) == 1 and "options" not in options[0]:
        assign_queue(tx, ticket, options[0]["queue_id"], quiet)
        return True
    if quiet:
        assign_queue(tx, ticket, settings.get("default_queue_id") or _leaves(options)[0], quiet=True)
        return True
    _menu_step(tx, ticket, conn, settings, options, body)
    return True


def rebalance(tx: Tx, tenant_id: int, limit: int = 100) -> int:
    """Hand waiting tickets to agents who came online or freed a slot; oldest first."""
    waiting = tx.all(
        "SELECT t.* FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.tenant_id = ? AND t.status = 'pending' "
        "AND t.user_id IS NULL AND q.assign_mode != 'off' ORDER BY t.created_at LIMIT ?", (tenant_id, limit))
    assigned = 0
    for ticket in waiting:
        queue = tx.one("SELECT * FROM queues WHERE id = ?", (ticket["queue_id"],))
        if not hours.is_open(loads(queue["business_hours"]), tx.now):
            continue
        if auto_assign(tx, ticket, queue) is not None:
            T.emit_updated(tx, ticket["id"], tenant_id)
            assigned += 1
    return assigned
