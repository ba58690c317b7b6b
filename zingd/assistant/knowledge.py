"""The knowledge base: a tenant's FAQ entries and documents, which the bot and the copilot ground
their answers in, and how they are found.

An entry (a FAQ's question and answer, or a text/Markdown document zingctl read and handed over
as text: the daemon never opens a path a caller names) is cut into chunks when it is saved: a
document by its Markdown headings, a section longer than ~1,000 characters at its paragraphs,
then sentences. Each chunk carries its context (the entry's title and the headings above it),
so a chunk found alone still says what it is about.

Search is by embeddings when the tenant has an embeddings model and every chunk has a vector of
that model; by words otherwise (FTS5, the words OR-ed, ranked by bm25), so a tenant without an
embeddings server, or whose vectors are still being computed, still finds its entries.
Embeddings are computed after the entry is committed, never inside the write unit (a model
server's seconds must not hold the writer): a background job per tenant embeds every chunk whose
vector is missing or of another model, so a changed entry (new chunks) and a changed model
(stale vectors) are both embedded again; a search that finds stale vectors starts it too.
Scores are computed here, in Python, in slices that leave the event loop to others: the stdlib
sqlite3 zingd uses cannot load extensions (built without them, so no sqlite-vec), and a tenant's
knowledge is small (at most MAX_CHUNKS chunks).
"""

from __future__ import annotations

import array
import asyncio
import logging
import math
import operator
import re
import sys
import time
from typing import Any

from zingd.actor import Actor
from zingd.assistant.hub import Assistant, off_reason
from zingd.errors import Invalid, NotFound, Unavailable
from zingd.services.messages import fts_query
from zingd.store.db import Database, Tx

log = logging.getLogger(__name__)

KINDS = ("faq", "document")
MAX_TITLE = 500
MAX_SOURCE = 500
MAX_ANSWER = 10_000        # a FAQ's answer: a few paragraphs
MAX_DOCUMENT = 200_000     # characters of one document (~100 pages of text); fits an RPC frame
MAX_CHUNKS = 1_000         # per tenant (~1 MB of text): bounds the Python cosine of a search (_rank)
MAX_QUERY = 4_000          # characters of a query used; the rest is cut
MAX_TERMS = 32             # distinct words of a query searched by FTS5
CHUNK = 1_000              # a chunk's target size in characters
SLICE_ELEMENTS = 15_000    # multiplications of one slice of _rank (~1 ms)
EMBED_BATCH = 16           # chunks per /embeddings request
RETRY_AFTER_S = 60.0       # after a failed embedding job, searches wait this long before retrying
SEP = " › "

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")  # "## Title ##" is "Title"
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
# Control characters (C0 but tab and newline, DEL, C1) and lone surrogates: what a binary file read as
# text holds, never a document. A regex, as the writer thread checks a 200,000-character body.
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_A_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


