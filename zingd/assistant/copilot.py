"""The copilot: what the assistant does for the agent at the composer (suggest a reply, rewrite a
draft, summarize the conversation, propose tags). Nothing here sends anything to the customer: the
text comes back to the agent, who decides.

Every entry point that takes a ticket reads it as ``ticket.get`` does (``get_ticket``: visible
tickets only), before the model is asked anything, so a ticket the caller can't see answers
exactly like one that never existed and costs no request. What the model is shown of a ticket is
``conversation``: its newest messages, each marked customer / agent / bot / zing, voice notes by
their transcript, bounded in size so a long ticket costs what a short one does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zingd.actor import Actor
from zingd.assistant import knowledge
from zingd.assistant.provider import ProviderError
from zingd.errors import Invalid, NotFound, ZingError
from zingd.services.notes import NOTE
from zingd.services.tickets import get_ticket, require_visible
from zingd.store import tickets as T
from zingd.store.db import Database, Tx

if TYPE_CHECKING:
    from zingd.assistant.hub import Assistant

log = logging.getLogger(__name__)

RECENT_MESSAGES = 60      # the newest messages a prompt may show
CONVERSATION_CHARS = 12000  # ...and at most this much text of them, the oldest dropped first
MESSAGE_CHARS = 1500      # one message's share, cut beyond
DRAFT_CHARS = 8000        # the longest draft rewrite takes
MAX_TAGS = 300            # tags offered to the model (a tenant's list beyond that is cut)
NOTE_CHARS = 20000        # a note's limit (services/notes.py)

STYLES: dict[str, str] = {
    "shorter": "Make the draft shorter and more direct. Keep every fact, number, date and promise it makes; "
               "drop filler and repetition.",
    "friendlier": "Make the draft warmer and friendlier, as a kind person would say it. Keep its meaning; "
                  "add no promises and no facts.",
    "formal": "Make the draft formal and professional in tone. Keep its meaning; add no promises and no facts.",
    "grammar": "Fix spelling, grammar and punctuation only. Keep the wording, the tone and the language "
               "otherwise.",
    "translate": "Translate the draft into the language the customer writes in (their messages are in the "
                 "conversation below). Keep its meaning and tone.",
}

_REWRITE = ("You edit a helpdesk agent's draft reply to a customer on WhatsApp. {style} "
            "Answer with the rewritten message only: no quotes, no comments, no alternatives.")
_SUGGEST = ("You help a helpdesk agent{agent} answer a customer on WhatsApp. Write the agent's next message "
            "to the customer, ready to send. Use only facts from the conversation and the knowledge below; "
            "when they don't hold the answer, say that you will check, and never invent prices, dates, links, "
            "policies or promises. Plain text, short, no signature. {language}")
_SUMMARY = ("You summarize a helpdesk conversation for the team (a private note the customer never sees). "
            "In at most 6 short lines: what the customer wants, what was done or promised, and what is still "
            "open. Only what the conversation says. {language}")
_TAGS = ("You label helpdesk conversations. Pick the tags that fit this conversation, only from this list: "
         "{names}. None may fit: then pick none. Say in one short sentence why.")


def _language(config_language: str, whose: str) -> str:
    return f"Write in {config_language}." if config_language else f"Write in the language {whose} writes in."


# -- what the model is shown ---------------------------------------------------------------------

def _who(m: dict[str, Any]) -> str:
    if m["direction"] == "in":
        return "customer"
    if m["bot"]:
        return "bot"
    if m["user_id"] is not None:
        return f"agent {m['user_name'] or ''}".rstrip()
    return "agent (from the phone)" if m["from_device"] else "zing (automatic message)"


def _text(m: dict[str, Any]) -> str:
    if m["transcript"]:
        return f"(voice note) {m['transcript']}"
    body = (m["body"] or "").strip()
    return f"({m['type']}) {body}".rstrip() if m["type"] != "text" else body  # an image: "(image) caption"


async def conversation(db: Database, ticket_id: int) -> str:
    """The ticket's newest messages as lines ``[who] text``, oldest first, at most
    ``CONVERSATION_CHARS`` (the oldest are left out first); reactions and deleted messages aren't shown."""
    rows = await db.all(
        "SELECT m.direction, m.user_id, m.bot, m.from_device, m.type, m.body, m.transcript, u.name AS user_name "
        "FROM messages m LEFT JOIN users u ON u.id = m.user_id "
        "WHERE m.ticket_id = ? AND m.deleted = 0 AND m.reaction_to IS NULL ORDER BY m.id DESC LIMIT ?",
        (ticket_id, RECENT_MESSAGES))
    lines: list[str] = []
    size = 0
    for m in rows:  # newest first: the budget keeps the end of the conversation
        text = _text(m)
        if not text:
            continue
        if len(text) > MESSAGE_CHARS:
            text = text[:MESSAGE_CHARS] + " [...]"
        line = f"[{_who(m)}] {text}"
        if size + len(line) > CONVERSATION_CHARS:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(reversed(lines))


