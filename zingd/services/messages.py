"""Sending, listing and searching messages.

Outbound messages are stored as ``queued`` with their WhatsApp id and an outbox
row in one transaction; only then does the outbox worker send them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zingd.actor import Actor
from zingd.errors import Conflict, Invalid, NotFound
from zingd.services import templates, uploads, window
from zingd.services.outbound import media_type, queue_outbound
from zingd.services.quickreplies import expand
from zingd.services.tickets import conversation_for, require_owner, require_visible, take_on_reply
from zingd.store import connections
from zingd.store import contacts as C
from zingd.store import messages as M
from zingd.store import tickets as T
from zingd.store.db import Database, Tx

if TYPE_CHECKING:
    from zingd.channels.manager import Channels

log = logging.getLogger(__name__)
MAX_BODY = 65536
CLIENT_REF = re.compile(r"[A-Za-z0-9._-]{1,64}")
BY_CLIENT_REF = f"SELECT {M.COLUMNS}, client_ref FROM messages WHERE tenant_id = ? AND user_id = ? AND client_ref = ?"
SEARCH_SCAN = 5000  # newest FTS candidates examined per search: bounds the work for common words


def sign(tx: Tx, actor: Actor, body: str, signature: bool | None) -> str:
    """Prefix the agent's name when they (or their setting) ask for a signature."""
    if signature is None:
        signature = bool(tx.value("SELECT signature FROM users WHERE id = ?", (actor.user_id,)))
    return f"*{actor.name}:*\n{body}" if signature and body else body


def sent_before(tx: Tx, actor: Actor, ticket_id: int, client_ref: str | None) -> dict[str, Any] | None:
    """The message this user already sent under ``client_ref``: a repeated send (its answer was lost
    with the connection) gets it back instead of queueing the message twice. Asked before the ticket's
    state, which may have changed since the first send went in."""
    if client_ref is None:
        return None
    return _same_ticket(tx.one(BY_CLIENT_REF, (actor.tenant_id, actor.user_id, client_ref)), ticket_id, client_ref)


async def _repeated(db: Database, actor: Actor, ticket_id: int, client_ref: str | None) -> dict[str, Any] | None:
    """A well-formed ``client_ref``'s first message, when this is a repeat of a send that went in."""
    if client_ref is None:
        return None
    if not CLIENT_REF.fullmatch(client_ref):
        raise Invalid("client_ref is 1 to 64 letters, digits, '-', '_' or '.'", field="client_ref")
    return _same_ticket(await db.one(BY_CLIENT_REF, (actor.tenant_id, actor.user_id, client_ref)), ticket_id,
                        client_ref)


def _same_ticket(found: dict[str, Any] | None, ticket_id: int, client_ref: str) -> dict[str, Any] | None:
    if found is not None and found["ticket_id"] != ticket_id:
        raise Conflict(f"client_ref {client_ref!r} was used for a message in ticket {found['ticket_id']}",
                       field="client_ref", ticket_id=found["ticket_id"])
    return found


def writable(tx: Tx, actor: Actor, ticket_id: int) -> dict[str, Any]:
    """The ticket the caller may write to: visible, not closed, not held by someone else."""
    t = require_visible(tx, actor, ticket_id)
    if t["status"] == "closed":
        raise Conflict(f"ticket {ticket_id} is closed; reopen it to write", status="closed")
    require_owner(actor, t, "answer")
    return t


def send_unit(tx: Tx, actor: Actor, ticket_id: int, body: str, quoted_id: int | None,
              media: dict[str, Any] | None, signature: bool | None = None,
              client_ref: str | None = None) -> dict[str, Any]:
    first = sent_before(tx, actor, ticket_id, client_ref)
    if first is not None:
        return first
    t = writable(tx, actor, ticket_id)
    window.require_open(tx, t["connection_id"], t["contact_id"])
    if quoted_id is not None and not tx.value("SELECT 1 FROM messages WHERE id = ? AND ticket_id = ?",
                                              (quoted_id, ticket_id)):
        raise NotFound(f"no message {quoted_id} in ticket {ticket_id} to quote", id=quoted_id)
    take_on_reply(tx, actor, t)
    type_ = media_type(media["media_mime"]) if media else "text"
    body = sign(tx, actor, expand(tx, t, actor, body), signature)
    msg = queue_outbound(tx, t, actor, body, type_, media, quoted_id)
    if client_ref is not None:
        tx.execute("UPDATE messages SET client_ref = ? WHERE id = ?", (client_ref, msg["id"]))
        msg = {**msg, "client_ref": client_ref}
    tx.audit(actor, "message.send", "message", msg["id"], ticket_id=ticket_id)
    return msg


