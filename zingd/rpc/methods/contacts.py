"""contact.*: the people who write in."""

from __future__ import annotations

import asyncio

import msgspec
from msgspec import UNSET, UnsetType

from zingd.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, AnyOf, ById, changes
from zingd.rpc.server import Call
from zingd.services import contacts as svc
from zingd.services import tags
from zingd.services import uploads
from zingd.services.contact_import import parse_csv, parse_vcard


class ContactList(msgspec.Struct, forbid_unknown_fields=True):
    query: str | None = None
    after_id: int | None = None
    limit: int = 100
    tag: str | None = None  # only contacts with this tag (by name)


class ContactUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    custom_fields: dict[str, str | int | float | bool | None] | UnsetType = UNSET  # merged; a null value removes one
    opted_out: bool | UnsetType = UNSET
    owner_user_id: int | None | UnsetType = UNSET  # the wallet owner; null: none


class ContactCreate(msgspec.Struct, forbid_unknown_fields=True):
    number: str
    name: str = ""
    email: str = ""
    custom_fields: dict[str, str | int | float | bool] = {}
    tags: list[str] = []


class ContactImport(msgspec.Struct, forbid_unknown_fields=True):
    format: str = "csv"
    data: str | None = None
    upload_id: int | None = None
    dry_run: bool = False
    skip_invalid: bool = False


class ContactMerge(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    into_id: int
    dry_run: bool = False


class ContactSetTags(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    tags: list[str]


@REGISTRY.method("contact.list", ContactList, result=list[R.Contact], errors=(Invalid, NotFound))
async def list_(call: Call, p: ContactList) -> list:
    """Contacts by id, or matching a name/number search; with tag, only those tagged so."""
    return await svc.list_contacts(call.app.db, call.actor, p.query, p.after_id, p.limit, p.tag)


@REGISTRY.method("contact.get", ById, result=R.ContactDetail, errors=(NotFound,))
async def get(call: Call, p: ById) -> dict:
    """A contact with the WhatsApp ids that map to it and its tickets."""
    return await svc.get(call.app.db, call.app.channels, call.actor, p.id)


@REGISTRY.method("contact.update", ContactUpdate, result=R.Contact, errors=(NotFound, Invalid, Unavailable))
async def update(call: Call, p: ContactUpdate) -> dict:
    """Edit name, email, custom fields (merged; null removes one), the opt-out flag or the wallet owner (null clears).

    An agent may opt a customer out but not back in, and put in their own wallet only a contact that
    is in no one else's."""
    return await call.app.db.write(svc.update, call.actor, p.id, changes(p))


@REGISTRY.method("contact.create", ContactCreate, result=R.Contact, errors=(Conflict, Invalid, Unavailable))
async def create(call: Call, p: ContactCreate) -> dict:
    """Add a contact by phone number (normalized to E.164)."""
    number = await svc.resolve_number(call.app.db, call.actor.tenant_id, p.number)
    row = {"number": number, "name": p.name.strip(), "email": p.email.strip(),
           "custom_fields": dict(p.custom_fields), "tags": p.tags}
    return await call.app.db.write(svc.create, call.actor, row)


@REGISTRY.method("contact.import", ContactImport, result=R.ImportReport,
                 errors=(Invalid, NotFound, Conflict, Forbidden, Unavailable))
async def import_(call: Call, p: ContactImport) -> dict:
    """Import CSV or vCard (inline data, or an upload_id from media.upload, consumed unless dry_run): per-row
    errors (row, column, short reason), duplicates merged, all or nothing."""
    if p.format not in ("csv", "vcard"):
        raise Invalid("format must be csv or vcard", field="format")
    if (p.upload_id is None) == (p.data is None):
        raise Invalid("give either data or an upload_id", field="data")
    db, data_dir = call.app.db, call.app.settings.data_path
    text = p.data if p.upload_id is None else await uploads.read_text(db, data_dir, call.actor, p.upload_id,
                                                                        "upload_id")
    region = await svc.tenant_region(db, call.actor.tenant_id)
    parsed = await asyncio.to_thread(parse_csv if p.format == "csv" else parse_vcard, text, region)
    used = None if p.dry_run else p.upload_id  # a dry run leaves the upload for the import itself
    async with uploads.spent(data_dir, call.actor, used):
        return await db.write(uploads.consuming(svc.import_rows, used), call.actor, parsed, p.dry_run, p.skip_invalid)


@REGISTRY.method("contact.export", result=list[R.ContactExport])
async def export(call: Call, p) -> list:
    """Every contact with custom fields and tags (zingctl writes CSV or JSON)."""
    return await svc.export(call.app.db, call.actor)


@REGISTRY.method("contact.merge", ContactMerge, result=AnyOf(R.Contact, R.MergePreview),
                 errors=(NotFound, Conflict, Invalid, Unavailable))
async def merge(call: Call, p: ContactMerge) -> dict:
    """Fold contact id into into_id: its tickets, messages, WhatsApp ids and tags follow (dry_run: what
    would move, checked as the merge would be, nothing changed)."""
    if p.dry_run:
        return await call.app.db.dry_run(svc.merge_preview, call.actor, p.id, p.into_id)
    return await call.app.db.write(svc.merge, call.actor, p.id, p.into_id)


@REGISTRY.method("contact.delete", ById, result=R.Contact, errors=(NotFound, Conflict, Unavailable))
async def delete(call: Call, p: ById) -> dict:
    """Delete a contact that never had a conversation (merge the others)."""
    return await call.app.db.write(svc.delete, call.actor, p.id)


@REGISTRY.method("contact.set_tags", ContactSetTags, result=R.ContactTags, errors=(NotFound, Invalid, Unavailable))
async def set_tags(call: Call, p: ContactSetTags) -> dict:
    """Set a contact's tags by name (replaces them); a supervisor's new names are created, an agent's must exist."""
    return {"id": p.id, "tags": await call.app.db.write(tags.set_contact_tags, call.actor, p.id, p.tags)}
