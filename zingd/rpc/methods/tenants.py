"""tenant.*: companies and their limits."""

from __future__ import annotations

import msgspec

from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import admin


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    max_users: int = 50
    max_connections: int = 5
    max_queues: int = 20
    timezone: str = "UTC"


class TenantGet(msgspec.Struct, forbid_unknown_fields=True):
    id: int | None = None


class TenantUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: int
    name: str | None = None
    status: str | None = None
    max_users: int | None = None
    max_connections: int | None = None
    max_queues: int | None = None
    timezone: str | None = None


@REGISTRY.method("tenant.list")
async def list_(call: Call, p) -> list:
    """Every tenant with user and connection counts."""
    return await admin.list_tenants(call.app)


@REGISTRY.method("tenant.create", TenantCreate)
async def create(call: Call, p: TenantCreate) -> dict:
    """Create a company with its limits."""
    limits = {k: getattr(p, k) for k in ("max_users", "max_connections", "max_queues", "timezone")}
    return await call.app.db.write(admin.create_tenant, call.actor, p.name, limits)


@REGISTRY.method("tenant.get", TenantGet)
async def get(call: Call, p: TenantGet) -> dict:
    """One tenant (one's own unless superadmin)."""
    return await admin.get_tenant(call.app, call.actor, p.id)


@REGISTRY.method("tenant.update", TenantUpdate)
async def update(call: Call, p: TenantUpdate) -> dict:
    """Rename, suspend or change a tenant's limits."""
    changes = {k: v for k, v in msgspec.structs.asdict(p).items() if k != "id" and v is not None}
    return await call.app.db.write(admin.update_tenant, call.actor, p.id, changes)


class TenantSettings(msgspec.Struct, forbid_unknown_fields=True):
    rating: bool | None = None
    rating_prompt: str | None = None
    rating_thanks: str | None = None
    region: str | None = None
    opt_out_keywords: list[str] | None = None
    opt_out_reply: str | None = None


@REGISTRY.method("tenant.settings", TenantSettings)
async def settings(call: Call, p: TenantSettings) -> dict:
    """Rating survey on/off and its words, default phone region (e.g. BR), opt-out keywords and reply."""
    changes = {k: v for k, v in msgspec.structs.asdict(p).items() if v is not None}
    return await call.app.db.write(admin.tenant_settings, call.actor, changes)