async def send(db: Database, data_dir: Path, actor: Actor, ticket_id: int, body: str, quoted_id: int | None = None,
               upload_id: int | None = None, signature: bool | None = None,
               client_ref: str | None = None) -> dict[str, Any]:
    """Queue a message; with ``upload_id`` the upload becomes the tenant's media file and is consumed.

    With ``client_ref`` a repeat of a send that went in returns the first message: its upload, if
    any, is left alone (the first send took its own), so it is not turned into a file no message has.
    """
    body = body.strip()
    if not body and upload_id is None:
        raise Invalid("a message needs a body or an upload_id", field="body")
    if len(body) > MAX_BODY:
        raise Invalid(f"body is {len(body)} characters; the limit is {MAX_BODY}", field="body")
    if (first := await _repeated(db, actor, ticket_id, client_ref)) is not None:
        return first
    async with uploads.as_media(db, data_dir, actor, upload_id) as media:
        return await db.write(uploads.consuming(send_unit, upload_id), actor, ticket_id, body, quoted_id, media,
                              signature, client_ref)


def send_template_unit(tx: Tx, actor: Actor, ticket_id: int, template_id: int, params: list[str],
                       client_ref: str | None = None) -> dict[str, Any]:
    """Queue an approved template on a ticket, under message.send's ticket rules. Outside the 24-hour
    window this is the one thing a cloud number may send."""
    first = sent_before(tx, actor, ticket_id, client_ref)
    if first is not None:
        return first
    t = writable(tx, actor, ticket_id)
    template = templates.get(tx, actor.tenant_id, template_id)
    templates.require_sendable(template, t["connection_id"])
    body, sent = templates.rendered(template, templates.check_values(template, params))
    take_on_reply(tx, actor, t)
    msg = queue_outbound(tx, t, actor, body, template=sent)
    if client_ref is not None:
        tx.execute("UPDATE messages SET client_ref = ? WHERE id = ?", (client_ref, msg["id"]))
        msg = {**msg, "client_ref": client_ref}
    tx.audit(actor, "message.send_template", "message", msg["id"], ticket_id=ticket_id, template_id=template_id)
    return msg


async def send_template(db: Database, actor: Actor, ticket_id: int, template_id: int, params: list[str],
                        client_ref: str | None = None) -> dict[str, Any]:
    if (first := await _repeated(db, actor, ticket_id, client_ref)) is not None:
        return first
    return await db.write(send_template_unit, actor, ticket_id, template_id, params, client_ref)


def read_unit(tx: Tx, actor: Actor, ticket_id: int) -> tuple[str, list[dict[str, Any]]]:
    """Clear the ticket's unread count; return the chat and the messages to mark read on WhatsApp."""
    t = require_visible(tx, actor, ticket_id)
    ids = tx.all("SELECT wa_id, participant FROM messages WHERE ticket_id = ? AND direction = 'in' "
                 "ORDER BY id DESC LIMIT ?", (ticket_id, t["unread"])) if t["unread"] else []
    if ids:
        tx.execute("UPDATE tickets SET unread = 0 WHERE id = ?", (ticket_id,))
        T.emit_updated(tx, ticket_id, t["tenant_id"])
    contact = tx.one("SELECT * FROM contacts WHERE id = ?", (t["contact_id"],))
    return C.chat_jid(tx, contact), ids


async def mark_read(db: Database, channels: Channels, actor: Actor, ticket_id: int) -> dict[str, Any]:
    chat, ids = await db.write(read_unit, actor, ticket_id)
    connection_id = (await db.one("SELECT connection_id FROM tickets WHERE id = ?", (ticket_id,)))["connection_id"]
    channel = channels.get(connection_id)
    if ids and channel is not None and channel.state == "connected":
        by_sender: dict[str, list[str]] = {}  # in a group, WhatsApp wants each sender's ids apart
        for row in ids:
            by_sender.setdefault(row["participant"] or "", []).append(row["wa_id"])
        try:
            for sender, wa_ids in by_sender.items():
                await channel.mark_read(chat, wa_ids, sender)
        except Exception as e:  # the network can be told later; the agent's read state is stored
            log.warning("mark_read on connection %s failed: %s", connection_id, e)
    return {"ticket_id": ticket_id, "marked": len(ids)}


