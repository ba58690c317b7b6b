"""media.*: files handed over by their bytes (the daemon never opens a path a caller names)."""

from __future__ import annotations

import binascii

import msgspec

from zingd.errors import ChannelDown, Conflict, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import media_fetch, uploads


class MediaUpload(msgspec.Struct, forbid_unknown_fields=True):
    data: str = ""
    name: str | None = None
    upload_id: int | None = None
    offset: int | None = None
    done: bool = False


@REGISTRY.method("media.upload", MediaUpload, result=R.Upload, errors=(NotFound, Conflict, Invalid, Unavailable))
async def upload(call: Call, p: MediaUpload) -> dict:
    """Hand over a file by its bytes, in chunks: the first call names it (name: only its last part counts) and
    gets an upload_id; each call adds data (base64; up to 512 KiB decoded keeps a call under the frame limit) at
    the end, at offset if given (the bytes received so far: a resent chunk is refused, data.received says where to
    go on); done: true finishes it (its type is sniffed from the content), with the last chunk or alone. A small
    file is one call: {name, data, done: true}. Past 64 MiB a chunk is refused and the upload discarded. The
    finished upload_id goes to message.send, message.send_to, campaign.create (media, csv) or contact.import,
    and is consumed by the first of them that commits. Yours alone; expires 1 h after its last chunk unfinished,
    1 day after it finished unused.
    """
    try:
        data = binascii.a2b_base64(p.data, strict_mode=True)
    except (binascii.Error, ValueError) as e:
        raise Invalid(f"data is not base64: {e}", field="data") from None
    return await uploads.receive(call.app.db, call.app.settings.data_path, call.actor, data, p.upload_id, p.name,
                                 p.offset, p.done)


class MediaDiscard(msgspec.Struct, forbid_unknown_fields=True):
    upload_id: int


@REGISTRY.method("media.discard", MediaDiscard, result=R.Removed, errors=(NotFound, Unavailable))
async def discard(call: Call, p: MediaDiscard) -> dict:
    """Drop an upload of yours now, finished or not (after a dry run, or a send you gave up); unused ones also
    expire by themselves."""
    await uploads.discard(call.app.db, call.app.settings.data_path, call.actor, p.upload_id)
    return {"removed": True}


class MediaFetch(msgspec.Struct, forbid_unknown_fields=True):
    message_id: int


@REGISTRY.method("media.fetch", MediaFetch, result=R.Message, errors=(NotFound, Conflict, ChannelDown, Unavailable))
async def fetch(call: Call, p: MediaFetch) -> dict:
    """Download a received file again after its download failed (media_error set): the message comes back with
    the file (media_path) or with the new error; message.updated tells every console. Needs its number
    connected. conflict: nothing to fetch again (not a failed download, fetched already, over 30 days, or gone
    from WhatsApp's servers: the customer must send it again)."""
    return await media_fetch.fetch_again(call.app.db, call.app.channels, call.actor, p.message_id)
