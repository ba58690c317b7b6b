"""connection.*: WhatsApp numbers (and simulated ones)."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from zingd.channels.base import SendError
from zingd.channels.cloud.account import DEFAULT_API_VERSION, DEFAULT_BASE_URL
from zingd.errors import ChannelDown, Conflict, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById, changes
from zingd.rpc.server import Call
from zingd.services import connections as svc
from zingd.services import queues


class ConnectionUpdateSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Chatbot and group behaviour (see zingd.services.routing), merged into the number's settings:
    a key left out keeps its value, a key sent as null goes back to the default."""

    menu: list[dict[str, Any]] | None | UnsetType = UNSET
    menu_max_retries: int | None | UnsetType = UNSET
    default_queue_id: int | None | UnsetType = UNSET
    groups: str | None | UnsetType = UNSET
    pacing: dict[str, Any] | None | UnsetType = UNSET
    call_reply: str | None | UnsetType = UNSET  # said to a caller zing can't answer ("" or null: nothing)


class ConnectionCreateCloud(msgspec.Struct, forbid_unknown_fields=True):
    """A WhatsApp Business Cloud API number: Meta's ids for it, the app's secrets, and where Graph is."""

    phone_number_id: str
    business_account_id: str
    access_token: str
    app_secret: str
    verify_token: str
    api_version: str = DEFAULT_API_VERSION
    base_url: str = DEFAULT_BASE_URL


class ConnectionUpdateCloud(msgspec.Struct, forbid_unknown_fields=True):
    """A cloud number's account, any field of it: a secret given replaces (rotates) the stored one.
    Nothing can be cleared; the number restarts with what changed."""

    phone_number_id: str | UnsetType = UNSET
    business_account_id: str | UnsetType = UNSET
    access_token: str | UnsetType = UNSET
    app_secret: str | UnsetType = UNSET
    verify_token: str | UnsetType = UNSET
    api_version: str | UnsetType = UNSET
    base_url: str | UnsetType = UNSET


class ConnectionCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kind: str = "sim"
    is_default: bool = False
    greeting: str = ""
    farewell: str = ""
    start: bool = True
    cloud: ConnectionCreateCloud | None = None  # kind cloud only


class ConnectionUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str | UnsetType = UNSET
    is_default: bool | UnsetType = UNSET
    greeting: str | UnsetType = UNSET
    farewell: str | UnsetType = UNSET
    settings: ConnectionUpdateSettings | UnsetType = UNSET
    cloud: ConnectionUpdateCloud | UnsetType = UNSET  # kind cloud only


