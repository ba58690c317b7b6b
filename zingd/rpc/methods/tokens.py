"""token.*: API tokens for scripts (shown once, stored hashed)."""

from __future__ import annotations

import msgspec

from zingd.errors import Forbidden, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import tokens


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    role: str | None = None
    ttl_days: float | None = None


class TokenList(msgspec.Struct, forbid_unknown_fields=True):
    all_users: bool = False


@REGISTRY.method("token.create", TokenCreate, result=R.NewToken, errors=(Forbidden, Invalid, Unavailable))
async def create(call: Call, p: TokenCreate) -> dict:
    """An API token for a script, with at most your role; the token is shown only in this answer."""
    return await call.app.db.write(tokens.create, call.actor, p.name, p.role, p.ttl_days)


@REGISTRY.method("token.list", TokenList, result=list[R.Token])
async def list_(call: Call, p: TokenList) -> list:
    """Your API tokens (admins: everyone's with all_users)."""
    return await tokens.list_tokens(call.app.db, call.actor, p.all_users)


@REGISTRY.method("token.revoke", ById, result=R.Token, errors=(NotFound, Unavailable))
async def revoke(call: Call, p: ById) -> dict:
    """Revoke an API token; connections using it are closed (the server hears token.revoked)."""
    return await call.app.db.write(tokens.revoke, call.actor, p.id)
