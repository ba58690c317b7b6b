"""audit.*: who did what to which ids, when (append-only; nothing here writes it)."""

from __future__ import annotations

import msgspec

from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import audit


class AuditList(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: int | None = None
    user_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: int | None = None
    after_id: int | None = None
    limit: int = 100


@REGISTRY.method("audit.list", AuditList, result=list[R.AuditEntry])
async def list_(call: Call, p: AuditList) -> list:
    """Who did what to which ids, when (append-only; filter with action like ticket.*)."""
    return await audit.list_entries(call.app.db, call.actor, p.tenant_id, p.user_id, p.action, p.target_type,
                                    p.target_id, p.after_id, p.limit)
