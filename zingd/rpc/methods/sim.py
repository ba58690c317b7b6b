"""sim.*: drive the simulated WhatsApp network (customers, faults, the journal)."""

from __future__ import annotations

import msgspec

from zingd.channels.sim import CUSTOMERS, SimChannel
from zingd.errors import Invalid, NotFound
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call


class SimSay(msgspec.Struct, forbid_unknown_fields=True):
    from_: str = msgspec.field(name="from")
    body: str = ""
    name: str = ""
    type: str = "text"
    connection_id: int | None = None
    quoted_wa_id: str | None = None
    group: str | None = None
    lid: str | None = None


class SimFault(msgspec.Struct, forbid_unknown_fields=True):
    connection_id: int | None = None
    disconnect_s: float | None = None
    ban_s: float | None = None
    send_failure_rate: float | None = None
    duplicate_inbound: bool | None = None


class SimJournalParams(msgspec.Struct, forbid_unknown_fields=True):
    connection_id: int | None = None


async def _sim(call: Call, connection_id: int | None) -> SimChannel:
    """The caller's sim connection: the one named, else the tenant's default sim."""
    sql = "SELECT id FROM connections WHERE tenant_id = ? AND kind = 'sim'"
    args: tuple = (call.actor.tenant_id,)
    if connection_id is not None:
        sql += " AND id = ?"
        args += (connection_id,)
    cid = await call.app.db.value(sql + " ORDER BY is_default DESC, id LIMIT 1", args)
    channel = call.app.channels.get(cid) if cid is not None else None
    if not isinstance(channel, SimChannel):
        raise NotFound("no running sim connection" + (f" {connection_id}" if connection_id else ""))
    return channel


@REGISTRY.method("sim.say", SimSay, result=R.SimSaid, errors=(NotFound, Invalid))
async def say(call: Call, p: SimSay) -> dict:
    """A simulated customer writes in, optionally in a group or behind a LID (returns once zing stored it)."""
    number = "".join(ch for ch in p.from_ if ch.isdigit())
    if len(number) < 8 or len(number) > 15:
        raise Invalid("from must be a phone number with 8 to 15 digits", field="from")
    if p.type not in ("text", "image"):
        raise Invalid("type must be text or image", field="type")
    if p.type == "text" and not p.body.strip():
        raise Invalid("a text message needs a body", field="body")
    channel = await _sim(call, p.connection_id)
    name = p.name or dict(CUSTOMERS).get(number, "")
    for field, value in (("group", p.group), ("lid", p.lid)):
        if value is not None and not (value.isdigit() and 5 <= len(value) <= 30):
            raise Invalid(f"{field} must be 5 to 30 digits (the id before @)", field=field)
    out = await channel.say(number, p.body, name, p.type, p.quoted_wa_id, p.group, p.lid)
    return {**out, "connection_id": channel.connection_id}


@REGISTRY.method("sim.customers", result=list[R.SimCustomer])
async def customers(call: Call, p) -> list:
    """The demo's scripted customers."""
    return [{"number": n, "name": name} for n, name in CUSTOMERS]


@REGISTRY.method("sim.fault", SimFault, result=R.SimFaults, errors=(NotFound, Invalid))
async def fault(call: Call, p: SimFault) -> dict:
    """Inject faults: a network outage, a temporary ban, a send failure rate, duplicate inbound delivery."""
    channel = await _sim(call, p.connection_id)
    if p.send_failure_rate is not None:
        if not 0 <= p.send_failure_rate <= 1:
            raise Invalid("send_failure_rate must be between 0 and 1", field="send_failure_rate")
        channel.faults.send_failure_rate = p.send_failure_rate
    if p.duplicate_inbound is not None:
        channel.faults.duplicate_inbound = p.duplicate_inbound
    for field, seconds, state, reason in (
            ("disconnect_s", p.disconnect_s, "disconnected", "simulated network outage"),
            ("ban_s", p.ban_s, "banned", "simulated temporary ban")):
        if seconds is not None:
            if not 0 < seconds <= 3600:
                raise Invalid(f"{field} must be between 0 and 3600", field=field)
            await channel.disconnect(seconds, state, reason)
    return {"connection_id": channel.connection_id, "state": channel.state,
            "send_failure_rate": channel.faults.send_failure_rate,
            "duplicate_inbound": channel.faults.duplicate_inbound}


@REGISTRY.method("sim.journal", SimJournalParams, result=R.SimJournal, errors=(NotFound,))
async def journal(call: Call, p: SimJournalParams) -> dict:
    """Counts from the simulated network's own journal (what customers sent and received)."""
    channel = await _sim(call, p.connection_id)
    return {"connection_id": channel.connection_id, "path": str(channel.journal_path), **channel.health()}
