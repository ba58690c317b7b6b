"""Ticket rules: who may see and move a ticket, and the allowed transitions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zingd.errors import Conflict, Forbidden, Invalid, NotFound
from zingd.services.actor import Actor
from zingd.store import tickets as T
from zingd.store.db import Tx

if TYPE_CHECKING:
    from zingd.app import Daemon

STATUSES = ("pending", "open", "closed")


def require_visible(tx: Tx, actor: Actor, ticket_id: int) -> dict[str, Any]:
    row = T.get_visible(tx, actor, ticket_id)
    if row is None:
        raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
    return row


def require_owner(actor: Actor, ticket: dict[str, Any], what: str) -> None:
    """Agents act on their own tickets; supervisors and up on any of the tenant's."""
    if not actor.sees_all_tickets and ticket["user_id"] not in (None, actor.user_id):
        raise Forbidden(f"ticket {ticket['id']} belongs to {ticket['user_name']}; only they or a supervisor can {what} it")


def accept(tx: Tx, actor: Actor, ticket_id: int) -> dict[str, Any]:
    t = require_visible(tx, actor, ticket_id)
    if t["status"] != "pending":
        who = f" by {t['user_name']}" if t["user_name"] else ""
        raise Conflict(f"ticket {ticket_id} is {t['status']}{who}, not pending", status=t["status"],
                       user_id=t["user_id"])
    tx.execute("UPDATE tickets SET status = 'open', user_id = ?, accepted_at = ?, updated_at = ? WHERE id = ?",
               (actor.user_id, tx.now, tx.now, ticket_id))
    T.log(tx, t, actor, "accept")
    tx.audit(actor, "ticket.accept", "ticket", ticket_id)
    return T.emit_updated(tx, ticket_id, t["tenant_id"])


def transfer(tx: Tx, actor: Actor, ticket_id: int, user_id: int | None, queue_id: int | None) -> dict[str, Any]:
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
    tx.audit(actor, "ticket.transfer", "ticket", ticket_id, user_id=user_id, queue_id=queue_id)
    return T.emit_updated(tx, ticket_id, t["tenant_id"])


def close(tx: Tx, actor: Actor, ticket_id: int) -> dict[str, Any]:
    t = require_visible(tx, actor, ticket_id)
    if t["status"] == "closed":
        raise Conflict(f"ticket {ticket_id} is already closed", status="closed")
    require_owner(actor, t, "close")
    tx.execute("UPDATE tickets SET status = 'closed', closed_at = ?, unread = 0, updated_at = ? WHERE id = ?",
               (tx.now, tx.now, ticket_id))
    T.log(tx, t, actor, "close")
    tx.audit(actor, "ticket.close", "ticket", ticket_id)
    return T.emit_updated(tx, ticket_id, t["tenant_id"])


def reopen(tx: Tx, actor: Actor, ticket_id: int) -> dict[str, Any]:
    t = T.get(tx, actor.tenant_id, ticket_id)
    if t is None or (not actor.sees_all_tickets and t["user_id"] != actor.user_id):
        raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
    if t["status"] != "closed":
        raise Conflict(f"ticket {ticket_id} is {t['status']}, not closed", status=t["status"])
    other = T.active(tx, t["connection_id"], t["contact_id"])
    if other is not None:
        raise Conflict(f"the contact already has ticket {other['id']} {other['status']}; work there",
                       ticket_id=other["id"])
    tx.execute("UPDATE tickets SET status = 'open', user_id = ?, closed_at = NULL, updated_at = ? WHERE id = ?",
               (actor.user_id, tx.now, ticket_id))
    T.log(tx, t, actor, "reopen")
    tx.audit(actor, "ticket.reopen", "ticket", ticket_id)
    return T.emit_updated(tx, ticket_id, t["tenant_id"])


async def list_tickets(app: Daemon, actor: Actor, status: str | None = None, mine: bool = False,
                       queue_id: int | None = None, user_id: int | None = None, connection_id: int | None = None,
                       contact_id: int | None = None, before: tuple[float, int] | None = None,
                       limit: int = 50) -> list[dict[str, Any]]:
    """Newest activity first; page with ``before=(last_message_at, id)`` of the last row."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
    cond, params = T.visibility(actor)
    where = ["t.tenant_id = ?", cond]
    args: list[Any] = [actor.tenant_id, *params]
    for col, val in (("t.status", status), ("t.queue_id", queue_id), ("t.connection_id", connection_id),
                     ("t.contact_id", contact_id), ("t.user_id", actor.user_id if mine else user_id)):
        if val is not None:
            where.append(f"{col} = ?")
            args.append(val)
    if before is not None:
        where.append("(t.last_message_at, t.id) < (?, ?)")
        args.extend(before)
    sql = f"{T.VIEW} WHERE {' AND '.join(where)} ORDER BY t.last_message_at DESC, t.id DESC LIMIT ?"
    rows = await app.db.all(sql, (*args, max(1, min(limit, 500))))
    return [T.view(r) for r in rows]


async def counts(app: Daemon, actor: Actor) -> dict[str, Any]:
    """Per-status counts and unread totals the console shows on its tabs."""
    cond, params = T.visibility(actor)
    rows = await app.db.all(
        f"SELECT t.status, count(*) AS n, sum(t.unread > 0) AS unread FROM tickets t "
        f"WHERE t.tenant_id = ? AND t.status != 'closed' AND {cond} GROUP BY t.status",
        (actor.tenant_id, *params))
    return {r["status"]: {"count": r["n"], "unread": r["unread"] or 0} for r in rows}



async def get_ticket(app: Daemon, actor: Actor, ticket_id: int) -> dict[str, Any]:
    cond, params = T.visibility(actor)
    row = await app.db.one(f"{T.VIEW} WHERE t.tenant_id = ? AND t.id = ? AND {cond}",
                           (actor.tenant_id, ticket_id, *params))
    if row is None:
        raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
    return T.view(row)
