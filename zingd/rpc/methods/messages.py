"""message.*: history, sending, retrying, searching."""

from __future__ import annotations

import msgspec

from zingd.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import messages as svc
from zingd.services import uploads
from zingd.services.contacts import resolve_number
from zingd.store import connections


class SendTemplate(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    template_id: int
    params: list[str] = []   # the template's variables, in template.list's params order
    client_ref: str | None = None


class MessageList(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int | None = None
    contact_id: int | None = None
    before_id: int | None = None
    limit: int = 50


class Send(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    body: str = ""
    quoted_id: int | None = None
    upload_id: int | None = None
    signature: bool | None = None
    client_ref: str | None = None  # the sender's key for this message: sending again with it sends nothing twice


class Retry(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    resend: bool = False  # required for an unconfirmed message: it may already have arrived


class Search(msgspec.Struct, forbid_unknown_fields=True):
    query: str
    status: str | None = None
    ticket_id: int | None = None
    queue_id: int | None = None
    user_id: int | None = None
    connection_id: int | None = None
    tag: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 50


class MessageRead(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int


class MessageTyping(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    composing: bool = True


class SendTo(msgspec.Struct, forbid_unknown_fields=True):
    number: str
    body: str = ""
    connection_id: int | None = None
    upload_id: int | None = None
    template_id: int | None = None  # a cloud number's approved template instead of body (template.list)
    params: list[str] = []          # the template's variables, in order


@REGISTRY.method("message.send_to", SendTo, result=R.Message,
                 errors=(NotFound, Conflict, Invalid, Forbidden, Unavailable))
async def send_to(call: Call, p: SendTo) -> dict:
    """Write to a phone number (E.164 or local), starting a ticket if needed; a file goes as upload_id (from
    media.upload, consumed); on a cloud number, outside WhatsApp's 24-hour window, an approved template goes as
    template_id and params. Scripts with API tokens are paced by the number's governor: their message is queued
    for its slot."""
    number = await resolve_number(call.app.db, call.actor.tenant_id, p.number)
    body = p.body.strip()
    template = (p.template_id, p.params) if p.template_id is not None else None
    if template is not None and (body or p.upload_id is not None):
        raise Invalid("a template brings its own text: give template_id and params, not body or upload_id",
                      field="template_id")
    if not body and p.upload_id is None and template is None:
        raise Invalid("a message needs a body, an upload_id or a template_id", field="body")
    async with uploads.as_media(call.app.db, call.app.settings.data_path, call.actor, p.upload_id) as media:
        due_at = None
        if call.actor.token_id is not None and await call.app.db.value(
                "SELECT kind = 'api' FROM tokens WHERE id = ?", (call.actor.token_id,)):
            cid = p.connection_id or await call.app.db.value(connections.DEFAULT, (call.actor.tenant_id,))
            if cid is not None:
                due_at = await call.app.governor.reserve(cid)
        return await call.app.db.write(uploads.consuming(svc.send_to_unit, p.upload_id), call.actor, number,
                                       p.connection_id, body, media, due_at, template)


@REGISTRY.method("message.list", MessageList, result=R.MessagePage, errors=(NotFound, Invalid))
async def list_(call: Call, p: MessageList) -> dict:
    """A page of a ticket's conversation (or a contact's whole history), oldest first; page back with before_id."""
    return await svc.list_messages(call.app.db, call.actor, p.ticket_id, p.before_id, p.limit, p.contact_id)


@REGISTRY.method("message.send", Send, result=R.Message,
                 errors=(NotFound, Forbidden, Conflict, Invalid, Unavailable))
async def send(call: Call, p: Send) -> dict:
    """Queue a message (text, and/or a file as upload_id from media.upload, consumed); it is stored before
    anything is sent. With a client_ref (the caller's key, unique per user) a repeated send, e.g. after a lost
    answer, returns the message the first one queued."""
    return await svc.send(call.app.db, call.app.settings.data_path, call.actor, p.ticket_id, p.body, p.quoted_id,
                          p.upload_id, p.signature, p.client_ref)


@REGISTRY.method("message.send_template", SendTemplate, result=R.Message,
                 errors=(NotFound, Forbidden, Conflict, Invalid, Unavailable))
async def send_template(call: Call, p: SendTemplate) -> dict:
    """Queue an approved template (template.list) on a cloud number's ticket, its variables filled in order;
    the one thing such a number may send outside WhatsApp's 24-hour window. Ticket rules and client_ref as in
    message.send; the message's body is the rendered text."""
    return await svc.send_template(call.app.db, call.actor, p.ticket_id, p.template_id, p.params, p.client_ref)


@REGISTRY.method("message.retry", Retry, result=R.Message, errors=(NotFound, Forbidden, Conflict, Unavailable))
async def retry(call: Call, p: Retry) -> dict:
    """Send a failed message again, under the same WhatsApp id; an unconfirmed one (it may already
    have arrived) only with ``resend: true``."""
    return await call.app.db.write(svc.retry_unit, call.actor, p.id, p.resend)


@REGISTRY.method("message.search", Search, result=list[R.SearchHit], errors=(Invalid,))
async def search(call: Call, p: Search) -> list:
    """Full-text search over message bodies, newest first."""
    filters = msgspec.structs.asdict(p)
    del filters["query"], filters["limit"]
    return await svc.search(call.app.db, call.actor, p.query, p.limit, **filters)


@REGISTRY.method("message.read", MessageRead, result=R.Read, errors=(NotFound, Unavailable))
async def read(call: Call, p: MessageRead) -> dict:
    """The agent read the ticket: clear its unread count and tell WhatsApp."""
    return await svc.mark_read(call.app.db, call.app.channels, call.actor, p.ticket_id)


@REGISTRY.method("message.typing", MessageTyping, result=R.Typing, errors=(NotFound,))
async def typing(call: Call, p: MessageTyping) -> dict:
    """Show the customer that the agent is typing (or stopped)."""
    return await svc.typing(call.app.db, call.app.channels, call.actor, p.ticket_id, p.composing)
