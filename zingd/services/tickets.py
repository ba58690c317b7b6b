"""Ticket rules: who may see and move a ticket, and the allowed transitions.

What an agent may touch is one notion, ``T.visibility`` (own tickets, pending ones of own
queues or still in the menu), enforced here by ``require_visible``: a ticket outside it is
``not_found`` with the words of an id that never existed, never who holds it or its status
(``AGENT_SCOPE`` in ``zingd/services/permissions.py`` lists the rule of every method)."""

from __future__ import annotations

from typing import Any

from zingd.actor import Actor
from zingd.errors import Conflict, Forbidden, Invalid, NotFound
from zingd.services import routing, sla, window
from zingd.services.outbound import queue_outbound
from zingd.services.quickreplies import expand
from zingd.store import tickets as T
from zingd.store.db import Database, Tx
from zingd.store.rows import with_json


STATUSES = ("pending", "open", "closed")
# the refusal when the contact's active ticket is one the caller can't see: no id, holder or status
NOT_YOURS = "the contact is in a conversation on this number that is not yours; a supervisor can transfer it to you"


def require_visible(tx: Tx, actor: Actor, ticket_id: int) -> dict[str, Any]:
    row = T.get_visible(tx, actor, ticket_id)
    if row is None:
        raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
    return row


def require_owner(actor: Actor, ticket: dict[str, Any], what: str) -> None:
    """Agents act on their own tickets; supervisors and up on any of the tenant's. Called on a
    ticket ``require_visible`` gave, so the name it may say is one the caller already sees."""
    if not actor.sees_all_tickets and ticket["user_id"] not in (None, actor.user_id):
        raise Forbidden(f"ticket {ticket['id']} belongs to {ticket['user_name']}; only they or a supervisor can {what} it")


def take_on_reply(tx: Tx, actor: Actor, t: dict[str, Any]) -> None:
    """Answering a pending ticket takes it: the answer is the caller's, and so is the ticket."""
    if t["status"] == "pending":
        tx.execute("UPDATE tickets SET status = 'open', user_id = ?, accepted_at = ?, updated_at = ? WHERE id = ?",
                   (actor.user_id, tx.now, tx.now, t["id"]))
        T.log(tx, t, actor, "accept", by="reply")


def conversation_for(tx: Tx, actor: Actor, connection_id: int, contact_id: int) -> dict[str, Any] | None:
    """The contact's active ticket on this number, for the caller to write into; None when there is
    none (the caller starts one). One the caller can't see is refused without naming its holder or
    status: writing to a customer never reaches into a colleague's conversation."""
    active = T.active(tx, connection_id, contact_id)
    if active is None:
        return None
    t = T.get_visible(tx, actor, active["id"])
    if t is None:
        raise Forbidden(NOT_YOURS, contact_id=contact_id)
    require_owner(actor, t, "write in")
    return t


def accept(tx: Tx, actor: Actor, ticket_id: int) -> dict[str, Any]:
    """Take a pending ticket the caller sees. One taken a moment ago by someone else is a conflict
    saying by whom to a supervisor; to an agent it is no longer visible, so ``not_found`` — worded
    for the race an agent loses, and the same for an id that never existed (nothing to tell apart)."""
    t = T.get_visible(tx, actor, ticket_id)
    if t is None:
        raise NotFound(f"no ticket {ticket_id} waiting for you (someone else took it, or it isn't there)",
                       id=ticket_id)
    if t["status"] != "pending":
        who = f" by {t['user_name']}" if t["user_name"] else ""
        raise Conflict(f"ticket {ticket_id} is {t['status']}{who}, not pending", status=t["status"],
                       user_id=t["user_id"])
    tx.execute("UPDATE tickets SET status = 'open', user_id = ?, accepted_at = ?, updated_at = ? WHERE id = ?",
               (actor.user_id, tx.now, tx.now, ticket_id))
    T.log(tx, t, actor, "accept")
    tx.audit(actor, "ticket.accept", "ticket", ticket_id)
    return T.emit_updated(tx, ticket_id, t["tenant_id"], before=t)


