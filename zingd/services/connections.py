"""Connections (WhatsApp numbers): create, configure, run, pair, log out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zingd.errors import Conflict, Invalid, NotFound
from zingd.services.actor import Actor
from zingd.store.db import Tx
from zingd.store.rows import with_json

if TYPE_CHECKING:
    from zingd.app import Daemon

KINDS = ("sim", "whatsapp")


def _get(tx: Tx, tenant_id: int, connection_id: int) -> dict[str, Any]:
    row = with_json(tx.one("SELECT * FROM connections WHERE id = ? AND tenant_id = ?", (connection_id, tenant_id)),
                    "settings")
    if row is None:
        raise NotFound(f"no connection {connection_id}", id=connection_id)
    return row


def create(tx: Tx, actor: Actor, tenant_id: int, name: str, kind: str, is_default: bool,
           greeting: str, farewell: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    name = name.strip()
    if not name:
        raise Invalid("a connection needs a name", field="name")
    limit, count = tx.one("SELECT max_connections AS l, (SELECT count(*) FROM connections WHERE tenant_id = ?) AS c "
                          "FROM tenants WHERE id = ?", (tenant_id, tenant_id)).values()
    if count >= limit:
        raise Conflict(f"this tenant has {count} connections, its limit; raise max_connections first",
                       limit="max_connections")
    if tx.value("SELECT 1 FROM connections WHERE tenant_id = ? AND name = ?", (tenant_id, name)):
        raise Conflict(f"a connection named {name!r} exists", field="name")
    first = not tx.value("SELECT 1 FROM connections WHERE tenant_id = ?", (tenant_id,))
    if is_default:
        tx.execute("UPDATE connections SET is_default = 0 WHERE tenant_id = ?", (tenant_id,))
    cid = tx.insert("connections", {
        "tenant_id": tenant_id, "name": name, "kind": kind, "is_default": int(is_default or first),
        "greeting": greeting, "farewell": farewell, "created_at": tx.now, "updated_at": tx.now,
        "status": "disconnected" if kind == "sim" else "pairing",
    })
    tx.audit(actor, "connection.create", "connection", cid, name=name, kind=kind)
    row = _get(tx, tenant_id, cid)
    tx.emit(tenant_id, "connection.updated", {"id": cid, "status": row["status"], "reason": ""})
    return row


def update(tx: Tx, actor: Actor, connection_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    row = _get(tx, actor.tenant_id, connection_id)
    if changes.get("is_default"):
        tx.execute("UPDATE connections SET is_default = 0 WHERE tenant_id = ?", (row["tenant_id"],))
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE connections SET {sets}, updated_at = ? WHERE id = ?",
                   (*changes.values(), tx.now, connection_id))
    tx.audit(actor, "connection.update", "connection", connection_id, **changes)
    return _get(tx, row["tenant_id"], connection_id)


def delete(tx: Tx, actor: Actor, connection_id: int) -> dict[str, Any]:
    row = _get(tx, actor.tenant_id, connection_id)
    if tx.value("SELECT 1 FROM tickets WHERE connection_id = ? LIMIT 1", (connection_id,)):
        raise Conflict("this connection has tickets; it can be logged out but not deleted")
    tx.execute("DELETE FROM connections WHERE id = ?", (connection_id,))
    tx.audit(actor, "connection.delete", "connection", connection_id, name=row["name"])
    return row


def _with_health(app: Daemon, row: dict[str, Any]) -> dict[str, Any]:
    channel = app.channels.get(row["id"])
    return {**with_json(row, "settings"), "running": channel is not None,
            "health": channel.health() if channel else None}


async def get(app: Daemon, actor: Actor, connection_id: int) -> dict[str, Any]:
    row = await app.db.one("SELECT * FROM connections WHERE id = ? AND tenant_id = ?", (connection_id, actor.tenant_id))
    if row is None:
        raise NotFound(f"no connection {connection_id}", id=connection_id)
    return _with_health(app, row)


async def list_connections(app: Daemon, actor: Actor) -> list[dict[str, Any]]:
    rows = await app.db.all("SELECT * FROM connections WHERE tenant_id = ? ORDER BY id", (actor.tenant_id,))
    return [_with_health(app, row) for row in rows]
