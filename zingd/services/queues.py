"""Queues (departments): greeting, business hours, auto-assignment, members, service-level targets."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from zingd.actor import Actor
from zingd.errors import Conflict, Invalid, NotFound
from zingd.services import hours, routing, sla
from zingd.store.db import Database, Tx
from zingd.store.rows import dumps, with_json

if TYPE_CHECKING:
    from zingd.clock import Clock

ASSIGN_MODES = ("off", "round_robin", "balanced")


def _get(tx: Tx, tenant_id: int, queue_id: int) -> dict[str, Any]:
    row = with_json(tx.one("SELECT * FROM queues WHERE id = ? AND tenant_id = ?", (queue_id, tenant_id)),
                    "business_hours")
    if row is None:
        raise NotFound(f"no queue {queue_id}", id=queue_id)
    row["members"] = [r["user_id"] for r in tx.all("SELECT user_id FROM queue_members WHERE queue_id = ?",
                                                   (queue_id,))]
    return row


def _emit(tx: Tx, tenant_id: int, queue_id: int, type_: str = "queue.updated") -> dict[str, Any]:
    """The queue as committed, with its members: the RPC server moves its sessions' queues by it."""
    row = _get(tx, tenant_id, queue_id)
    tx.emit(tenant_id, type_, {"queue": row})
    return row


def _check(changes: dict[str, Any]) -> dict[str, Any]:
    if "name" in changes and not changes["name"].strip():
        raise Invalid("a queue needs a name", field="name")
    if "color" in changes and not re.fullmatch(r"#[0-9a-fA-F]{6}", changes["color"]):
        raise Invalid("color must look like #1c7ed6", field="color")
    if "assign_mode" in changes and changes["assign_mode"] not in ASSIGN_MODES:
        raise Invalid(f"assign_mode must be one of {', '.join(ASSIGN_MODES)}", field="assign_mode")
    if "business_hours" in changes:
        changes["business_hours"] = dumps(hours.validate(changes["business_hours"]))
    if changes.get("auto_close_hours") is not None and changes["auto_close_hours"] <= 0:
        raise Invalid("auto_close_hours must be positive (or null for never)", field="auto_close_hours")
    sla.check(changes)
    return changes


def create(tx: Tx, actor: Actor, fields: dict[str, Any]) -> dict[str, Any]:
    fields = _check(fields)
    limit, count = tx.one("SELECT max_queues AS l, (SELECT count(*) FROM queues WHERE tenant_id = ?) AS c "
                          "FROM tenants WHERE id = ?", (actor.tenant_id, actor.tenant_id)).values()
    if count >= limit:
        raise Conflict(f"this tenant has {count} queues, its limit; raise max_queues first", limit="max_queues")
    if tx.value("SELECT 1 FROM queues WHERE tenant_id = ? AND name = ?", (actor.tenant_id, fields["name"])):
        raise Conflict(f"a queue named {fields['name']!r} exists", field="name")
    qid = tx.insert("queues", {"tenant_id": actor.tenant_id, "created_at": tx.now, **fields})
    tx.audit(actor, "queue.create", "queue", qid, name=fields["name"])
    return _emit(tx, actor.tenant_id, qid, "queue.created")


def update(tx: Tx, actor: Actor, queue_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    _get(tx, actor.tenant_id, queue_id)
    tx.audit(actor, "queue.update", "queue", queue_id, **changes)  # as given, before JSON encoding
    changes = _check(dict(changes))
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE queues SET {sets} WHERE id = ?", (*changes.values(), queue_id))
    _emit(tx, actor.tenant_id, queue_id)
    if "assign_mode" in changes:
        routing.rebalance(tx, actor.tenant_id)
    return _get(tx, actor.tenant_id, queue_id)


def delete(tx: Tx, actor: Actor, queue_id: int) -> dict[str, Any]:
    row = _get(tx, actor.tenant_id, queue_id)
    if tx.value("SELECT 1 FROM tickets WHERE queue_id = ? AND status != 'closed' LIMIT 1", (queue_id,)):
        raise Conflict("the queue has pending or open tickets; transfer them first")
    tx.execute("UPDATE tickets SET queue_id = NULL WHERE queue_id = ?", (queue_id,))
    tx.execute("DELETE FROM queues WHERE id = ?", (queue_id,))
    tx.audit(actor, "queue.delete", "queue", queue_id, name=row["name"])
    tx.emit(actor.tenant_id, "queue.deleted", {"queue": {"id": queue_id, "name": row["name"]}})
    return row


def set_members(tx: Tx, actor: Actor, queue_id: int, user_ids: list[int]) -> dict[str, Any]:
    _get(tx, actor.tenant_id, queue_id)
    for uid in user_ids:
        if not tx.value("SELECT 1 FROM users WHERE id = ? AND tenant_id = ?", (uid, actor.tenant_id)):
            raise NotFound(f"no user {uid}", id=uid)
    tx.execute("DELETE FROM queue_members WHERE queue_id = ?", (queue_id,))
    tx.conn.executemany("INSERT INTO queue_members (queue_id, user_id) VALUES (?, ?)",
                        [(queue_id, uid) for uid in sorted(set(user_ids))])
    tx.audit(actor, "queue.members", "queue", queue_id, user_ids=sorted(set(user_ids)))
    _emit(tx, actor.tenant_id, queue_id)  # first: members act with the queue before tickets move
    routing.rebalance(tx, actor.tenant_id)
    return _get(tx, actor.tenant_id, queue_id)


def link_connection(tx: Tx, actor: Actor, connection_id: int, queue_ids: list[int]) -> list[int]:
    """Which queues a connection's chatbot menu offers (none linked: all of the tenant's)."""
    if not tx.value("SELECT 1 FROM connections WHERE id = ? AND tenant_id = ?", (connection_id, actor.tenant_id)):
        raise NotFound(f"no connection {connection_id}", id=connection_id)
    for qid in queue_ids:
        _get(tx, actor.tenant_id, qid)
    tx.execute("DELETE FROM connection_queues WHERE connection_id = ?", (connection_id,))
    tx.conn.executemany("INSERT INTO connection_queues (connection_id, queue_id) VALUES (?, ?)",
                        [(connection_id, q) for q in sorted(set(queue_ids))])
    tx.audit(actor, "connection.queues", "connection", connection_id, queue_ids=sorted(set(queue_ids)))
    return sorted(set(queue_ids))


async def list_queues(db: Database, clock: Clock, actor: Actor) -> list[dict[str, Any]]:
    rows = await db.all(
        "SELECT q.*, (SELECT count(*) FROM tickets t WHERE t.queue_id = q.id AND t.status = 'pending') AS pending, "
        "(SELECT group_concat(m.user_id) FROM queue_members m WHERE m.queue_id = q.id) AS member_ids "
        "FROM queues q WHERE q.tenant_id = ? ORDER BY q.id", (actor.tenant_id,))
    out = []
    for r in rows:
        r = with_json(r, "business_hours")
        ids = r.pop("member_ids")
        r["members"] = [int(i) for i in ids.split(",")] if ids else []
        r["open_now"] = hours.is_open(r["business_hours"], clock())
        out.append(r)
    return out
