"""Dashboards: what supervisors look at, computed from tickets in one pass each."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from zingd.actor import Actor

if TYPE_CHECKING:
    from zingd.store.db import Database

_STATS = (
    "count(*) AS tickets, sum(t.status = 'pending') AS pending, sum(t.status = 'open') AS open, "
    "sum(t.status = 'closed') AS closed, "
    "avg(t.first_response_at - t.created_at) AS avg_first_response_s, "
    "avg(CASE WHEN t.closed_at IS NOT NULL THEN t.closed_at - t.created_at END) AS avg_resolution_s, "
    "avg(t.rating) AS avg_rating, count(t.rating) AS ratings"
)


async def summary(db: Database, actor: Actor, since: float | None, until: float | None) -> dict[str, Any]:
    since = since if since is not None else time.time() - 30 * 86400
    until = until if until is not None else time.time() + 1
    args = (actor.tenant_id, since, until)
    where = "t.tenant_id = ? AND t.created_at >= ? AND t.created_at < ?"
    total = await db.one(f"SELECT {_STATS} FROM tickets t WHERE {where}", args)
    agents = await db.all(
        f"SELECT t.user_id, u.name AS user_name, {_STATS} FROM tickets t JOIN users u ON u.id = t.user_id "
        f"WHERE {where} GROUP BY t.user_id ORDER BY tickets DESC", args)
    queues = await db.all(
        f"SELECT t.queue_id, q.name AS queue_name, {_STATS} FROM tickets t LEFT JOIN queues q ON q.id = t.queue_id "
        f"WHERE {where} GROUP BY t.queue_id ORDER BY tickets DESC", args)
    messages = await db.one(
        "SELECT sum(direction = 'in') AS inbound, sum(direction = 'out') AS outbound, "
        "sum(ack = 'failed') AS failed FROM messages WHERE tenant_id = ? AND created_at >= ? AND created_at < ?", args)
    return {"since": since, "until": until, "total": total, "agents": agents, "queues": queues, "messages": messages}
