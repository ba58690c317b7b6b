"""note.*: private notes on tickets, never sent to the customer."""

from __future__ import annotations

import msgspec

from zingd.errors import Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import notes


class NoteCreate(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    body: str


class NoteList(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int


@REGISTRY.method("note.create", NoteCreate, result=R.Note, errors=(NotFound, Invalid, Unavailable))
async def create(call: Call, p: NoteCreate) -> dict:
    """Add a private note (never sent to the customer)."""
    return await call.app.db.write(notes.create, call.actor, p.ticket_id, p.body)


@REGISTRY.method("note.list", NoteList, result=list[R.Note], errors=(NotFound,))
async def list_(call: Call, p: NoteList) -> list:
    """A ticket's private notes, oldest first."""
    return await notes.list_notes(call.app.db, call.actor, p.ticket_id)
