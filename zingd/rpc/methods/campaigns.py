"""campaign.*: automated sending to many contacts, paced by the governor."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from zingd.errors import ChannelDown, Conflict, Forbidden, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, AnyOf, ById
from zingd.rpc.server import Call
from zingd.services import campaigns as svc
from zingd.services.schedules import parse_when
from zingd.services.contact_import import parse_csv
from zingd.services.files import read_text
from zingd.services.messages import stage_media
from zingd.services.contacts import tenant_region


class CampaignCreateCsv(msgspec.Struct, forbid_unknown_fields=True):
    path: str | None = None
    data: str | None = None


class CampaignCreateFilter(msgspec.Struct, forbid_unknown_fields=True):
    tag: str | None = None
    fields: dict[str, str] = {}


class CampaignCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    variants: list[str]
    contact_ids: list[int] | None = None
    tag: str | None = None
    csv: CampaignCreateCsv | None = None
    filter: CampaignCreateFilter | None = None
    connection_ids: list[int] | None = None
    media_path: str | None = None
    start_at: float | str | None = None
    dry_run: bool = False


class CampaignRecipients(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    state: str | None = None
    after_id: int | None = None
    limit: int = 1000


async def _spec(call: Call, p: CampaignCreate) -> tuple[dict[str, Any], Any]:
    sources = [name for name in ("contact_ids", "tag", "csv", "filter") if getattr(p, name)]
    if len(sources) != 1:
        raise Invalid("choose the recipients from exactly one of contact_ids, tag, csv, filter", field="recipients")
    spec: dict[str, Any] = {"name": p.name, "variants": p.variants, "connection_ids": p.connection_ids,
                            "contact_ids": p.contact_ids, "tag": p.tag, "source": sources[0],
                            "filter": msgspec.to_builtins(p.filter) if p.filter else None}
    tz = await call.app.db.value("SELECT timezone FROM tenants WHERE id = ?", (call.actor.tenant_id,))
    spec["start_at"] = parse_when(p.start_at, tz) if p.start_at is not None else None
    parsed = None
    if p.csv is not None:
        if (p.csv.path is None) == (p.csv.data is None):
            raise Invalid("csv needs either path or data", field="csv")
        text = p.csv.data
        if p.csv.path is not None:
            text = await read_text(call.app.settings.data_path, call.session.peer_uid, p.csv.path, "csv")
        region = await tenant_region(call.app.db, call.actor.tenant_id)
        parsed = await asyncio.to_thread(parse_csv, text, region)
    if p.media_path and not p.dry_run:
        spec["media"] = await stage_media(call.app.settings.data_path, call.actor.tenant_id, p.media_path,
                                          call.session.peer_uid)
    return spec, parsed


@REGISTRY.method("campaign.create", CampaignCreate, result=AnyOf(R.Campaign, R.CampaignPreview),
                 errors=(NotFound, Invalid, Forbidden, Unavailable))
async def create(call: Call, p: CampaignCreate) -> dict:
    """Create a draft campaign (dry_run: recipients, rendered samples and projected send times only)."""
    spec, parsed = await _spec(call, p)
    if p.dry_run:
        out = await call.app.db.dry_run(svc.preview, call.actor, spec, parsed)
        out["schedule"] = await call.app.governor.project(out["connection_ids"], out["to_send"])
        return out
    return await call.app.db.write(svc.create, call.actor, spec, parsed)


@REGISTRY.method("campaign.list", result=list[R.Campaign])
async def list_(call: Call, p) -> list:
    """The tenant's campaigns, newest first."""
    rows = await call.app.db.all("SELECT id FROM campaigns WHERE tenant_id = ? ORDER BY id DESC LIMIT 200",
                                 (call.actor.tenant_id,))
    return [await svc.read_summary(call.app.db, call.actor.tenant_id, r["id"]) for r in rows]


@REGISTRY.method("campaign.get", ById, result=R.CampaignDetail, errors=(NotFound,))
async def get(call: Call, p: ById) -> dict:
    """A campaign with per-state counts, each number's pacing limits, and the projected end."""
    row = await svc.read_summary(call.app.db, call.actor.tenant_id, p.id)
    governor = call.app.governor
    row["pacing"] = {str(cid): governor.describe(await governor.pace(cid)) for cid in row["connection_ids"]}
    pending = row["counts"]["pending"]
    row["projection"] = await governor.project(row["connection_ids"], pending) if pending else None
    return row


@REGISTRY.method("campaign.start", ById, result=R.Campaign, errors=(NotFound, Conflict, ChannelDown, Unavailable))
async def start(call: Call, p: ById) -> dict:
    """Start (or resume) a campaign; refused while one of its numbers is not connected."""
    connected = {cid for cid in call.app.channels.ids() if call.app.channels.is_connected(cid)}
    return await call.app.db.write(svc.start, call.actor, p.id, connected)


@REGISTRY.method("campaign.pause", ById, result=R.Campaign, errors=(NotFound, Conflict, Unavailable))
async def pause(call: Call, p: ById) -> dict:
    """Pause a running campaign; resume with campaign.start."""
    row = await call.app.db.write(svc.pause, call.actor, p.id)  # tenant-checked first
    call.app.campaigns.halt(p.id)
    return row


@REGISTRY.method("campaign.cancel", ById, result=R.Campaign, errors=(NotFound, Conflict, Unavailable))
async def cancel(call: Call, p: ById) -> dict:
    """Stop a campaign for good; recipients not yet queued are skipped."""
    row = await call.app.db.write(svc.cancel, call.actor, p.id)  # tenant-checked first
    call.app.campaigns.halt(p.id)
    return row


@REGISTRY.method("campaign.recipients", CampaignRecipients, result=list[R.Recipient], errors=(NotFound,))
async def recipients(call: Call, p: CampaignRecipients) -> list:
    """Per-recipient report: state and timestamps (page with after_id)."""
    return await svc.recipients(call.app.db, call.actor, p.id, p.state, p.after_id, p.limit)
