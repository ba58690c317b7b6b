"""copilot.*: the assistant at the agent's composer: a suggested reply, a rewritten draft, a summary,
proposed tags. Nothing is ever sent to the customer from here; each method sees exactly the tickets
``ticket.get`` does (``zingd/assistant/copilot.py``). The assistant off, over its daily limit or its
server failing is ``unavailable``, saying which.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from zingd.assistant import copilot
from zingd.errors import Invalid, NotFound, Unavailable
from zingd.rpc.registry import REGISTRY
from zingd.rpc.results import Struct
from zingd.rpc.server import Call

Style = Literal["shorter", "friendlier", "formal", "grammar", "translate"]


class CopilotSuggest(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    stream: bool = False


class CopilotRewrite(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    style: Style
    ticket_id: int | None = None


class CopilotSummarize(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int
    note: bool = False


class CopilotTags(msgspec.Struct, forbid_unknown_fields=True):
    ticket_id: int


class SuggestionSource(Struct):
    """A knowledge entry a suggestion drew on."""

    id: int
    title: str


class Suggestion(Struct):
    text: str
    sources: list[SuggestionSource]


class Rewritten(Struct):
    text: str


class ConversationSummary(Struct):
    text: str
    note_id: int | None   # the private note it was stored as (note: true)


class TagProposal(Struct):
    tags: list[str]        # existing tag names only
    reason: str


def _deltas(send: Callable[[dict], None], request: Any) -> Callable[[str], None]:
    """Each piece of a streamed answer as a ``copilot.delta`` notification naming the request."""
    def on_delta(piece: str) -> None:
        send({"jsonrpc": "2.0", "method": "copilot.delta", "params": {"request": request, "text": piece}})
    return on_delta


@REGISTRY.method("copilot.suggest", CopilotSuggest, result=Suggestion, errors=(NotFound, Unavailable))
async def suggest(call: Call, p: CopilotSuggest) -> dict:
    """A reply to the ticket for the agent to edit and send (never sent by itself), grounded in the
    tenant's knowledge. With stream, each piece arrives first as a copilot.delta notification
    {request, text}, then the whole answer."""
    send = getattr(call.session, "send", None)  # a socket session; over HTTP the answer comes whole
    on_delta = _deltas(send, call.request_id) if p.stream and send is not None else None
    return await copilot.suggest(call.app.db, call.app.assistant, call.actor, p.ticket_id, on_delta)


@REGISTRY.method("copilot.rewrite", CopilotRewrite, result=Rewritten, errors=(NotFound, Invalid, Unavailable))
async def rewrite(call: Call, p: CopilotRewrite) -> dict:
    """A draft rewritten: shorter, friendlier, formal, grammar fixed, or translated into the customer's
    language (translate needs ticket_id)."""
    return await copilot.rewrite(call.app.db, call.app.assistant, call.actor, p.text, p.style, p.ticket_id)


@REGISTRY.method("copilot.summarize", CopilotSummarize, result=ConversationSummary,
                 errors=(NotFound, Unavailable))
async def summarize(call: Call, p: CopilotSummarize) -> dict:
    """A summary of the ticket's conversation; with note, also stored as a private note (by the
    tenant's bot user)."""
    a = call.app.assistant
    text = await copilot.summarize(call.app.db, a, call.actor, p.ticket_id)
    if not p.note:
        return {"text": text, "note_id": None}
    bot = await a.bot_actor(call.actor.tenant_id) or call.actor  # its user disabled: the note is the caller's
    note = await call.app.db.write(copilot.summary_note, bot, p.ticket_id, text, call.actor)
    return {"text": text, "note_id": note["id"]}


@REGISTRY.method("copilot.tags", CopilotTags, result=TagProposal, errors=(NotFound, Unavailable))
async def tags(call: Call, p: CopilotTags) -> dict:
    """Tags that fit the ticket, from the tenant's existing ones only (ticket.set_tags applies them)."""
    return await copilot.tags(call.app.db, call.app.assistant, call.actor, p.ticket_id)