# -- checking what is saved ------------------------------------------------------------------------
def _text(value: str, field: str, what: str, limit: int, *, required: bool = True, one_line: bool = False) -> str:
    """``value`` cleaned (newlines \\n, outer blank space gone), or ``Invalid`` saying what is wrong:
    empty, too long, or not text (control characters: a binary file read as text)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value and required:
        raise Invalid(f"{what} is empty", field=field)
    if len(value) > limit:
        raise Invalid(f"{what} is {len(value):,} characters; at most {limit:,} characters are allowed",
                      field=field, limit=limit)
    bad = (_NOT_A_LINE if one_line else _NOT_TEXT).search(value)
    if bad is not None and bad.group() == "\n":
        raise Invalid(f"{what} must be one line", field=field)
    if bad is not None:
        raise Invalid(f"{what} is not plain text (it holds the character U+{ord(bad.group()):04X}); "
                      "knowledge is text or Markdown, not a binary file", field=field)
    return value


def _check(kind: str, title: str, body: str, source: str) -> tuple[str, str, str]:
    if kind not in KINDS:
        raise Invalid(f"kind is faq or document, not {kind!r}", field="kind")
    faq = kind == "faq"
    return (_text(title, "title", "the question" if faq else "the title", MAX_TITLE, one_line=True),
            _text(body, "body", "the answer" if faq else "the document", MAX_ANSWER if faq else MAX_DOCUMENT),
            _text(source, "source", "the source", MAX_SOURCE, required=False, one_line=True))


# -- chunking ----------------------------------------------------------------------------------------
def sections(text: str) -> list[tuple[list[str], str]]:
    """A Markdown text as (headings above, text) per section; a ``#`` inside a fenced code block
    is not a heading, and a heading with nothing under it before the next one makes no section."""
    out: list[tuple[list[str], str]] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fence = ""

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            out.append(([h for _, h in path], body))
        lines.clear()

    for line in text.split("\n"):
        if not fence and (m := _HEADING.match(line)) and m.group(2):
            flush()
            level = len(m.group(1))
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, m.group(2)))
            continue
        if m := _FENCE.match(line):
            marker = m.group(1)
            if not fence:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = ""
        lines.append(line)
    flush()
    return out


def _pieces(text: str, size: int) -> list[str]:
    """``text`` cut into pieces of at most ``size`` characters: at paragraphs, else sentences,
    else spaces, else anywhere (a 5,000-character word)."""
    if len(text) <= size:
        return [text]
    for pattern, joiner in ((r"\n\s*\n", "\n\n"), (_SENTENCE, " "), (r"\s+", " ")):
        parts = [p for p in re.split(pattern, text) if p.strip()]
        if len(parts) > 1:
            break
    else:
        return [text[i:i + size] for i in range(0, len(text), size)]
    out: list[str] = []
    current = ""
    for part in parts:
        for piece in _pieces(part.strip(), size):
            if current and len(current) + len(joiner) + len(piece) > size:
                out.append(current)
                current = piece
            else:
                current = f"{current}{joiner}{piece}" if current else piece
    if current:
        out.append(current)
    return out


def chunks(kind: str, title: str, body: str) -> list[tuple[str, str]]:
    """(context, text) per chunk: a FAQ's answer under its question, a document per section (a
    top heading that is the title, as zingctl takes it, is not said twice)."""
    parts = [([], body)] if kind == "faq" else sections(body)
    out = []
    for headings, text in parts:
        if headings and headings[0].casefold() == title.casefold():
            headings = headings[1:]
        out += [(SEP.join([title, *headings]), piece) for piece in _pieces(text, CHUNK)]
    return out


def _replace_chunks(tx: Tx, tenant_id: int, entry_id: int, kind: str, title: str, body: str) -> None:
    tx.execute("DELETE FROM knowledge_chunks WHERE entry_id = ?", (entry_id,))
    new = chunks(kind, title, body)
    held = tx.value("SELECT count(*) FROM knowledge_chunks WHERE tenant_id = ?", (tenant_id,))
    if held + len(new) > MAX_CHUNKS:
        raise Invalid(f"the knowledge base holds at most {MAX_CHUNKS:,} chunks of ~{CHUNK:,} characters; this "
                      f"entry needs {len(new):,} and {held:,} are used: remove or shorten entries first",
                      field="body", limit=MAX_CHUNKS)
    for seq, (context, text) in enumerate(new):
        tx.insert("knowledge_chunks", {"tenant_id": tenant_id, "entry_id": entry_id, "seq": seq,
                                       "context": context, "body": text})


# -- the write units ---------------------------------------------------------------------------------
_ENTRY = ("SELECT e.id, e.tenant_id, e.kind, e.title, e.source, e.created_by, e.created_at, e.updated_at, "
          "length(e.body) AS size, (SELECT count(*) FROM knowledge_chunks c WHERE c.entry_id = e.id) AS chunks, "
          "(SELECT count(*) FROM knowledge_chunks c WHERE c.entry_id = e.id AND c.model = ?) AS embedded")


def _entry(tx: Tx, tenant_id: int, entry_id: int, model: str) -> dict[str, Any]:
    """The entry as list shows it (no body: a document's may be 200,000 characters)."""
    row = tx.one(f"{_ENTRY} FROM knowledge_entries e WHERE e.id = ? AND e.tenant_id = ?", (model, entry_id, tenant_id))
    if row is None:
        raise NotFound(f"no knowledge entry {entry_id}", id=entry_id)
    return row


def _add(tx: Tx, actor: Actor, kind: str, title: str, body: str, source: str, model: str) -> dict[str, Any]:
    title, body, source = _check(kind, title, body, source)
    entry_id = tx.insert("knowledge_entries", {
        "tenant_id": actor.tenant_id, "kind": kind, "title": title, "body": body, "source": source,
        "created_by": actor.user_id, "created_at": tx.now, "updated_at": tx.now})
    _replace_chunks(tx, actor.tenant_id, entry_id, kind, title, body)
    tx.audit(actor, "knowledge.add", "knowledge", entry_id, kind=kind, title=title, size=len(body))
    return _entry(tx, actor.tenant_id, entry_id, model)


def _update(tx: Tx, actor: Actor, entry_id: int, changes: dict[str, str], model: str) -> dict[str, Any]:
    old = _entry(tx, actor.tenant_id, entry_id, model)
    old["body"] = tx.value("SELECT body FROM knowledge_entries WHERE id = ?", (entry_id,))
    title, body, source = _check(old["kind"], changes.get("title", old["title"]), changes.get("body", old["body"]),
                                 changes.get("source", old["source"]))
    changed = [name for name, new in (("title", title), ("body", body), ("source", source)) if new != old[name]]
    if not changed:
        return _entry(tx, actor.tenant_id, entry_id, model)
    tx.execute("UPDATE knowledge_entries SET title = ?, body = ?, source = ?, updated_at = ? WHERE id = ?",
               (title, body, source, tx.now, entry_id))
    if "title" in changed or "body" in changed:  # new chunks, so new vectors
        _replace_chunks(tx, actor.tenant_id, entry_id, old["kind"], title, body)
    tx.audit(actor, "knowledge.update", "knowledge", entry_id, changed=changed, title=title)
    return _entry(tx, actor.tenant_id, entry_id, model)


def _delete(tx: Tx, actor: Actor, entry_id: int, model: str) -> dict[str, Any]:
    row = _entry(tx, actor.tenant_id, entry_id, model)
    tx.execute("DELETE FROM knowledge_entries WHERE id = ?", (entry_id,))  # chunks and their index cascade
    tx.audit(actor, "knowledge.delete", "knowledge", entry_id, kind=row["kind"], title=row["title"])
    return row


async def _model(assistant: Assistant, tenant_id: int) -> str:
    """The tenant's embeddings model, "" when embeddings are off."""
    config = await assistant.config(tenant_id)
    return "" if off_reason(config, "embeddings") else config.embeddings.model


async def add(db: Database, assistant: Assistant, actor: Actor, kind: str, title: str, body: str,
              source: str = "") -> dict[str, Any]:
    """Save a new entry; its embeddings follow in the background."""
    row = await db.write(_add, actor, kind, title, body, source, await _model(assistant, actor.tenant_id))
    refresh(db, assistant, actor.tenant_id, force=True)
    return row


async def update(db: Database, assistant: Assistant, actor: Actor, entry_id: int,
                 changes: dict[str, str]) -> dict[str, Any]:
    """Change an entry's title, body or source (``changes``: the fields to set); a new title or
    body re-cuts its chunks, which are embedded again in the background."""
    row = await db.write(_update, actor, entry_id, changes, await _model(assistant, actor.tenant_id))
    refresh(db, assistant, actor.tenant_id, force=True)
    return row


async def delete(db: Database, assistant: Assistant, actor: Actor, entry_id: int) -> dict[str, Any]:
    """Delete an entry with its chunks and vectors: no search finds it from the commit on."""
    return await db.write(_delete, actor, entry_id, await _model(assistant, actor.tenant_id))


# -- reads ------------------------------------------------------------------------------------------
async def list_entries(db: Database, assistant: Assistant, tenant_id: int,
                       kind: str | None = None) -> list[dict[str, Any]]:
    """The tenant's entries (no bodies), oldest first."""
    sql = f"{_ENTRY} FROM knowledge_entries e WHERE e.tenant_id = ?"
    params: list[Any] = [await _model(assistant, tenant_id), tenant_id]
    if kind is not None:
        if kind not in KINDS:
            raise Invalid(f"kind is faq or document, not {kind!r}", field="kind")
        sql += " AND e.kind = ?"
        params.append(kind)
    return await db.all(sql + " ORDER BY e.id", params)


async def get(db: Database, assistant: Assistant, tenant_id: int, entry_id: int) -> dict[str, Any]:
    """One entry with its body and its chunks (context, text, whether embedded)."""
    model = await _model(assistant, tenant_id)
    row = await db.one(f"{_ENTRY}, e.body FROM knowledge_entries e WHERE e.id = ? AND e.tenant_id = ?",
                       (model, entry_id, tenant_id))
    if row is None:
        raise NotFound(f"no knowledge entry {entry_id}", id=entry_id)
    row["parts"] = await db.all(
        "SELECT seq, context, body, (model IS NOT NULL AND model = ?) AS embedded FROM knowledge_chunks "
        "WHERE entry_id = ? ORDER BY seq", (model, entry_id))
    return row


# -- search ---------------------------------------------------------------------------------------
async def search(db: Database, assistant: Assistant, tenant_id: int, query: str, limit: int = 4) -> list[dict]:
    """The entries that best answer ``query``, best first, one hit per entry (its best chunk):
    ``{"id", "title", "kind", "context", "excerpt", "score"}``; [] when nothing matches or the query
    has no words. Never fails for want of a model: embeddings that can't be used fall back to words."""
    return (await find(db, assistant, tenant_id, query, limit))[2]


async def find(db: Database, assistant: Assistant, tenant_id: int, query: str,
               limit: int = 4) -> tuple[str, str, list[dict[str, Any]]]:
    """``search`` with how it searched: ("embeddings" | "words", why not by embeddings ("" when it
    was), hits)."""
    query = query[:MAX_QUERY]
    model = await _model(assistant, tenant_id)
    if not model:
        return "words", "no embeddings model is set", await _by_words(db, tenant_id, query, limit)
    counts = await db.one("SELECT count(*) AS chunks, ifnull(sum(model = ?), 0) AS ready FROM knowledge_chunks "
                          "WHERE tenant_id = ?", (model, tenant_id))
    if counts["ready"] < counts["chunks"]:
        refresh(db, assistant, tenant_id)
        done = f"{counts['ready']} of {counts['chunks']} chunks"
        failed = _failed.get(tenant_id)
        why = (f"the embeddings stopped at {done} ({failed[1]}); they are tried again" if failed
               else f"the embeddings are being computed ({done})")
        return "words", why, await _by_words(db, tenant_id, query, limit)
    if not counts["chunks"] or not query.strip():
        return "embeddings", "", []
    try:
        vectors = await assistant.embed(tenant_id, [query])
    except Unavailable as e:  # over the limit, the server failing: words still find something
        log.info("knowledge search for tenant %s by words: %s", tenant_id, e)
        return "words", f"the embeddings failed: {e}", await _by_words(db, tenant_id, query, limit)
    if not vectors:
        return "words", "no embeddings model is set", await _by_words(db, tenant_id, query, limit)
    return "embeddings", "", await _by_vector(db, tenant_id, model, vectors[0], limit)


def _or_query(query: str) -> str | None:
    """The query's words OR-ed (a chunk needs one of them; bm25 ranks the ones with more and rarer
    words first), each quoted by ``fts_query``; None when it has no words."""
    try:
        terms = fts_query(query).split(" ")  # quoted terms never hold a space
    except Invalid:
        return None
    seen: set[str] = set()
    distinct = [t for t in terms if not (t.lower() in seen or seen.add(t.lower()))]
    return " OR ".join(distinct[:MAX_TERMS])


async def _by_words(db: Database, tenant_id: int, query: str, limit: int) -> list[dict[str, Any]]:
    words = _or_query(query)
    if words is None:
        return []
    rows = await db.all(
        "SELECT c.id AS chunk_id, c.entry_id, -bm25(knowledge_fts, 2.0, 1.0, 0.0) AS score "
        "FROM knowledge_fts JOIN knowledge_chunks c ON c.id = knowledge_fts.rowid "
        "WHERE knowledge_fts MATCH ? ORDER BY bm25(knowledge_fts, 2.0, 1.0, 0.0) LIMIT ?",
        (f'tenant_id : "{tenant_id}" AND {{context body}} : ({words})', limit * 8))
    return await _hits(db, tenant_id, [(r["score"], r["chunk_id"], r["entry_id"]) for r in rows], limit)


async def _by_vector(db: Database, tenant_id: int, model: str, query: list[float],
                     limit: int) -> list[dict[str, Any]]:
    rows = await db.all("SELECT id, entry_id, vector FROM knowledge_chunks WHERE tenant_id = ? AND model = ?",
                        (tenant_id, model))
    ranked = await _rank(unit(query), rows)
    return await _hits(db, tenant_id, [r for r in ranked if r[0] > 0], limit)


async def _rank(query: array.array, rows: list[dict[str, Any]]) -> list[tuple[float, int, int]]:
    """(cosine, chunk id, entry id), best first: a dot product, the stored vectors being unit length.
    CPython takes ~70 ns per dimension and chunk (1,000 chunks of 1,536 dimensions: ~100 ms), so
    the work is done on the loop in slices of ~1 ms with a yield between them: other clients wait
    for a slice, never for the whole (a thread would hold the GIL for 5 ms switch intervals)."""
    q = query.tolist()  # a list times an array is the fastest pure-Python dot product
    per_slice = max(1, SLICE_ELEMENTS // max(1, len(q)))
    out = []
    for start in range(0, len(rows), per_slice):
        if start:
            await asyncio.sleep(0)
        for row in rows[start:start + per_slice]:
            vector = from_blob(row["vector"])
            if len(vector) == len(q):  # a vector of another size: the model changed under the same name
                out.append((sum(map(operator.mul, q, vector)), row["id"], row["entry_id"]))
    out.sort(reverse=True)
    return out


async def _hits(db: Database, tenant_id: int, ranked: list[tuple[float, int, int]],
                limit: int) -> list[dict[str, Any]]:
    """One hit per entry, from the best-ranked chunks, with the entry's title and the chunk's text."""
    best: dict[int, tuple[float, int]] = {}
    for score, chunk_id, entry_id in ranked:
        if entry_id not in best:
            best[entry_id] = (score, chunk_id)
            if len(best) == limit:
                break
    if not best:
        return []
    ids = [chunk_id for _, chunk_id in best.values()]
    rows = await db.all(
        "SELECT c.id AS chunk_id, e.id, e.title, e.kind, c.context, c.body AS excerpt FROM knowledge_chunks c "
        f"JOIN knowledge_entries e ON e.id = c.entry_id WHERE e.tenant_id = ? AND c.id IN ({','.join('?' * len(ids))})",
        (tenant_id, *ids))
    by_chunk = {r.pop("chunk_id"): r for r in rows}
    return [{**by_chunk[chunk_id], "score": round(score, 6)} for score, chunk_id in best.values()
            if chunk_id in by_chunk]


def grounding(hits: list[dict[str, Any]]) -> str:
    """The knowledge a prompt includes: each hit numbered, with its title and where in the entry
    it is, so an answer can cite ``[n]`` and the ticket can show which entry it used. "" for none."""
    blocks = []
    for n, hit in enumerate(hits, 1):
        label = "FAQ" if hit["kind"] == "faq" else "document"
        blocks.append(f"[{n}] {hit['context']} ({label} #{hit['id']})\n{hit['excerpt']}")
    return "\n\n".join(blocks)


# -- embeddings ------------------------------------------------------------------------------------
def unit(vector: list[float]) -> array.array:
    """``vector`` scaled to length 1 as float32 (a zero vector stays zero: it matches nothing)."""
    norm = math.sqrt(sum(x * x for x in vector))
    return array.array("f", [x / norm for x in vector] if norm and math.isfinite(norm) else [0.0] * len(vector))


def to_blob(vector: array.array) -> bytes:
    if sys.byteorder == "big":  # stored little-endian, so a copied database reads the same anywhere
        vector = array.array("f", vector)
        vector.byteswap()
    return vector.tobytes()


def from_blob(blob: bytes) -> array.array:
    vector = array.array("f", blob)
    if sys.byteorder == "big":
        vector.byteswap()
    return vector


def embedding_text(context: str, body: str) -> str:
    return f"{context}\n\n{body}"


_jobs: dict[int, asyncio.Task] = {}   # tenant -> its running embedding job
_again: set[int] = set()              # tenants whose knowledge changed while their job ran
_failed: dict[int, tuple[float, str]] = {}   # tenant -> when (monotonic) and why its last job failed


def refresh(db: Database, assistant: Assistant, tenant_id: int, force: bool = False) -> None:
    """Embed, in the background, the tenant's chunks that lack a vector of its current model. One
    job per tenant: a change while it runs makes it look again before it ends. A search
    (``force=False``) does not retry within RETRY_AFTER_S of a failed job; a change does."""
    job = _jobs.get(tenant_id)
    if job is not None and not job.done():
        _again.add(tenant_id)
        return
    failed = _failed.get(tenant_id)
    if not force and failed is not None and time.monotonic() - failed[0] < RETRY_AFTER_S:
        return
    _jobs[tenant_id] = asyncio.get_running_loop().create_task(_embed_all(db, assistant, tenant_id),
                                                              name=f"knowledge-embed-{tenant_id}")


async def _embed_all(db: Database, assistant: Assistant, tenant_id: int) -> None:
    try:
        while await _embed_batch(db, assistant, tenant_id) or tenant_id in _again:
            _again.discard(tenant_id)
        _failed.pop(tenant_id, None)
    except Exception as e:  # the server failing, over the limit, the daemon stopping: later, again
        _failed[tenant_id] = (time.monotonic(), str(e))
        log.warning("knowledge embeddings for tenant %s stopped: %s", tenant_id, e)
    finally:
        _again.discard(tenant_id)


async def _embed_batch(db: Database, assistant: Assistant, tenant_id: int) -> bool:
    """Embed the next EMBED_BATCH stale chunks; False when none is left (or embeddings are off)."""
    model = await _model(assistant, tenant_id)
    if not model:
        return False
    rows = await db.all("SELECT id, context, body FROM knowledge_chunks WHERE tenant_id = ? AND "
                        "(model IS NULL OR model != ?) ORDER BY id LIMIT ?", (tenant_id, model, EMBED_BATCH))
    if not rows:
        return False
    vectors = await assistant.embed(tenant_id, [embedding_text(r["context"], r["body"]) for r in rows])
    if vectors is None:
        return False
    if await _model(assistant, tenant_id) != model:  # the model changed while this batch was out
        return True
    await db.write(_store_vectors, tenant_id, model, [(r["id"], to_blob(unit(v))) for r, v in zip(rows, vectors)])
    return True


def _store_vectors(tx: Tx, tenant_id: int, model: str, vectors: list[tuple[int, bytes]]) -> None:
    """A chunk an edit replaced meanwhile is gone (ids are never reused): its vector goes nowhere."""
    tx.conn.executemany("UPDATE knowledge_chunks SET model = ?, vector = ? WHERE id = ? AND tenant_id = ?",
                        [(model, blob, chunk_id, tenant_id) for chunk_id, blob in vectors])
