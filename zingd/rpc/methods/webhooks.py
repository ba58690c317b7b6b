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


class WebhookDeadLetters(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    limit: int = 100


class WebhookReplay(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    seqs: list[int] | None = None  # the dead letters' event seqs; none: all of them


@REGISTRY.method("webhook.create", WebhookCreate, result=R.NewWebhook, errors=(Invalid, Unavailable))
async def create(call: Call, p: WebhookCreate) -> dict:
    """POST events (all, or these types) to a URL; the signing secret is shown only here."""
    start = call.app.bus.last_seq if p.from_now else 0
    row = await call.app.db.write(svc.create, call.actor, p.url, p.event_types, start)
    call.app.webhooks.ensure(row["id"], call.actor.tenant_id)
    return row


@REGISTRY.method("webhook.list", result=list[R.Webhook])
async def list_(call: Call, p) -> list:
    """The tenant's webhooks with their delivery cursor and trouble: failures, last error, next retry."""
    return await svc.list_webhooks(call.app.db, call.actor)


@REGISTRY.method("webhook.get", ById, result=R.Webhook, errors=(NotFound,))
async def get(call: Call, p: ById) -> dict:
    """One webhook with its delivery cursor and trouble: failures, last error, next retry, dead letters."""
    return await svc.get(call.app.db, call.actor, p.id)


@REGISTRY.method("webhook.delete", ById, result=R.Webhook, errors=(NotFound, Unavailable))
async def delete(call: Call, p: ById) -> dict:
    """Stop and remove a webhook."""
    return await call.app.db.write(svc.delete, call.actor, p.id)


@REGISTRY.method("webhook.update", WebhookUpdate, result=R.Webhook, errors=(NotFound, Unavailable))
async def update(call: Call, p: WebhookUpdate) -> dict:
    """Pause or resume deliveries with enabled (resuming continues from where it stopped)."""
    c = changes(p)
    if "enabled" not in c:  # nothing to change: the webhook as it is
        return await svc.get(call.app.db, call.actor, p.id)
    row = await call.app.db.write(svc.set_enabled, call.actor, p.id, c["enabled"])
    if c["enabled"]:
        call.app.webhooks.ensure(p.id, call.actor.tenant_id)
    return row


@REGISTRY.method("webhook.dead_letters", WebhookDeadLetters, result=list[R.Delivery], errors=(NotFound,))
async def dead_letters(call: Call, p: WebhookDeadLetters) -> list:
    """Events a webhook gave up on (and those queued for a replay), newest first."""
    return await svc.dead_letters(call.app.db, call.actor, p.id, p.limit)


@REGISTRY.method("webhook.replay", WebhookReplay, result=R.Replay, errors=(NotFound, Unavailable))
async def replay(call: Call, p: WebhookReplay) -> dict:
    """Send dead letters again (these seqs, or all), once each, before the events not sent yet."""
    out = await call.app.db.write(svc.replay, call.actor, p.id, p.seqs)
    row = await svc.get(call.app.db, call.actor, p.id)
    if row["enabled"]:
        call.app.webhooks.ensure(p.id, call.actor.tenant_id)
    return out