def _about(ticket: dict[str, Any]) -> str:
    name = ticket.get("contact_name") or ticket.get("contact_push_name") or "the customer"
    queue = f", queue {ticket['queue_name']}" if ticket.get("queue_name") else ""
    return f"Ticket {ticket['id']} with {name}{queue}."


async def _transcript(db: Database, ticket: dict[str, Any]) -> str:
    text = await conversation(db, ticket["id"])
    return f"{_about(ticket)}\nConversation (oldest first):\n{text or '(no messages yet)'}"


def _usable(text: str) -> str:
    text = text.strip()
    if not text:
        raise ProviderError("bad_response", "answered with no text; try again")
    return text


async def _grounding(db: Database, assistant: Assistant, tenant_id: int, query: str) -> tuple[str, list[dict]]:
    """The tenant's knowledge that matches ``query``: the prompt's block and the sources to show.
    A search that fails leaves the suggestion ungrounded rather than failing it."""
    if not query.strip():
        return "", []
    try:
        hits = await knowledge.search(db, assistant, tenant_id, query)
    except ZingError as e:
        log.warning("knowledge search for tenant %s failed: %s", tenant_id, e.message)
        return "", []
    return knowledge.grounding(hits) if hits else "", [{"id": h["id"], "title": h["title"]} for h in hits]


async def _customer_said(db: Database, ticket_id: int, n: int = 3) -> str:
    """The customer's last few messages, as the knowledge search's query."""
    rows = await db.all("SELECT body, transcript FROM messages WHERE ticket_id = ? AND direction = 'in' "
                        "AND deleted = 0 AND reaction_to IS NULL ORDER BY id DESC LIMIT ?", (ticket_id, n))
    return " ".join(r["transcript"] or r["body"] or "" for r in reversed(rows))[:500]


# -- the four copilot actions ----------------------------------------------------------------------

async def suggest(db: Database, assistant: Assistant, actor: Actor,
                  ticket_id: int, on_delta: Callable[[str], None] | None = None) -> dict[str, Any]:
    """A reply for the agent to send (or not), grounded in the tenant's knowledge; with ``on_delta``
    streamed piece by piece as the model writes it."""
    ticket = await get_ticket(db, actor, ticket_id)
    config = await assistant.config(actor.tenant_id)
    block, sources = await _grounding(db, assistant, actor.tenant_id, await _customer_said(db, ticket_id))
    system = _SUGGEST.format(agent=f" ({actor.name})" if actor.name else "",
                             language=_language(config.language, "the customer"))
    system += "\n\nKnowledge:\n" + (block or "(nothing in the company's knowledge matches this conversation)")
    messages = [{"role": "system", "content": system},
                {"role": "user", "content": await _transcript(db, ticket) + "\n\nWrite the agent's next message."}]
    reply = await assistant.chat(actor.tenant_id, "suggest", messages, max_tokens=500, on_delta=on_delta)
    return {"text": _usable(reply.text), "sources": sources}


