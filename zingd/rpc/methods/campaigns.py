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
from zingd.services import uploads
from zingd.services.schedules import parse_when
from zingd.services.contact_import import parse_csv
from zingd.services.contacts import tenant_region


class CampaignCreateCsv(msgspec.Struct, forbid_unknown_fields=True):
    data: str | None = None
    upload_id: int | None = None


class CampaignCreateFilter(msgspec.Struct, forbid_unknown_fields=True):
    tag: str | None = None
    fields: dict[str, str] = {}


class CampaignCreateTemplate(msgspec.Struct, forbid_unknown_fields=True):
    """What a cloud number sends (to everyone it reaches): an approved template by id, or by name (and
    language when more than one has that name); params may use the campaign's {{variables}}."""

    id: int | None = None
    name: str | None = None
    language: str | None = None
    params: list[str] = []


class CampaignCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    variants: list[str] = []   # may be empty only when every number is a cloud one and a template is given
    contact_ids: list[int] | None = None
    tag: str | None = None
    csv: CampaignCreateCsv | None = None
    filter: CampaignCreateFilter | None = None
    connection_ids: list[int] | None = None
    upload_id: int | None = None
    start_at: float | str | None = None
    dry_run: bool = False
    template: CampaignCreateTemplate | None = None


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
                            "filter": msgspec.to_builtins(p.filter) if p.filter else None,
                            "template": msgspec.to_builtins(p.template) if p.template else None}
    tz = await call.app.db.value("SELECT timezone FROM tenants WHERE id = ?", (call.actor.tenant_id,))
    spec["start_at"] = parse_when(p.start_at, tz) if p.start_at is not None else None
    parsed = None
    if p.csv is not None:
        if (p.csv.upload_id is None) == (p.csv.data is None):
            raise Invalid("csv needs either data or an upload_id", field="csv")
        text = p.csv.data
        if p.csv.upload_id is not None:
            text = await uploads.read_text(call.app.db, call.app.settings.data_path, call.actor, p.csv.upload_id,
                                           "csv.upload_id")
        region = await tenant_region(call.app.db, call.actor.tenant_id)
        parsed = await asyncio.to_thread(parse_csv, text, region)
    return spec, parsed


@REGISTRY.method("campaign.create", CampaignCreate, result=AnyOf(R.Campaign, R.CampaignPreview),
                 errors=(NotFound, Conflict, Invalid, Forbidden, Unavailable))
async def create(call: Call, p: CampaignCreate) -> dict:
    """Create a draft campaign (dry_run: recipients, rendered samples and projected send times only). A file to
    send goes as upload_id, a CSV of recipients as csv: {data} or csv: {upload_id} (from media.upload); creating
    consumes them, a dry run keeps them. On cloud numbers, recipients outside WhatsApp's 24-hour window need an
    approved template (refused otherwise, before anything is stored)."""
    spec, parsed = await _spec(call, p)
    db, data_dir = call.app.db, call.app.settings.data_path
    if p.dry_run:
        if p.upload_id is not None:
            await uploads.ready(db, call.actor, p.upload_id, "upload_id")
        out = await db.dry_run(svc.preview, call.actor, spec, parsed)
        out["schedule"] = await call.app.governor.project(out["connection_ids"], out["to_send"])
        return out
    csv_upload = p.csv.upload_id if p.csv is not None else None
    async with uploads.spent(data_dir, call.actor, csv_upload), \
            uploads.as_media(db, data_dir, call.actor, p.upload_id) as media:
        spec["media"] = media
        return await db.write(uploads.consuming(svc.create, p.upload_id, csv_upload), call.actor, spec, parsed)


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


@REGISTRY.method("campaign.start", ById, result=R.Campaign,
                 errors=(NotFound, Conflict, ChannelDown, Invalid, Unavailable))
async def start(call: Call, p: ById) -> dict:
    """Start (or resume) a campaign; refused while one of its numbers is not connected, or while a cloud number
    would need a template the campaign lacks (or one not approved there)."""
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
