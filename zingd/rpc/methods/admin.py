"""token.*, audit.*, report.*: scripts' credentials, the audit trail, the numbers."""

from __future__ import annotations

import msgspec

from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import audit, reports, tokens


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    role: str | None = None
    ttl_days: float | None = None


class TokenList(msgspec.Struct, forbid_unknown_fields=True):
    all_users: bool = False


class AuditList(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: int | None = None
    user_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: int | None = None
    after_id: int | None = None
    limit: int = 100


class Report(msgspec.Struct, forbid_unknown_fields=True):
    since: float | None = None
    until: float | None = None


@REGISTRY.method("token.create", TokenCreate)
async def token_create(call: Call, p: TokenCreate) -> dict:
    """An API token for a script, with at most your role; the token is shown only in this answer."""
    return await call.app.db.write(tokens.create, call.actor, p.name, p.role, p.ttl_days)


@REGISTRY.method("token.list", TokenList)
async def token_list(call: Call, p: TokenList) -> list:
    """Your API tokens (admins: everyone's with all_users)."""
    return await tokens.list_tokens(call.app, call.actor, p.all_users)


@REGISTRY.method("token.revoke", ById)
async def token_revoke(call: Call, p: ById) -> dict:
    """Revoke an API token; connections using it are closed."""
    row = await call.app.db.write(tokens.revoke, call.actor, p.id)
    call.app.rpc.drop(lambda actor: actor.token_id == p.id)
    return row


@REGISTRY.method("audit.list", AuditList)
async def audit_list(call: Call, p: AuditList) -> list:
    """Who did what to which ids, when (append-only; filter with action like ticket.*)."""
    return await audit.list_entries(call.app, call.actor, p.tenant_id, p.user_id, p.action, p.target_type,
                                    p.target_id, p.after_id, p.limit)


@REGISTRY.method("report.summary", Report)
async def report_summary(call: Call, p: Report) -> dict:
    """Tickets by status, per agent and per queue; first response, resolution and rating."""
    return await reports.summary(call.app, call.actor, p.since, p.until)