async def rewrite(db: Database, assistant: Assistant, actor: Actor, text: str, style: str,
                  ticket_id: int | None = None) -> dict[str, Any]:
    """The draft ``text`` rewritten in ``style`` (``STYLES``); ``translate`` reads the customer's
    language from the ticket, so it needs one."""
    if style not in STYLES:
        raise Invalid(f"style is one of {', '.join(STYLES)}", field="style")
    if not text.strip():
        raise Invalid("nothing to rewrite: the draft is empty", field="text")
    if len(text) > DRAFT_CHARS:
        raise Invalid(f"a draft to rewrite is at most {DRAFT_CHARS} characters", field="text")
    ticket = await get_ticket(db, actor, ticket_id) if ticket_id is not None else None
    if style == "translate" and ticket is None:
        raise Invalid("translate needs the ticket (ticket_id): the customer's language comes from it",
                      field="ticket_id")
    user = f"Draft:\n{text}"
    if ticket is not None:
        user = await _transcript(db, ticket) + "\n\n" + user
    messages = [{"role": "system", "content": _REWRITE.format(style=STYLES[style])},
                {"role": "user", "content": user}]
    # room for a translation to run longer than the draft (~4 characters a token), within a small context
    reply = await assistant.chat(actor.tenant_id, "rewrite", messages, max_tokens=min(2000, max(200, len(text) // 2)))
    return {"text": _usable(reply.text)}


async def summary(db: Database, assistant: Assistant, ticket: dict[str, Any]) -> str:
    """A summary of ``ticket`` (already read, visibility checked by the caller) for the team."""
    config = await assistant.config(ticket["tenant_id"])
    messages = [{"role": "system", "content": _SUMMARY.format(language=_language(config.language, "the customer"))},
                {"role": "user", "content": await _transcript(db, ticket)}]
    reply = await assistant.chat(ticket["tenant_id"], "summarize", messages, max_tokens=400)
    return _usable(reply.text)


async def summarize(db: Database, assistant: Assistant, actor: Actor, ticket_id: int) -> str:
    return await summary(db, assistant, await get_ticket(db, actor, ticket_id))


async def tags(db: Database, assistant: Assistant, actor: Actor, ticket_id: int) -> dict[str, Any]:
    """Tags for the ticket, from the tenant's existing ones only: the schema's enum is their names,
    and whatever else the model says is dropped. No tags at all: nothing to ask the model."""
    ticket = await get_ticket(db, actor, ticket_id)
    names = [r["name"] for r in await db.all("SELECT name FROM tags WHERE tenant_id = ? ORDER BY name LIMIT ?",
                                             (actor.tenant_id, MAX_TAGS))]
    if not names:
        return {"tags": [], "reason": "there are no tags yet; a supervisor creates them (zingctl tags create NAME)"}
    # The enum is a definition the items refer to: a server that constrains its output to the schema
    # can only write these names; one that doesn't may invent a name, which is dropped below instead
    # of failing the whole answer in the provider's shape check (which doesn't follow $ref).
    schema = {"type": "object", "additionalProperties": False, "required": ["tags", "reason"],
              "$defs": {"tag": {"type": "string", "enum": names}},
              "properties": {"tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}},
                             "reason": {"type": "string"}}}
    current = f"\nIts tags now: {', '.join(ticket['tags'])}." if ticket["tags"] else ""
    messages = [{"role": "system", "content": _TAGS.format(names=", ".join(names))},
                {"role": "user", "content": await _transcript(db, ticket) + current}]
    value = await assistant.structured(actor.tenant_id, "tags", messages, schema, "ticket_tags", max_tokens=300)
    known = set(names)
    picked = value.get("tags") if isinstance(value.get("tags"), list) else []
    chosen = list(dict.fromkeys(t for t in picked if isinstance(t, str) and t in known))
    reason = value.get("reason") if isinstance(value.get("reason"), str) else ""
    return {"tags": chosen, "reason": reason.strip()[:500]}


async def ticket_of(db: Database, tenant_id: int, ticket_id: int) -> dict[str, Any] | None:
    """A ticket as ``ticket.get`` shows it, read by zing itself (no caller: the summaries worker)."""
    rows = await db.page(f"{T.VIEW} WHERE t.tenant_id = ? AND t.id = ?", (tenant_id, ticket_id))
    return T.view(rows[0]) if rows else None


def summary_note(tx: Tx, bot: Actor, ticket_id: int, text: str, asked_by: Actor | None = None) -> dict[str, Any]:
    """Store a summary as a private note written by the tenant's bot user (so the team sees it is the
    assistant's words). ``asked_by``: the agent who asked for it, whose sight of the ticket is checked
    again here (it may have moved away meanwhile) and who the audit log names; None: zing's own summary
    on close or transfer."""
    t = require_visible(tx, asked_by, ticket_id) if asked_by is not None else T.get(tx, bot.tenant_id, ticket_id)
    if t is None:
        raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
    body = f"Summary by the assistant:\n{text}"[:NOTE_CHARS]
    nid = tx.insert("notes", {"tenant_id": t["tenant_id"], "ticket_id": ticket_id, "user_id": bot.user_id,
                              "body": body, "created_at": tx.now})
    note = tx.one(f"{NOTE} WHERE n.id = ?", (nid,))
    T.log(tx, t, bot, "note", note_id=nid, summary=True)
    tx.audit(asked_by or bot, "copilot.summarize", "ticket", ticket_id, note_id=nid)
    tx.emit(t["tenant_id"], "note.created", {"note": note, "ticket": t}, ticket_id=ticket_id)
    return note
