"""Reading the append-only audit log (nothing in the API writes or edits it directly)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zingd.actor import Actor
from zingd.store.rows import with_json

if TYPE_CHECKING:
    from zingd.store.db import Database


async def list_entries(db: Database, actor: Actor, tenant_id: int | None, user_id: int | None, action: str | None,
                       target_type: str | None, target_id: int | None, after_id: int | None,
                       limit: int) -> list[dict[str, Any]]:
    where, args = ["a.tenant_id = ?"], [actor.tenant(tenant_id)]
    for col, val in (("a.user_id", user_id), ("a.target_type", target_type), ("a.target_id", target_id)):
        if val is not None:
            where.append(f"{col} = ?")
            args.append(val)
    if action:
        where.append("a.action LIKE ?")
        args.append(action.replace("*", "%"))
    if after_id is not None:
        where.append("a.id > ?")
        args.append(after_id)
    # From a cursor: the entries after it. Without one: the newest ``limit`` (both oldest first).
    order = "ASC" if after_id is not None else "DESC"
    rows = await db.all(
        f"SELECT a.*, u.name AS user_name FROM audit_log a LEFT JOIN users u ON u.id = a.user_id "
        f"WHERE {' AND '.join(where)} ORDER BY a.id {order} LIMIT ?", (*args, max(1, min(limit, 1000))))
    return [with_json(r, "data") for r in (rows if after_id is not None else rows[::-1])]