async def typing(db: Database, channels: Channels, actor: Actor, ticket_id: int, composing: bool) -> dict[str, Any]:
    """Show the customer 'typing…' while the agent composes; best effort."""
    cond, params = T.visibility(actor)
    row = await db.one(
        f"SELECT t.connection_id, (SELECT jid FROM contact_ids i WHERE i.contact_id = t.contact_id LIMIT 1) AS jid "
        f"FROM tickets t WHERE t.tenant_id = ? AND t.id = ? AND {cond}", (actor.tenant_id, ticket_id, *params))
    if row is None:
        raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
    channel = channels.get(row["connection_id"])
    sent = bool(channel is not None and channel.state == "connected" and row["jid"])
    if sent:
        try:
            await channel.typing(row["jid"], composing)
        except Exception as e:
            log.debug("typing presence failed: %s", e)
            sent = False
    return {"sent": sent}


def retry_unit(tx: Tx, actor: Actor, message_id: int, resend: bool = False) -> dict[str, Any]:
    """Queue a failed message again; an unconfirmed one only when the agent says ``resend``:
    it may already have reached the customer, and over WhatsApp a resend can show twice."""
    msg = M.get(tx, message_id)
    t = T.get_visible(tx, actor, msg["ticket_id"]) if msg is not None else None   # in the caller's tenant
    if t is None:  # a message of a ticket the caller can't see is one that doesn't exist
        raise NotFound(f"no message {message_id}", id=message_id)
    require_owner(actor, t, "retry a message of")
    if msg["direction"] != "out" or msg["ack"] not in ("failed", "unconfirmed"):
        raise Conflict(f"message {message_id} is {msg['ack']}; only failed or unconfirmed outbound messages "
                       "can be retried")
    if msg["ack"] == "unconfirmed" and not resend:
        raise Conflict(f"message {message_id} is unconfirmed: it may already have arrived; retry with "
                       "resend=true to send it again anyway", id=message_id)
    if not tx.value("SELECT template FROM messages WHERE id = ?", (message_id,)):  # a template goes any time
        window.require_open(tx, t["connection_id"], t["contact_id"])
    # Same message, same WhatsApp id: a retry can never become a second, different message.
    M.requeue(tx, msg)
    tx.audit(actor, "message.retry", "message", message_id, **({"resend": True} if resend else {}))
    return msg


async def list_messages(db: Database, actor: Actor, ticket_id: int | None, before_id: int | None = None,
                        limit: int = 50, contact_id: int | None = None) -> dict[str, Any]:
    """A page of a ticket's messages (or a contact's, across all the tickets the caller may see),
    oldest first; page back with ``before_id``."""
    if (ticket_id is None) == (contact_id is None):
        raise Invalid("give ticket_id or contact_id", field="ticket_id")
    cond, params = T.visibility(actor)
    before = before_id if before_id is not None else 2**62
    limit = max(1, min(limit, 500))
    if ticket_id is not None:
        if not await db.value(f"SELECT 1 FROM tickets t WHERE t.tenant_id = ? AND t.id = ? AND {cond}",
                              (actor.tenant_id, ticket_id, *params)):
            raise NotFound(f"no ticket {ticket_id}", id=ticket_id)
        rows = await db.page(
            f"SELECT {M.COLUMNS} FROM messages WHERE ticket_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (ticket_id, before, limit + 1))
    else:
        if not await db.value("SELECT 1 FROM contacts WHERE id = ? AND tenant_id = ?", (contact_id, actor.tenant_id)):
            raise NotFound(f"no contact {contact_id}", id=contact_id)
        rows = await db.all(
            f"SELECT {', '.join('m.' + c.strip() for c in M.COLUMNS.split(','))} FROM messages m "
            f"JOIN tickets t ON t.id = m.ticket_id WHERE m.contact_id = ? AND m.id < ? AND {cond} "
            "ORDER BY m.id DESC LIMIT ?", (contact_id, before, *params, limit + 1))
    more = len(rows) > limit
    return {"messages": rows[:limit][::-1], "more": more}


def fts_query(text: str) -> str:
    """Turn what a user typed into a safe FTS5 query: every word must match; ``word*`` is a prefix.
    Composed first (NFC), so a decomposed 'na\\u0303o' is the word 'não', not 'na' and 'o'; a
    combining mark left over stays in its word, as FTS5's unicode61 tokenizer keeps it (and strips it)."""
    terms = []
    for word in unicodedata.normalize("NFC", text).split():
        prefix = word.endswith("*")
        core = "".join(ch if ch.isalnum() or ch == "_" or unicodedata.category(ch)[0] == "M" else " " for ch in word)
        for part in core.split():
            if re.search(r"\w", part):  # not a lone mark
                terms.append('"' + part.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise Invalid("search needs at least one word", field="query")
    return " ".join(terms)


async def search(db: Database, actor: Actor, query: str, limit: int = 50, **filters: Any) -> list[dict[str, Any]]:
    """Newest matches first. Ranking by relevance costs ~300 ms on a common word; instead FTS5
    is walked newest-first (rowid DESC) and the join stops at ``limit`` rows. The walk is bounded:
    only the newest SEARCH_SCAN matches are candidates (found from the index alone), so a caller
    who may see few tickets can't make it scan a common word's whole history.

    Filters: status, ticket_id, queue_id, user_id, connection_id, tag (name), since, until (epoch s).
    """
    match = f'tenant_id : "{actor.tenant_id}" AND body : ({fts_query(query)})'
    cond, params = T.visibility(actor)
    where, args = [cond], list(params)
    columns = {"status": "t.status = ?", "ticket_id": "t.id = ?", "queue_id": "t.queue_id = ?",
               "user_id": "t.user_id = ?", "connection_id": "t.connection_id = ?",
               "since": "m.created_at >= ?", "until": "m.created_at < ?",
               "tag": "t.id IN (SELECT tt.ticket_id FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id "
                      "WHERE g.name = ?)"}
    for name, value in filters.items():
        if value is not None:
            where.append(columns[name])
            args.append(value)
    sql = (
        "SELECT m.id, m.ticket_id, m.direction, m.type, m.body, m.created_at, t.status AS ticket_status, "
        "c.name AS contact_name, c.push_name AS contact_push_name, c.number AS contact_number "
        "FROM messages_fts f JOIN messages m ON m.id = f.rowid JOIN tickets t ON t.id = m.ticket_id "
        "JOIN contacts c ON c.id = m.contact_id WHERE messages_fts MATCH ? AND f.rowid >= ifnull(("
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?), 0) "
        f"AND m.tenant_id = ? AND {' AND '.join(where)} ORDER BY f.rowid DESC LIMIT ?"
    )
    return await db.all(sql, (match, match, SEARCH_SCAN - 1, actor.tenant_id, *args, max(1, min(limit, 200))))


