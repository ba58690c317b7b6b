"""Fetching a received file again after its download failed.

A stalled or unreachable CDN leaves the message stored at once with a media
error (the next text is not held up behind it). The number keeps the message as
WhatsApp delivered it, keys and path included, so an agent can ask for the file
again later; the channel downloads it and hands the message over again, and the
inbound flow puts the file on the stored message (``message.updated``). A file
WhatsApp's servers no longer have needs the customer's phone to upload it again,
which neonize 0.5.2 cannot ask for: its error says so and it is not retried.
"""

from __future__ import annotations

from typing import Any

from zingd.actor import Actor
from zingd.channels.base import SendError
from zingd.channels.manager import Channels
from zingd.errors import ChannelDown, Conflict, NotFound
from zingd.store import messages as M
from zingd.store import tickets as T
from zingd.store.db import Database, Tx


def _failed_download(tx: Tx, actor: Actor, message_id: int) -> dict[str, Any]:
    m = tx.one("SELECT id, ticket_id, connection_id, wa_id, direction, media_error FROM messages "
               "WHERE id = ? AND tenant_id = ?", (message_id, actor.tenant_id))
    if m is None or T.get_visible(tx, actor, m["ticket_id"]) is None:  # invisible: as if it never existed
        raise NotFound(f"no message {message_id}", id=message_id)
    if m["direction"] != "in" or not m["media_error"]:
        raise Conflict(f"message {message_id} has no failed download to try again", id=message_id)
    return m


def _fetched(tx: Tx, actor: Actor, message_id: int) -> dict[str, Any]:
    msg = M.get(tx, message_id)
    tx.audit(actor, "media.fetch", "message", message_id, ok=not msg["media_error"])
    return msg


async def fetch_again(db: Database, channels: Channels, actor: Actor, message_id: int) -> dict[str, Any]:
    """The message after the attempt: with its file, or with the new error."""
    m = await db.dry_run(_failed_download, actor, message_id)
    channel = channels.get(m["connection_id"])
    if channel is None:
        raise ChannelDown(f"the number of message {message_id} is not running", id=message_id)
    try:
        await channel.fetch_media(m["wa_id"])
    except LookupError as e:
        raise Conflict(str(e), id=message_id) from None
    except SendError as e:
        raise ChannelDown(str(e), id=message_id) from None
    return await db.write(_fetched, actor, message_id)
