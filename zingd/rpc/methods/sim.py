"""sim.*: drive the simulated WhatsApp network (customers, faults, the journal)."""

from __future__ import annotations

import time

import msgspec

from zingd.channels.base import CALL_LINES
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
    group_name: str = ""  # with group: the group's subject, as WhatsApp tells it
    lid: str | None = None
    hide_phone: bool = False  # with lid: no phone alongside it (WhatsApp has not shared the mapping yet)
    ts: float | None = None   # WhatsApp's time of the message, epoch seconds: an old one is backlog
    call: str | None = None   # "voice" or "video": the customer calls instead of writing
    seconds: int | None = None  # type audio: its length
    ptt: bool = True  # type audio: a voice note recorded in WhatsApp (push-to-talk); false: an audio file
    from_me: bool = False  # written on the company's own phone to this customer (not by the customer)


class SimFault(msgspec.Struct, forbid_unknown_fields=True):
    connection_id: int | None = None
    disconnect_s: float | None = None
    ban_s: float | None = None
    send_failure_rate: float | None = None
    duplicate_inbound: bool | None = None
    lose_answers: int | None = None
    release_receipts: bool = False
    failed_downloads: int | None = None


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
    """A simulated customer writes in, optionally in a group (group_name: its subject) or behind a LID (hide_phone: without the phone
    beside it), sends a voice note (type audio, seconds; ptt false: an audio file instead), calls (call), or
    wrote at an earlier time (ts: backlog); returns once zing stored it."""
    number = "".join(ch for ch in p.from_ if ch.isdigit())
    if len(number) < 8 or len(number) > 15:
        raise Invalid("from must be a phone number with 8 to 15 digits", field="from")
    if p.type not in ("text", "image", "audio"):
        raise Invalid("type must be text, image or audio", field="type")
    if p.call is not None and p.call not in CALL_LINES:
        raise Invalid("call must be voice or video", field="call")
    if p.type == "text" and not p.body.strip() and p.call is None:
        raise Invalid("a text message needs a body", field="body")
    if p.seconds is not None and not (p.type == "audio" and 1 <= p.seconds <= 3600):
        raise Invalid("seconds: a voice note's length, 1 to 3600, with type audio", field="seconds")
    if not p.ptt and p.type != "audio":
        raise Invalid("ptt: whether audio is a voice note; only with type audio", field="ptt")
    if p.ts is not None and not 0 < p.ts <= time.time() + 60:
        raise Invalid("ts must be epoch seconds, not in the future", field="ts")
    channel = await _sim(call, p.connection_id)
    name = p.name or dict(CUSTOMERS).get(number, "")
    for field, value in (("group", p.group), ("lid", p.lid)):
        if value is not None and not (value.isdigit() and 5 <= len(value) <= 30):
            raise Invalid(f"{field} must be 5 to 30 digits (the id before @)", field=field)
    if p.group_name and p.group is None:
        raise Invalid("group_name needs a group", field="group_name")
    if p.hide_phone and p.lid is None:
        raise Invalid("hide_phone needs a lid", field="hide_phone")
    type_, body = ("system", CALL_LINES[p.call]) if p.call else (p.type, p.body)
    out = await channel.say(number, body, name, type_, p.quoted_wa_id, p.group, p.lid, p.hide_phone, ts=p.ts,
                            call=p.call or "", seconds=p.seconds, group_name=p.group_name.strip(),
                            ptt=p.ptt, from_me=p.from_me)
    return {**out, "connection_id": channel.connection_id}


@REGISTRY.method("sim.customers", result=list[R.SimCustomer])
async def customers(call: Call, p) -> list:
    """The demo's scripted customers."""
    return [{"number": n, "name": name} for n, name in CUSTOMERS]


@REGISTRY.method("sim.fault", SimFault, result=R.SimFaults, errors=(NotFound, Invalid))
async def fault(call: Call, p: SimFault) -> dict:
    """Inject faults: a network outage, a temporary ban, a send failure rate, duplicate inbound delivery,
    sends whose answer is lost (they reach the customer; receipts held until ``release_receipts``), files whose
    download fails (the next ``failed_downloads`` images or audio customers send; media.fetch gets them)."""
    channel = await _sim(call, p.connection_id)
    if p.send_failure_rate is not None:
        if not 0 <= p.send_failure_rate <= 1:
            raise Invalid("send_failure_rate must be between 0 and 1", field="send_failure_rate")
        channel.faults.send_failure_rate = p.send_failure_rate
    if p.duplicate_inbound is not None:
        channel.faults.duplicate_inbound = p.duplicate_inbound
    if p.lose_answers is not None:
        if not 0 <= p.lose_answers <= 1000:
            raise Invalid("lose_answers must be between 0 and 1000", field="lose_answers")
        channel.faults.lose_answers = p.lose_answers
    if p.failed_downloads is not None:
        if not 0 <= p.failed_downloads <= 1000:
            raise Invalid("failed_downloads must be between 0 and 1000", field="failed_downloads")
        channel.faults.failed_downloads = p.failed_downloads
    released = channel.release_receipts() if p.release_receipts else 0
    for field, seconds, state, reason in (
            ("disconnect_s", p.disconnect_s, "disconnected", "simulated network outage"),
            ("ban_s", p.ban_s, "banned", "simulated temporary ban")):
        if seconds is not None:
            if not 0 < seconds <= 3600:
                raise Invalid(f"{field} must be between 0 and 3600", field=field)
            await channel.disconnect(seconds, state, reason)
    return {"connection_id": channel.connection_id, "state": channel.state,
            "send_failure_rate": channel.faults.send_failure_rate,
            "duplicate_inbound": channel.faults.duplicate_inbound, "lose_answers": channel.faults.lose_answers,
            "held_receipts": len(channel.faults.held), "released_receipts": released,
            "failed_downloads": channel.faults.failed_downloads}


@REGISTRY.method("sim.journal", SimJournalParams, result=R.SimJournal, errors=(NotFound,))
async def journal(call: Call, p: SimJournalParams) -> dict:
    """Counts from the simulated network's own journal (what customers sent and received)."""
    channel = await _sim(call, p.connection_id)
    return {"connection_id": channel.connection_id, "path": str(channel.journal_path), **channel.health()}
