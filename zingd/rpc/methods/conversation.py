"""tag.*, note.*, quickreply.*, and the ticket extras the console uses while working."""

from __future__ import annotations

import msgspec

from zingd.rpc.registry import REGISTRY, ById
from zingd.rpc.server import Call
from zingd.services import notes, quickreplies, tags
from zingd.services import messages as msgs
from zingd.services import tickets as tix


class TagCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    color: str = "#868e96"


class SetTags(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    tags: list[str]


class NoteCreate(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    body: str


class ByTicket(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int


class Typing(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    composing: bool = True


class QuickList(msgspec.Struct, forbid_unknown_fields=True):
    query: str | None = None


class QuickCreate(msgspec.Struct, forbid_unknown_fields=True):
    shortcut: str
    body: str
    personal: bool = False


class QuickUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    shortcut: str | None = None
    body: str | None = None


@REGISTRY.method("tag.list")
async def tag_list(call: Call, p) -> list:
    """The tenant's tags with how many tickets and contacts carry them."""
    return await tags.list_tags(call.app, call.actor)


@REGISTRY.method("tag.create", TagCreate)
async def tag_create(call: Call, p: TagCreate) -> dict:
    """Create (or recolor) a tag."""
    return await call.app.db.write(tags.create, call.actor, p.name, p.color)


@REGISTRY.method("tag.delete", ById)
async def tag_delete(call: Call, p: ById) -> dict:
    """Delete a tag everywhere."""
    return await call.app.db.write(tags.delete, call.actor, p.id)


@REGISTRY.method("ticket.tag", SetTags)
async def ticket_tag(call: Call, p: SetTags) -> dict:
    """Set a ticket's tags by name (replaces them; new names are created)."""
    return await call.app.db.write(tags.set_ticket_tags, call.actor, p.id, p.tags)


@REGISTRY.method("contact.tag", SetTags)
async def contact_tag(call: Call, p: SetTags) -> dict:
    """Set a contact's tags by name (replaces them)."""
    return {"id": p.id, "tags": await call.app.db.write(tags.set_contact_tags, call.actor, p.id, p.tags)}


@REGISTRY.method("ticket.history", ById)
async def history(call: Call, p: ById) -> list:
    """The ticket's timeline: status changes, assignments, transfers, notes."""
    return await tix.history(call.app, call.actor, p.id)


@REGISTRY.method("note.create", NoteCreate)
async def note_create(call: Call, p: NoteCreate) -> dict:
    """Add a private note (never sent to the customer)."""
    return await call.app.db.write(notes.create, call.actor, p.ticket_id, p.body)


@REGISTRY.method("note.list", ByTicket)
async def note_list(call: Call, p: ByTicket) -> list:
    """A ticket's private notes, oldest first."""
    return await notes.list_notes(call.app, call.actor, p.ticket_id)


@REGISTRY.method("quickreply.list", QuickList)
async def quick_list(call: Call, p: QuickList) -> list:
    """The caller's quick replies (personal and tenant-wide), fuzzy-filtered by query."""
    return await quickreplies.list_replies(call.app, call.actor, p.query)


@REGISTRY.method("quickreply.create", QuickCreate)
async def quick_create(call: Call, p: QuickCreate) -> dict:
    """Add a quick reply: personal, or tenant-wide (supervisors and up)."""
    return await call.app.db.write(quickreplies.create, call.actor, p.shortcut, p.body, p.personal)


@REGISTRY.method("quickreply.update", QuickUpdate)
async def quick_update(call: Call, p: QuickUpdate) -> dict:
    """Change a quick reply's shortcut or body."""
    return await call.app.db.write(quickreplies.update, call.actor, p.id, p.shortcut, p.body)


@REGISTRY.method("quickreply.delete", ById)
async def quick_delete(call: Call, p: ById) -> dict:
    """Delete a quick reply."""
    return await call.app.db.write(quickreplies.delete, call.actor, p.id)


@REGISTRY.method("message.read", ByTicket)
async def read(call: Call, p: ByTicket) -> dict:
    """The agent read the ticket: clear its unread count and tell WhatsApp."""
    return await msgs.mark_read(call.app, call.actor, p.ticket_id)


@REGISTRY.method("message.typing", Typing)
async def typing(call: Call, p: Typing) -> dict:
    """Show the customer that the agent is typing (or stopped)."""
    return await msgs.typing(call.app, call.actor, p.ticket_id, p.composing)