def send_to_unit(tx: Tx, actor: Actor, number: str, connection_id: int | None, body: str,
                 media: dict[str, Any] | None, due_at: float | None,
                 template: tuple[int, list[str]] | None = None) -> dict[str, Any]:
    """Start (or continue) a conversation with a phone number: the contact is found or created, and
    the message goes where ``message.send`` would put it. The customer's active ticket on the number
    takes it when the caller may answer there (a pending one becomes theirs, as with a reply); one
    the caller can't see (a colleague's, a queue they are not in) is refused without naming its
    holder (``tickets.conversation_for``), never written into; with none, a ticket of the sender's starts.

    ``template`` (template id, values): an approved template instead of ``body``, the way a cloud number
    writes first to a customer outside the 24-hour window."""
    connection_id = connections.pick(tx, actor.tenant_id, connection_id)
    sent = None
    if template is not None:
        chosen = templates.get(tx, actor.tenant_id, template[0])
        templates.require_sendable(chosen, connection_id)
        body, sent = templates.rendered(chosen, templates.check_values(chosen, template[1]))
    contact = C.resolve(tx, actor.tenant_id, f"{number}@s.whatsapp.net")
    if contact["opted_out"] and due_at is not None:
        raise Conflict(f"{number} opted out of automated messages", contact_id=contact["id"])
    ticket = conversation_for(tx, actor, connection_id, contact["id"])
    if sent is None:
        window.require_open(tx, connection_id, contact["id"])
    if ticket is not None:
        take_on_reply(tx, actor, ticket)
    else:
        tid = tx.insert("tickets", {
            "tenant_id": actor.tenant_id, "connection_id": connection_id, "contact_id": contact["id"],
            "status": "open", "user_id": actor.user_id, "accepted_at": tx.now, "last_message_at": tx.now,
            "created_at": tx.now, "updated_at": tx.now})
        ticket = tx.one("SELECT * FROM tickets WHERE id = ?", (tid,))
        T.log(tx, ticket, actor, "start")
        tx.emit(actor.tenant_id, "ticket.created", {"ticket": T.get(tx, actor.tenant_id, tid)}, ticket_id=tid)
    type_ = media_type(media["media_mime"]) if media else "text"
    msg = queue_outbound(tx, ticket, actor, body if sent else expand(tx, ticket, actor, body), type_, media,
                         automated=due_at is not None, due_at=due_at, template=sent)
    tx.audit(actor, "message.send_to", "message", msg["id"], number=number,
             **({"template_id": template[0]} if template else {}))
    return msg