def transfer(tx: Tx, actor: Actor, ticket_id: int, user_id: int | None, queue_id: int | None,
             message: str | None = None) -> dict[str, Any]:
    if user_id is None and queue_id is None:
        raise Invalid("transfer needs a user_id, a queue_id or both")
    t = require_visible(tx, actor, ticket_id)
    if t["status"] == "closed":
        raise Conflict(f"ticket {ticket_id} is closed; reopen it first", status="closed")
    require_owner(actor, t, "transfer")
    if user_id is not None and not tx.value(
            "SELECT 1 FROM users WHERE id = ? AND tenant_id = ? AND enabled = 1", (user_id, t["tenant_id"])):
        raise NotFound(f"no user {user_id}", id=user_id)
    if queue_id is not None and not tx.value(
            "SELECT 1 FROM queues WHERE id = ? AND tenant_id = ?", (queue_id, t["tenant_id"])):
        raise NotFound(f"no queue {queue_id}", id=queue_id)
    new_queue = queue_id if queue_id is not None else t["queue_id"]
    status = "open" if user_id is not None else "pending"
    tx.execute("UPDATE tickets SET user_id = ?, queue_id = ?, status = ?, updated_at = ? WHERE id = ?",
               (user_id, new_queue, status, tx.now, ticket_id))
    T.log(tx, t, actor, "transfer", from_user=t["user_id"], to_user=user_id, from_queue=t["queue_id"],
          to_queue=new_queue)
    if new_queue != t["queue_id"]:
        sla.entered_queue(tx, ticket_id)
    tx.audit(actor, "ticket.transfer", "ticket", ticket_id, user_id=user_id, queue_id=queue_id)
    if message and message.strip():
        window.require_open(tx, t["connection_id"], t["contact_id"])  # the agent's words: refused, not lost
        queue_outbound(tx, t, actor, expand(tx, t, actor, message))
    if t["user_id"] is not None and t["user_id"] != user_id:
        routing.rebalance(tx, t["tenant_id"])  # the previous agent has a free slot
    return T.emit_updated(tx, ticket_id, t["tenant_id"], before=t)


RATING_PROMPT = ("Como você avalia nosso atendimento? Responda de 1 a 5. / "
                 "How would you rate our service? Reply 1 to 5.")


def close(tx: Tx, actor: Actor | None, ticket_id: int, farewell: bool = True,
          message: str | None = None, tenant_id: int | None = None) -> dict[str, Any]:
    """Close; with ``farewell`` send the connection's farewell and, if the tenant asks, the rating survey.

    ``actor`` None is zing itself (auto-close), which passes ``tenant_id``.
    """
    if actor is None:
        t = T.get(tx, tenant_id, ticket_id)
    else:
        t = require_visible(tx, actor, ticket_id)
        require_owner(actor, t, "close")
    if t is None:
        raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
    if t["status"] == "closed":
        raise Conflict(f"ticket {ticket_id} is already closed", status="closed")
    tx.execute("UPDATE tickets SET status = 'closed', closed_at = ?, unread = 0, chatbot_state = '{}', "
               "updated_at = ? WHERE id = ?", (tx.now, tx.now, ticket_id))
    T.log(tx, t, actor, "close", auto=actor is None)
    sla.closed(tx, ticket_id)
    if actor is not None:
        tx.audit(actor, "ticket.close", "ticket", ticket_id)
    # Outside a cloud number's 24-hour window only a template may go: an agent's closing words are
    # refused (they are not lost: nothing closes), zing's own (auto-close, farewell, survey) are left out.
    heard = window.is_open(tx, t["connection_id"], t["contact_id"])
    if message and actor is not None and not heard:
        window.require_open(tx, t["connection_id"], t["contact_id"])
    if message and heard:
        queue_outbound(tx, t, None, expand(tx, t, actor, message))
    if farewell and heard:
        conn = tx.one("SELECT farewell FROM connections WHERE id = ?", (t["connection_id"],))
        if conn["farewell"]:
            queue_outbound(tx, t, None, expand(tx, t, actor, conn["farewell"]))
        settings = routing.tenant_settings(tx, t["tenant_id"])
        if settings.get("rating") and not t["is_group"]:
            queue_outbound(tx, t, None, settings.get("rating_prompt", RATING_PROMPT))
            tx.execute("UPDATE tickets SET chatbot_state = ? WHERE id = ?", ('{"stage": "rating"}', ticket_id))
    if t["user_id"] is not None:
        routing.rebalance(tx, t["tenant_id"])  # the agent has a free slot
    return T.emit_updated(tx, ticket_id, t["tenant_id"], before=t)


def reopen(tx: Tx, actor: Actor, ticket_id: int) -> dict[str, Any]:
    t = require_visible(tx, actor, ticket_id)
    if t["status"] != "closed":
        raise Conflict(f"ticket {ticket_id} is {t['status']}, not closed", status=t["status"])
    other = T.active(tx, t["connection_id"], t["contact_id"])
    if other is not None:
        if T.get_visible(tx, actor, other["id"]) is None:
            raise Conflict(NOT_YOURS)
        raise Conflict(f"the contact already has ticket {other['id']} {other['status']}; work there",
                       ticket_id=other["id"])
    tx.execute("UPDATE tickets SET status = 'open', user_id = ?, closed_at = NULL, updated_at = ? WHERE id = ?",
               (actor.user_id, tx.now, ticket_id))
    T.log(tx, t, actor, "reopen")
    sla.reopened(tx, ticket_id)
    tx.audit(actor, "ticket.reopen", "ticket", ticket_id)
    return T.emit_updated(tx, ticket_id, t["tenant_id"], before=t)


