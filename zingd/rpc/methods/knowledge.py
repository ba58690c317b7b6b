"""knowledge.*: a tenant's FAQ entries and documents, which the bot and the copilot ground answers in.

A document travels as its text (zingctl reads the file): the daemon never opens a path a caller
names. Supervisors and admins change the knowledge; agents read and search it.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from zingd.assistant import knowledge
from zingd.errors import Invalid, NotFound, Unavailable
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY, ById, changes
from zingd.rpc.server import Call

Kind = Literal["faq", "document"]


class KnowledgeEntry(R.Struct):
    id: int
    tenant_id: int
    kind: Kind
    title: str       # a FAQ's question
    source: str      # where it came from (a file name), "" for none
    created_by: int | None
    created_at: R.Time
    updated_at: R.Time
    size: int        # characters of the body
    chunks: int      # the pieces it is searched by
    embedded: int    # of them, those with a vector of the tenant's current embeddings model


class KnowledgePart(R.Struct):
    seq: int
    context: str     # the entry's title and the headings above: "Guide › Returns"
    body: str
    embedded: R.Flag


class KnowledgeDetail(KnowledgeEntry):
    body: str        # a FAQ's answer, a document's text
    parts: list[KnowledgePart]


class KnowledgeHit(R.Struct):
    id: int          # the entry's
    title: str
    kind: Kind
    context: str
    excerpt: str     # the best chunk's text
    score: float     # higher is better: cosine by embeddings, -bm25 by words


class KnowledgeFound(R.Struct):
    by: Literal["embeddings", "words"]
    reason: str      # why not by embeddings; "" when it was
    hits: list[KnowledgeHit]


class KnowledgeAdd(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    title: str
    body: str
    source: str = ""


class KnowledgeUpdate(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    title: str | UnsetType = UNSET
    body: str | UnsetType = UNSET
    source: str | None | UnsetType = UNSET   # null clears it


class KnowledgeList(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind | None = None


class KnowledgeSearch(msgspec.Struct, forbid_unknown_fields=True):
    query: str
    limit: Annotated[int, msgspec.Meta(ge=1, le=20)] = 4


@REGISTRY.method("knowledge.add", KnowledgeAdd, result=KnowledgeEntry, errors=(Invalid, Unavailable))
async def add(call: Call, p: KnowledgeAdd) -> dict:
    """Add a FAQ entry (title: the question, body: the answer) or a document (text or Markdown)."""
    return await knowledge.add(call.app.db, call.app.assistant, call.actor, p.kind, p.title, p.body, p.source)


@REGISTRY.method("knowledge.update", KnowledgeUpdate, result=KnowledgeEntry,
                 errors=(NotFound, Invalid, Unavailable))
async def update(call: Call, p: KnowledgeUpdate) -> dict:
    """Change an entry's title, body or source (null clears it); a new title or body is embedded again."""
    patch = {name: "" if value is None else value for name, value in changes(p).items()}
    return await knowledge.update(call.app.db, call.app.assistant, call.actor, p.id, patch)


@REGISTRY.method("knowledge.delete", ById, result=KnowledgeEntry, errors=(NotFound, Unavailable))
async def delete(call: Call, p: ById) -> dict:
    """Delete an entry; the bot and the copilot stop finding it at once."""
    return await knowledge.delete(call.app.db, call.app.assistant, call.actor, p.id)


@REGISTRY.method("knowledge.list", KnowledgeList, result=list[KnowledgeEntry])
async def list_(call: Call, p: KnowledgeList) -> list:
    """The tenant's knowledge entries (without their bodies), oldest first."""
    return await knowledge.list_entries(call.app.db, call.app.assistant, call.actor.tenant_id, p.kind)


@REGISTRY.method("knowledge.get", ById, result=KnowledgeDetail, errors=(NotFound,))
async def get(call: Call, p: ById) -> dict:
    """One entry with its body and the chunks it is searched by."""
    return await knowledge.get(call.app.db, call.app.assistant, call.actor.tenant_id, p.id)


@REGISTRY.method("knowledge.search", KnowledgeSearch, result=KnowledgeFound, errors=(Invalid,))
async def search(call: Call, p: KnowledgeSearch) -> dict:
    """Find the entries that best answer a question, as the bot and the copilot do: by embeddings
    when the tenant has an embeddings model and every entry is embedded, else by words."""
    if not p.query.strip():
        raise Invalid("search needs at least one word", field="query")
    if len(p.query) > knowledge.MAX_QUERY:
        raise Invalid(f"a query is at most {knowledge.MAX_QUERY:,} characters", field="query")
    by, reason, hits = await knowledge.find(call.app.db, call.app.assistant, call.actor.tenant_id, p.query, p.limit)
    return {"by": by, "reason": reason, "hits": hits}
