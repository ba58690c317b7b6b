"""template.*: a cloud number's message templates, synced from Meta and listed for agents.

Sending one is ``message.send_template`` (zingd/rpc/methods/messages.py).
"""

from __future__ import annotations

import msgspec

from zingd.errors import ChannelDown, Conflict, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import templates as svc


class TemplateSyncParams(msgspec.Struct, forbid_unknown_fields=True):
    connection_id: int


class TemplateList(msgspec.Struct, forbid_unknown_fields=True):
    connection_id: int | None = None
    status: str | None = None   # e.g. APPROVED
    q: str | None = None        # words in the name or the body


@REGISTRY.method("template.sync", TemplateSyncParams, result=R.TemplateSync,
                 errors=(NotFound, Conflict, ChannelDown, Invalid, Unavailable))
async def sync(call: Call, p: TemplateSyncParams) -> dict:
    """Fetch a cloud number's templates from its business account (every page) and store them with their
    variables; templates gone from the account are kept as DELETED."""
    return await svc.sync(call.app.db, call.app.channels, call.actor, p.connection_id)


@REGISTRY.method("template.list", TemplateList, result=list[R.Template])
async def list_(call: Call, p: TemplateList) -> list:
    """The tenant's synced templates, by number, name and language."""
    return await svc.list_templates(call.app.db, call.actor, p.connection_id, p.status, p.q)
