"""user.*: people, roles, status."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from zingd.errors import Conflict, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, changes
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
    name: str | UnsetType = UNSET
    role: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    max_tickets: int | UnsetType = UNSET
    password: str | UnsetType = UNSET


class UserSetStatus(msgspec.Struct, forbid_unknown_fields=True):
    status: str


class UserUpdateMe(msgspec.Struct, forbid_unknown_fields=True):
    name: str | UnsetType = UNSET
    signature: bool | UnsetType = UNSET
    password: str | UnsetType = UNSET


@REGISTRY.method("user.list", UserList, result=list[R.User])
async def list_(call: Call, p: UserList) -> list:
    """The tenant's users."""
    return await admin.list_users(call.app.db, call.actor, p.tenant_id)


@REGISTRY.method("user.get", UserGet, result=R.UserDetail, errors=(NotFound,))
async def get(call: Call, p: UserGet) -> dict:
    """One user of the tenant, with their queues."""
    return await admin.get_user(call.app.db, call.actor, p.id)


@REGISTRY.method("user.create", UserCreate, result=R.User, errors=(NotFound, Conflict, Invalid, Unavailable))
async def create(call: Call, p: UserCreate) -> dict:
    """Add a user (an admin can't grant more than their own role)."""
    pw_hash = await admin.password_hash(p.password)
    return await call.app.db.write(admin.create_user, call.actor, call.actor.tenant(p.tenant_id), p.email, p.name,
                                   p.role, pw_hash, p.max_tickets)


@REGISTRY.method("user.update", UserUpdate, result=R.User, errors=(NotFound, Invalid, Unavailable))
async def update(call: Call, p: UserUpdate) -> dict:
    """Rename, change role, disable (revokes their tokens and closes their connections) or reset a password."""
    c = changes(p, "name", "role", "enabled", "max_tickets")
    if "enabled" in c:
        c["enabled"] = int(c["enabled"])
    if p.password is not UNSET:
        c["password_hash"] = await admin.password_hash(p.password)
    # The server hears the committed user.updated: a disabled user's sessions close, a new role applies.
    return await call.app.db.write(admin.update_user, call.actor, p.id, c)


@REGISTRY.method("user.set_status", UserSetStatus, result=R.User, errors=(Invalid, Unavailable))
async def set_status(call: Call, p: UserSetStatus) -> dict:
    """Set one's own status: online, away or offline."""
    return await call.app.db.write(admin.set_status, call.actor, p.status)


@REGISTRY.method("user.update_me", UserUpdateMe, result=R.User, errors=(Invalid, Unavailable))
async def update_me(call: Call, p: UserUpdateMe) -> dict:
    """Change one's own name, signature setting or password."""
    c: dict = {}
    if p.name is not UNSET:
        c["name"] = p.name.strip() or call.actor.name
    if p.signature is not UNSET:
        c["signature"] = int(p.signature)
    if p.password is not UNSET:
        c["password_hash"] = await admin.password_hash(p.password)
    return await call.app.db.write(admin.update_me, call.actor, c)


@REGISTRY.method("user.directory", result=list[R.Colleague])
async def directory(call: Call, p) -> list:
    """Colleagues an agent can hand a ticket to: id, name, role, status (enabled users only)."""
    return await call.app.db.all("SELECT id, name, role, status FROM users WHERE tenant_id = ? AND enabled = 1 "
                                 "ORDER BY name", (call.actor.tenant_id,))