class ConnectionPair(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    phone: str | None = None


class ConnectionSetQueues(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    queue_ids: list[int]


@REGISTRY.method("connection.list", result=list[R.LiveConnection])
async def list_(call: Call, p) -> list:
    """The tenant's numbers with their live state."""
    return await svc.list_connections(call.app.db, call.app.channels, call.actor)


@REGISTRY.method("connection.get", ById, result=R.LiveConnection, errors=(NotFound,))
async def get(call: Call, p: ById) -> dict:
    """One number with its live state."""
    return await svc.get(call.app.db, call.app.channels, call.actor, p.id)


@REGISTRY.method("connection.create", ConnectionCreate, result=R.LiveConnection,
                 errors=(Conflict, Invalid, Unavailable))
async def create(call: Call, p: ConnectionCreate) -> dict:
    """Add a number; a sim or cloud one starts at once, a whatsapp one waits for connection.pair."""
    cloud = msgspec.to_builtins(p.cloud) if p.cloud is not None else None
    row = await call.app.db.write(svc.create, call.actor, call.actor.tenant_id, p.name, p.kind, p.is_default,
                                  p.greeting, p.farewell, cloud)
    if p.start and p.kind in ("sim", "cloud"):
        await call.app.channels.start(row)
    return await svc.get(call.app.db, call.app.channels, call.actor, row["id"])


@REGISTRY.method("connection.update", ConnectionUpdate, result=R.LiveConnection,
                 errors=(NotFound, Conflict, Invalid, Unavailable))
async def update(call: Call, p: ConnectionUpdate) -> dict:
    """Rename, make default, set greeting or farewell, change settings (a key sent as null: its default)
    or a cloud number's account (ids, API version, Graph's address, secrets: a new one rotates it);
    a changed account restarts the number with it."""
    c = changes(p, "name", "is_default", "greeting", "farewell")
    if "is_default" in c:
        c["is_default"] = int(c["is_default"])
    settings = changes(p.settings) if p.settings is not UNSET else None
    cloud = changes(p.cloud) if p.cloud is not UNSET else None
    row = await call.app.db.write(svc.update, call.actor, p.id, c, settings, cloud)
    call.app.governor.forget(p.id)
    if row["cloud_changed"]:
        await call.app.channels.restart(p.id)
    return await svc.get(call.app.db, call.app.channels, call.actor, p.id)


@REGISTRY.method("connection.delete", ById, result=R.Connection, errors=(NotFound, Conflict, Unavailable))
async def delete(call: Call, p: ById) -> dict:
    """Remove a number that never had tickets."""
    await svc.get(call.app.db, call.app.channels, call.actor, p.id)
    await call.app.channels.stop(p.id)
    return await call.app.db.write(svc.delete, call.actor, p.id)


@REGISTRY.method("connection.restart", ById, result=R.LiveConnection, errors=(NotFound,))
async def restart(call: Call, p: ById) -> dict:
    """Stop and start one number without restarting the daemon."""
    await svc.get(call.app.db, call.app.channels, call.actor, p.id)
    await call.app.channels.restart(p.id)
    return await svc.get(call.app.db, call.app.channels, call.actor, p.id)


@REGISTRY.method("connection.pair", ConnectionPair, result=R.Pairing, errors=(NotFound, Conflict, ChannelDown))
async def pair(call: Call, p: ConnectionPair) -> dict:
    """Start pairing: QR codes (or a pairing code with phone) arrive as connection.updated events."""
    row = await svc.get(call.app.db, call.app.channels, call.actor, p.id)
    if row["kind"] == "cloud":
        raise Conflict("cloud numbers don't pair: they connect with their access token "
                       f"(zingctl connections update {p.id} --access-token -)", kind_of="cloud")
    if row["kind"] != "whatsapp":
        raise Conflict("only whatsapp connections pair; sim ones are always connected", kind_of=row["kind"])
    channel = call.app.channels.get(p.id) or await call.app.channels.start(row)
    try:
        await channel.pair(p.phone)
    except SendError as e:
        raise (ChannelDown if e.retryable else Conflict)(str(e), id=p.id) from None
    last = call.app.channels.last_change.get(p.id)
    return {"id": p.id, "status": channel.state, "qr": last.qr if last else None,
            "pair_code": last.pair_code if last else None}


@REGISTRY.method("connection.logout", ById, result=R.LiveConnection,
                 errors=(NotFound, Conflict, ChannelDown, Unavailable))
async def logout(call: Call, p: ById) -> dict:
    """Unlink the number; it must be paired again. A cloud number stops and zing forgets its access
    token: it stays logged out until connection.update gives it one."""
    row = await svc.get(call.app.db, call.app.channels, call.actor, p.id)
    if row["kind"] == "cloud":
        await call.app.channels.stop(p.id)
        await call.app.db.write(svc.logout_cloud, call.actor, p.id)
        return await svc.get(call.app.db, call.app.channels, call.actor, p.id)
    try:
        await call.app.channels.require(p.id).logout()
    except SendError as e:
        raise (ChannelDown if e.retryable else Conflict)(str(e), id=p.id) from None
    await call.app.db.write(lambda tx: tx.audit(call.actor, "connection.logout", "connection", p.id))
    return await svc.get(call.app.db, call.app.channels, call.actor, p.id)


@REGISTRY.method("connection.set_queues", ConnectionSetQueues, result=R.ConnectionQueues,
                 errors=(NotFound, Unavailable))
async def set_queues(call: Call, p: ConnectionSetQueues) -> dict:
    """Set which queues a number's chatbot menu offers (empty: all of the tenant's)."""
    return {"id": p.id, "queue_ids": await call.app.db.write(queues.link_connection, call.actor, p.id, p.queue_ids)}
