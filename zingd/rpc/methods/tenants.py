"""tenant.*: companies, their limits and company-wide settings."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from zingd.errors import Conflict, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, changes
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


class TenantUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str | UnsetType = UNSET
    status: str | UnsetType = UNSET
    max_users: int | UnsetType = UNSET
    max_connections: int | UnsetType = UNSET
    max_queues: int | UnsetType = UNSET
    timezone: str | UnsetType = UNSET


class TenantUpdateSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Each setting: leave it out to keep it, null to go back to the default."""

    rating: bool | None | UnsetType = UNSET
    rating_prompt: str | None | UnsetType = UNSET
    rating_thanks: str | None | UnsetType = UNSET
    region: str | None | UnsetType = UNSET
    opt_out_keywords: list[str] | None | UnsetType = UNSET
    opt_out_reply: str | None | UnsetType = UNSET


@REGISTRY.method("tenant.list", result=list[R.TenantSummary])
async def list_(call: Call, p) -> list:
    """Every tenant with user and connection counts."""
    return await admin.list_tenants(call.app.db)


@REGISTRY.method("tenant.create", TenantCreate, result=R.Tenant, errors=(Conflict, Invalid, Unavailable))
async def create(call: Call, p: TenantCreate) -> dict:
    """Create a company with its limits."""
    limits = {k: getattr(p, k) for k in ("max_users", "max_connections", "max_queues", "timezone")}
    return await call.app.db.write(admin.create_tenant, call.actor, p.name, limits)


@REGISTRY.method("tenant.get", TenantGet, result=R.TenantDetail, errors=(NotFound,))
async def get(call: Call, p: TenantGet) -> dict:
    """One tenant (one's own unless superadmin), with the defaults of the settings it has not set."""
    return await admin.get_tenant(call.app.db, call.actor, p.id)


@REGISTRY.method("tenant.update", TenantUpdate, result=R.Tenant, errors=(NotFound, Invalid, Unavailable))
async def update(call: Call, p: TenantUpdate) -> dict:
    """Rename, suspend or change a tenant's limits. Suspended: its users (below superadmin) can't log
    in, their connections close, its numbers stop sending; reactivated, what waited goes out."""
    tenant = await call.app.db.write(admin.update_tenant, call.actor, p.id, changes(p))
    if p.status is not UNSET:
        call.app.dispatcher.arm_soon()  # the tenant's schedules leave or join the ones it waits for
    return tenant


@REGISTRY.method("tenant.update_settings", TenantUpdateSettings, result=R.TenantSettings,
                 errors=(Unavailable,))
async def update_settings(call: Call, p: TenantUpdateSettings) -> dict:
    """Rating survey on/off and its words, default phone region (e.g. BR), opt-out keywords and reply."""
    return await call.app.db.write(admin.tenant_settings, call.actor, changes(p))
