"""webhook.*: tell other systems what happens, signed and retried."""

from __future__ import annotations

import msgspec

from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import webhooks as svc


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    event_types: list[str] = []
    from_now: bool = True


class Enable(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    enabled: bool


class Deliveries(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    limit: int = 100


@REGISTRY.method("webhook.create", WebhookCreate)
async def create(call: Call, p: WebhookCreate) -> dict:
    """POST events (all, or these types) to a URL; the signing secret is shown only here."""
    start = call.app.bus.last_seq if p.from_now else 0
    row = await call.app.db.write(svc.create, call.actor, p.url, p.event_types, start)
    call.app.webhooks.ensure(row["id"], call.actor.tenant_id)
    return row


@REGISTRY.method("webhook.list")
async def list_(call: Call, p) -> list:
    """The tenant's webhooks with their delivery cursor and last error."""
    return await svc.list_webhooks(call.app, call.actor)


@REGISTRY.method("webhook.delete", ById)
async def delete(call: Call, p: ById) -> dict:
    """Stop and remove a webhook."""
    return await call.app.db.write(svc.delete, call.actor, p.id)


@REGISTRY.method("webhook.enable", Enable)
async def enable(call: Call, p: Enable) -> dict:
    """Pause or resume deliveries (resuming continues from where it stopped)."""
    row = await call.app.db.write(svc.set_enabled, call.actor, p.id, p.enabled)
    if p.enabled:
        call.app.webhooks.ensure(p.id, call.actor.tenant_id)
    return row


@REGISTRY.method("webhook.deliveries", Deliveries)
async def deliveries(call: Call, p: Deliveries) -> list:
    """Events a webhook gave up on, newest first."""
    return await svc.deliveries(call.app, call.actor, p.id, p.limit)
