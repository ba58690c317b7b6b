"""API tokens for scripts: scoped to a tenant and a role, shown once, stored hashed."""

from __future__ import annotations

from typing import Any

from zingd.actor import RANK, Actor
from zingd.errors import Forbidden, Invalid, NotFound
from zingd.services.auth import issue_token, revoke_token
from zingd.store.db import Database, Tx

COLUMNS = "id, user_id, kind, name, role, created_at, expires_at, revoked_at, last_used_at"


def create(tx: Tx, actor: Actor, name: str, role: str | None, ttl_days: float | None) -> dict[str, Any]:
    role = role or actor.role
    if role not in RANK:
        raise Invalid(f"role must be one of {', '.join(RANK)}", field="role")
    if RANK[role] > RANK[actor.role]:
        raise Forbidden(f"a token can't have more than your role ({actor.role})")
    if not name.strip():
        raise Invalid("name the token after what uses it", field="name")
    user = tx.one("SELECT * FROM users WHERE id = ?", (actor.user_id,))
    token, tid = issue_token(tx, user, "api", ttl_days * 86400 if ttl_days else None, name.strip(), role)
    tx.audit(actor, "token.create", "token", tid, name=name, role=role)
    return {**tx.one(f"SELECT {COLUMNS} FROM tokens WHERE id = ?", (tid,)), "token": token}


def revoke(tx: Tx, actor: Actor, token_id: int) -> dict[str, Any]:
    row = tx.one(f"SELECT {COLUMNS}, tenant_id FROM tokens WHERE id = ? AND tenant_id = ?", (token_id, actor.tenant_id))
    if row is None or (row["user_id"] != actor.user_id and not actor.at_least("admin")):
        raise NotFound(f"no token {token_id}", id=token_id)
    revoke_token(tx, actor.tenant_id, token_id, row["user_id"])
    tx.audit(actor, "token.revoke", "token", token_id)
    return tx.one(f"SELECT {COLUMNS} FROM tokens WHERE id = ?", (token_id,))


async def list_tokens(db: Database, actor: Actor, all_users: bool) -> list[dict[str, Any]]:
    if all_users and actor.at_least("admin"):
        return await db.all(f"SELECT {COLUMNS} FROM tokens WHERE tenant_id = ? AND kind = 'api' ORDER BY id",
                            (actor.tenant_id,))
    return await db.all(f"SELECT {COLUMNS} FROM tokens WHERE user_id = ? AND kind = 'api' ORDER BY id",
                        (actor.user_id,))
