"""Tickets: the joined view clients show, visibility by role, and the log."""

from __future__ import annotations

from typing import Any

from zingd.actor import Actor
from zingd.store.db import Tx
from zingd.store.rows import dumps, with_json

VIEW = (
    "SELECT t.*, c.name AS contact_name, c.push_name AS contact_push_name, c.number AS contact_number, "
    "q.name AS queue_name, u.name AS user_name, cn.name AS connection_name, b.state AS bot_state, "
    "b.reason AS bot_reason, cn.kind AS connection_kind, "
    # the Cloud API's customer service window: free-form messages only within 24 h of the customer's
    # last one to this number, on any of their tickets (zingd/services/window.py); other kinds have none
    "CASE WHEN cn.kind = 'cloud' THEN ifnull((SELECT max(x.last_inbound_at) FROM tickets x "
    " WHERE x.connection_id = t.connection_id AND x.contact_id = t.contact_id) + 86400, 0) END "
    "AS window_closes_at, "
    "(SELECT group_concat(g.name, char(31)) FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id "
    " WHERE tt.ticket_id = t.id) AS tags "
    "FROM tickets t JOIN contacts c ON c.id = t.contact_id "
    "JOIN connections cn ON cn.id = t.connection_id "
    "LEFT JOIN queues q ON q.id = t.queue_id LEFT JOIN users u ON u.id = t.user_id "
    "LEFT JOIN bot_tickets b ON b.ticket_id = t.id"
)


def view(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is not None and "tags" in row:
        row["tags"] = sorted(row["tags"].split("\x1f")) if row["tags"] else []
    return with_json(row, "chatbot_state")


# membership read fresh: a queue an agent joins a second ago counts
_OWN_QUEUES = "(t.queue_id IS NULL OR t.queue_id IN (SELECT queue_id FROM queue_members WHERE user_id = ?))"


def visibility(actor: Actor, status: str | None = None) -> tuple[str, list[Any]]:
    """SQL (over alias t) that limits an agent to own tickets and pending ones of own queues.

    With ``status`` (a ``t.status = ?`` the caller applies too), the same rule reduced to that
    status, so SQLite can walk one index in list order instead of testing every ticket of the
    tenant against an OR: an agent's open or closed tickets are own ones only
    (``ix_tickets_user_list``); pending ones are own or of own queues (``ix_tickets_queue_list``)."""
    if actor.sees_all_tickets:
        return "1", []
    if status in ("open", "closed"):
        return "t.user_id = ?", [actor.user_id]
    if status == "pending":
        return f"(t.user_id = ? OR {_OWN_QUEUES})", [actor.user_id, actor.user_id]
    return f"(t.user_id = ? OR (t.status = 'pending' AND {_OWN_QUEUES}))", [actor.user_id, actor.user_id]


def get(tx: Tx, tenant_id: int, ticket_id: int) -> dict[str, Any] | None:
    return view(tx.one(f"{VIEW} WHERE t.tenant_id = ? AND t.id = ?", (tenant_id, ticket_id)))


def get_visible(tx: Tx, actor: Actor, ticket_id: int, tenant_id: int | None = None) -> dict[str, Any] | None:
    cond, params = visibility(actor)
    return view(tx.one(f"{VIEW} WHERE t.tenant_id = ? AND t.id = ? AND {cond}",
                       (tenant_id or actor.tenant_id, ticket_id, *params)))


def active(tx: Tx, connection_id: int, contact_id: int) -> dict[str, Any] | None:
    return tx.one(
        "SELECT * FROM tickets WHERE connection_id = ? AND contact_id = ? AND status IN ('pending', 'open')",
        (connection_id, contact_id),
    )


def log(tx: Tx, ticket: dict[str, Any], actor: Actor | None, action: str, **data: Any) -> None:
    tx.insert("ticket_log", {
        "tenant_id": ticket["tenant_id"], "ticket_id": ticket["id"],
        "user_id": actor.user_id if actor else None, "action": action, "data": dumps(data), "created_at": tx.now,
    })


def emit_updated(tx: Tx, ticket_id: int, tenant_id: int, type_: str = "ticket.updated",
                 before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Re-read the joined ticket and publish it, so clients can redraw the row as is. With
    ``before`` (the ticket as it was), whoever could see it then hears that it moved away."""
    row = get(tx, tenant_id, ticket_id)
    data: dict[str, Any] = {"ticket": row}
    if before is not None:
        data["was"] = {k: before[k] for k in ("user_id", "queue_id", "status")}
    tx.emit(tenant_id, type_, data, ticket_id=ticket_id)
    return row
