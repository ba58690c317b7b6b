"""auth.*: log in with a password or a token, bootstrap the first admin."""

from __future__ import annotations

import msgspec

from zingd.errors import Conflict, Forbidden, Invalid, RateLimited, Unauthenticated, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services.auth import public_user


class LoginParams(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str


class TokenParams(msgspec.Struct, forbid_unknown_fields=True):
    token: str


class BootstrapParams(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    name: str = ""
    tenant: str = "Default"
    link_os_user: bool = True


@REGISTRY.method("auth.login", LoginParams, result=R.Login,
                 errors=(Unauthenticated, Forbidden, RateLimited, Unavailable))
async def login(call: Call, p: LoginParams) -> dict:
    """Exchange email and password for a session token (shown once) and log this connection in.

    Failed logins are limited per account and per OS user (rate_limited, with retry_after seconds);
    a suspended tenant's users are refused (forbidden, reason tenant_suspended)."""
    actor, out = await call.app.auth.login(p.email, p.password, call.session.peer_uid)
    call.session.actor = actor
    return out


@REGISTRY.method("auth.token", TokenParams, result=R.User, errors=(Unauthenticated, Forbidden))
async def token(call: Call, p: TokenParams) -> dict:
    """Log this connection in with a session or API token (refused for a suspended tenant's users)."""
    actor, user = await call.app.auth.from_token(p.token)
    call.session.actor = actor
    return {**user, "role": actor.role}


@REGISTRY.method("auth.bootstrap", BootstrapParams, result=R.User, errors=(Forbidden, Conflict, Invalid, Unavailable))
async def bootstrap(call: Call, p: BootstrapParams) -> dict:
    """Create the first tenant and superadmin; only the daemon's OS user, only on an empty database."""
    user = await call.app.auth.bootstrap(call.session.peer_uid, p.tenant, p.email, p.name, p.password,
                                         p.link_os_user)
    call.session.actor = await call.app.auth.actor_for_uid(call.session.peer_uid) if p.link_os_user else None
    return user


@REGISTRY.method("auth.whoami", result=R.Me)
async def whoami(call: Call, p) -> dict:
    """The user this connection acts as, and their company's time zone (the one times are typed and
    shown in)."""
    row = await call.app.db.one("SELECT u.*, t.timezone AS timezone FROM users u JOIN tenants t "
                                "ON t.id = u.tenant_id WHERE u.id = ?", (call.actor.user_id,))
    return {**public_user(row), "role": call.actor.role, "via": "token" if call.actor.token_id else "os_user",
            "timezone": row["timezone"]}


@REGISTRY.method("auth.logout", result=R.Revoked, errors=(Unavailable,))
async def logout(call: Call, p) -> dict:
    """Revoke this connection's token; every other connection using it is closed, this one stays
    open, logged out (revoked is false for a peer-uid login, which has no token)."""
    actor = call.actor
    call.session.actor = None  # before the revocation commits, so only the other connections close
    try:
        revoked = await call.app.auth.logout(actor)
    except Unavailable:
        call.session.actor = actor  # nothing was written: still logged in
        raise
    return {"revoked": revoked}