async def list_tickets(db: Database, actor: Actor, status: str | None = None, mine: bool = False,
                       queue_id: int | None = None, user_id: int | None = None, connection_id: int | None = None,
                       contact_id: int | None = None, before: tuple[float, int] | None = None,
                       limit: int = 50, tag: str | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Newest activity first, and whether more follow; page with ``before=(last_message_at, id)``
    of the last row.

    One index walk in list order that stops after ``limit + 1`` rows, whatever the tenant's size:
    a supervisor's lists walk ``ix_tickets_all_list`` / ``ix_tickets_queue_list``; an agent's list
    of one status walks the index of that status' visibility rule (``T.visibility(actor, status)``),
    and an agent's list of every status is one part per status (own open, own closed, pending
    ones), merged in list order by SQLite (``UNION ALL … ORDER BY``, no sort). A single
    ``t.user_id = ? OR …`` over all statuses would test every ticket of the tenant newer than the
    page: an agent with few closed tickets among 300k walked all of them, 54–94 ms on the loop."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
    where: list[str] = []
    args: list[Any] = []
    for col, val in (("t.queue_id", queue_id), ("t.connection_id", connection_id),
                     ("t.contact_id", contact_id), ("t.user_id", actor.user_id if mine else user_id)):
        if val is not None:
            where.append(f"{col} = ?")
            args.append(val)
    if before is not None:
        where.append("(t.last_message_at, t.id) < (?, ?)")
        args.extend(before)
    if tag is not None:
        where.append("t.id IN (SELECT tt.ticket_id FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id "
                     "WHERE g.tenant_id = ? AND g.name = ?)")
        args.extend((actor.tenant_id, tag))
    split = status is None and not actor.sees_all_tickets
    parts: list[str] = []
    params: list[Any] = []
    for s in (("pending", "open", "closed") if split else (status,)):
        cond, vis_args = T.visibility(actor, s)
        head = ["t.tenant_id = ?", cond] + (["t.status = ?"] if s is not None else [])
        parts.append(f"{T.VIEW} WHERE {' AND '.join(head + where)}")
        params.extend((actor.tenant_id, *vis_args, *([s] if s is not None else []), *args))
    # a compound SELECT orders by its result columns (t.* gives last_message_at and id)
    order = "last_message_at DESC, id DESC" if split else "t.last_message_at DESC, t.id DESC"
    sql = f"{' UNION ALL '.join(parts)} ORDER BY {order} LIMIT ?"
    limit = max(1, min(limit, 500))
    rows = await db.page(sql, (*params, limit + 1))
    return [T.view(r) for r in rows[:limit]], len(rows) > limit


async def counts(db: Database, actor: Actor) -> dict[str, Any]:
    """Per-status counts and unread totals the console shows on its tabs: the active tickets only
    (open, pending), one index range per status (``T.visibility(actor, status)``), never the
    tenant's closed ones."""
    parts: list[str] = []
    params: list[Any] = []
    for s in ("open", "pending"):
        cond, vis_args = T.visibility(actor, s)
        parts.append("SELECT t.status, count(*) AS n, sum(t.unread > 0) AS unread FROM tickets t "
                     f"WHERE t.tenant_id = ? AND t.status = ? AND {cond} GROUP BY t.status")
        params.extend((actor.tenant_id, s, *vis_args))
    rows = await db.all(" UNION ALL ".join(parts), params)
    return {r["status"]: {"count": r["n"], "unread": r["unread"] or 0} for r in rows}


async def get_ticket(db: Database, actor: Actor, ticket_id: int) -> dict[str, Any]:
    cond, params = T.visibility(actor)
    rows = await db.page(f"{T.VIEW} WHERE t.tenant_id = ? AND t.id = ? AND {cond}",
                         (actor.tenant_id, ticket_id, *params))
    row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
    return T.view(row)


async def history(db: Database, actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's timeline: status changes, assignments, transfers, notes, ratings."""
    await get_ticket(db, actor, ticket_id)
    rows = await db.all(
        "SELECT l.action, l.user_id, u.name AS user_name, l.data, l.created_at FROM ticket_log l "
        "LEFT JOIN users u ON u.id = l.user_id WHERE l.ticket_id = ? ORDER BY l.id", (ticket_id,))
    return [with_json(r, "data") for r in rows]


def auto_close_unit(tx: Tx, limit: int = 200) -> int:
    """Close tickets of queues with auto_close_hours whose customer has been silent that long."""
    rows = tx.all(
        "SELECT t.id, t.tenant_id, q.auto_close_message FROM tickets t JOIN queues q ON q.id = t.queue_id "
        "WHERE q.auto_close_hours IS NOT NULL AND t.status IN ('pending', 'open') "
        "AND ifnull(t.last_inbound_at, t.created_at) + q.auto_close_hours * 3600 < ? LIMIT ?", (tx.now, limit))
    for row in rows:
        close(tx, None, row["id"], farewell=False, message=row["auto_close_message"] or None,
              tenant_id=row["tenant_id"])
    return len(rows)
