"""webhook.*: tell other systems what happens, signed and retried."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from zingd.errors import Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById, changes
from zingd.rpc.server import Call
from zingd.services import webhooks as svc


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    event_types: list[str] = []
    from_now: bool = True


class WebhookUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    enabled: bool | UnsetType = UNSET


class WebhookDeliveries(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    limit: int = 100


@REGISTRY.method("webhook.create", WebhookCreate, result=R.NewWebhook, errors=(Invalid, Unavailable))
async def create(call: Call, p: WebhookCreate) -> dict:
    """POST events (all, or these types) to a URL; the signing secret is shown only here."""
    start = call.app.bus.last_seq if p.from_now else 0
    row = await call.app.db.write(svc.create, call.actor, p.url, p.event_types, start)
    call.app.webhooks.ensure(row["id"], call.actor.tenant_id)
    return row


@REGISTRY.method("webhook.list", result=list[R.Webhook])
async def list_(call: Call, p) -> list:
    """The tenant's webhooks with their delivery cursor and last error."""
    return await svc.list_webhooks(call.app.db, call.actor)


@REGISTRY.method("webhook.delete", ById, result=R.Webhook, errors=(NotFound, Unavailable))
async def delete(call: Call, p: ById) -> dict:
    """Stop and remove a webhook."""
    return await call.app.db.write(svc.delete, call.actor, p.id)


@REGISTRY.method("webhook.update", WebhookUpdate, result=R.Webhook, errors=(NotFound, Unavailable))
async def update(call: Call, p: WebhookUpdate) -> dict:
    """Pause or resume deliveries with enabled (resuming continues from where it stopped)."""
    c = changes(p)
    if "enabled" not in c:  # nothing to change: the webhook as it is
        for row in await svc.list_webhooks(call.app.db, call.actor):
            if row["id"] == p.id:
                return row
        raise NotFound(f"no webhook {p.id}", id=p.id)
    row = await call.app.db.write(svc.set_enabled, call.actor, p.id, c["enabled"])
    if c["enabled"]:
        call.app.webhooks.ensure(p.id, call.actor.tenant_id)
    return row


@REGISTRY.method("webhook.deliveries", WebhookDeliveries, result=list[R.Delivery], errors=(NotFound,))
async def deliveries(call: Call, p: WebhookDeliveries) -> list:
    """Events a webhook gave up on, newest first."""
    return await svc.deliveries(call.app.db, call.actor, p.id, p.limit)
