"""user.*: people, roles, status."""

from __future__ import annotations

import msgspec

from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import admin


class UserList(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: int | None = None


class UserGet(msgspec.Struct, forbid_unknown_fields=True):
    id: int


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    name: str = ""
    role: str = "agent"
    max_tickets: int = 10
    tenant_id: int | None = None


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str | None = None
    role: str | None = None
    enabled: bool | None = None
    max_tickets: int | None = None
    password: str | None = None


class SetStatus(msgspec.Struct, forbid_unknown_fields=True):
    status: str


class UpdateMe(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    signature: bool | None = None
    password: str | None = None


@REGISTRY.method("user.list", UserList)
async def list_(call: Call, p: UserList) -> list:
    """The tenant's users."""
    return await admin.list_users(call.app, call.actor, p.tenant_id)


@REGISTRY.method("user.get", UserGet)
async def get(call: Call, p: UserGet) -> dict:
    """One user of the tenant, with their queues."""
    return await admin.get_user(call.app, call.actor, p.id)


@REGISTRY.method("user.create", UserCreate)
async def create(call: Call, p: UserCreate) -> dict:
    """Add a user (an admin can't grant more than their own role)."""
    pw_hash = await admin.password_hash(p.password)
    return await call.app.db.write(admin.create_user, call.actor, call.actor.tenant(p.tenant_id), p.email, p.name,
                                   p.role, pw_hash, p.max_tickets)


@REGISTRY.method("user.update", UserUpdate)
async def update(call: Call, p: UserUpdate) -> dict:
    """Rename, change role, disable (revokes their tokens) or reset a password."""
    changes = {k: v for k, v in msgspec.structs.asdict(p).items() if k not in ("id", "password") and v is not None}
    if "enabled" in changes:
        changes["enabled"] = int(changes["enabled"])
    if p.password is not None:
        changes["password_hash"] = await admin.password_hash(p.password)
    row = await call.app.db.write(admin.update_user, call.actor, p.id, changes)
    if changes.get("enabled") == 0:
        call.app.rpc.drop(lambda actor: actor.user_id == p.id)
    elif "role" in changes:
        await call.app.rpc.refresh_actors(row["tenant_id"])
    return row


@REGISTRY.method("user.set_status", SetStatus)
async def set_status(call: Call, p: SetStatus) -> dict:
    """Set one's own status: online, away or offline."""
    return await call.app.db.write(admin.set_status, call.actor, p.status)


@REGISTRY.method("user.update_me", UpdateMe)
async def update_me(call: Call, p: UpdateMe) -> dict:
    """Change one's own name, signature setting or password."""
    changes: dict = {}
    if p.name is not None:
        changes["name"] = p.name.strip() or call.actor.name
    if p.signature is not None:
        changes["signature"] = int(p.signature)
    if p.password is not None:
        changes["password_hash"] = await admin.password_hash(p.password)
    return await call.app.db.write(admin.update_me, call.actor, changes)


@REGISTRY.method("user.directory")
async def directory(call: Call, p) -> list:
    """Colleagues an agent can hand a ticket to: id, name, role, status (enabled users only)."""
    return await call.app.db.all("SELECT id, name, role, status FROM users WHERE tenant_id = ? AND enabled = 1 "
                                 "ORDER BY name", (call.actor.tenant_id,))
