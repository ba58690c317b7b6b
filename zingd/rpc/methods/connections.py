"""connection.*: WhatsApp numbers (and simulated ones)."""

from __future__ import annotations

from typing import Any

import msgspec

from zingd.channels.base import SendError
from zingd.errors import ChannelDown, Conflict
from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import connections as svc


class ConnectionSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Chatbot and group behaviour (see zingd.services.routing)."""

    menu: list[dict[str, Any]] | None = None
    menu_max_retries: int | None = None
    default_queue_id: int | None = None
    groups: str | None = None
    pacing: dict[str, Any] | None = None


class Create(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kind: str = "sim"
    is_default: bool = False
    greeting: str = ""
    farewell: str = ""
    start: bool = True


class Update(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str | None = None
    is_default: bool | None = None
    greeting: str | None = None
    farewell: str | None = None
    settings: ConnectionSettings | None = None


class Pair(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    phone: str | None = None


@REGISTRY.method("connection.list")
async def list_(call: Call, p) -> list:
    """The tenant's numbers with their live state."""
    return await svc.list_connections(call.app, call.actor)


@REGISTRY.method("connection.get", ById)
async def get(call: Call, p: ById) -> dict:
    """One number with its live state."""
    return await svc.get(call.app, call.actor, p.id)


@REGISTRY.method("connection.create", Create)
async def create(call: Call, p: Create) -> dict:
    """Add a number; a sim one starts at once, a whatsapp one waits for connection.pair."""
    row = await call.app.db.write(svc.create, call.actor, call.actor.tenant_id, p.name, p.kind, p.is_default,
                                  p.greeting, p.farewell)
    if p.start and p.kind == "sim":
        await call.app.channels.start(row)
    return await svc.get(call.app, call.actor, row["id"])


@REGISTRY.method("connection.update", Update)
async def update(call: Call, p: Update) -> dict:
    """Rename, make default, set greeting or farewell."""
    changes = {k: v for k, v in msgspec.structs.asdict(p).items() if k not in ("id", "settings") and v is not None}
    if "is_default" in changes:
        changes["is_default"] = int(changes["is_default"])
    settings = msgspec.to_builtins(p.settings) if p.settings is not None else None
    row = await call.app.db.write(svc.update, call.actor, p.id, changes, settings)
    call.app.governor.forget(p.id)
    return row


@REGISTRY.method("connection.delete", ById)
async def delete(call: Call, p: ById) -> dict:
    """Remove a number that never had tickets."""
    await svc.get(call.app, call.actor, p.id)
    await call.app.channels.stop(p.id)
    return await call.app.db.write(svc.delete, call.actor, p.id)


@REGISTRY.method("connection.restart", ById)
async def restart(call: Call, p: ById) -> dict:
    """Stop and start one number without restarting the daemon."""
    await svc.get(call.app, call.actor, p.id)
    await call.app.channels.restart(p.id)
    return await svc.get(call.app, call.actor, p.id)


@REGISTRY.method("connection.pair", Pair)
async def pair(call: Call, p: Pair) -> dict:
    """Start pairing: QR codes (or a pairing code with phone) arrive as connection.updated events."""
    row = await svc.get(call.app, call.actor, p.id)
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


@REGISTRY.method("connection.logout", ById)
async def logout(call: Call, p: ById) -> dict:
    """Unlink the number; it must be paired again."""
    await svc.get(call.app, call.actor, p.id)
    try:
        await call.app.channels.require(p.id).logout()
    except SendError as e:
        raise (ChannelDown if e.retryable else Conflict)(str(e), id=p.id) from None
    await call.app.db.write(lambda tx: tx.audit(call.actor, "connection.logout", "connection", p.id))
    return await svc.get(call.app, call.actor, p.id)
