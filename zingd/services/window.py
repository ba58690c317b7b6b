"""WhatsApp's customer service window, in one place.

The Cloud API takes a free-form message (text, media, a reaction) to a customer only within 24
hours of that customer's last message to the number; after that, only an approved template
(``template.list``, ``message.send_template``) until the customer writes again. Meta refuses
anything else with error 131047, so zing says no before queueing instead of letting the message
fail later. neonize and sim numbers have no such window.

The customer's last message is the newest ``last_inbound_at`` over the contact's tickets on that
number: a ticket an agent starts (``message.send_to``) has heard nothing yet, but the window its
contact opened on an older ticket still holds.
"""

from __future__ import annotations

from datetime import datetime, timezone

from zingd.errors import Conflict
from zingd.store.db import Tx
from zingd.store.rows import dumps

SECONDS = 24 * 3600
LAST_HEARD = "SELECT max(last_inbound_at) FROM tickets WHERE connection_id = ? AND contact_id = ?"


def is_cloud(tx: Tx, connection_id: int) -> bool:
    return tx.value("SELECT kind = 'cloud' FROM connections WHERE id = ?", (connection_id,)) == 1


def closes_at(tx: Tx, connection_id: int, contact_id: int) -> float | None:
    """When free-form messages to this contact stop being allowed: None on a number without a window,
    0 when the customer never wrote to it."""
    if not is_cloud(tx, connection_id):
        return None
    heard = tx.value(LAST_HEARD, (connection_id, contact_id))
    return heard + SECONDS if heard else 0.0


def is_open(tx: Tx, connection_id: int, contact_id: int) -> bool:
    closes = closes_at(tx, connection_id, contact_id)
    return closes is None or closes > tx.now


def closed_message(closes: float, now: float) -> str:
    """Why a free-form message can't go, and what can."""
    if not closes:
        said = "the customer has never written to this number"
    else:
        heard = datetime.fromtimestamp(closes - SECONDS, timezone.utc)
        said = f"the customer last wrote {_ago(now - heard.timestamp())} ago, {heard:%Y-%m-%d %H:%M} UTC"
    return f"outside WhatsApp's 24-hour window ({said}): send an approved template (template.list)"


def require_open(tx: Tx, connection_id: int, contact_id: int) -> None:
    """Refuse a free-form message the Cloud API would refuse (error 131047)."""
    closes = closes_at(tx, connection_id, contact_id)
    if closes is not None and closes <= tx.now:
        raise Conflict(closed_message(closes, tx.now), window_closed_at=closes, connection_id=connection_id,
                       contact_id=contact_id)


def _ago(seconds: float) -> str:
    hours = int(seconds // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h {int(seconds % 3600 // 60)}m"


def cold(tx: Tx, connection_id: int, contact_ids: list[int]) -> int:
    """How many of these contacts are outside the window on this number (only a template reaches them)."""
    return tx.value(
        "SELECT count(*) FROM json_each(?) j WHERE ifnull((SELECT max(t.last_inbound_at) FROM tickets t "
        "WHERE t.contact_id = j.value AND t.connection_id = ?), 0) + ? <= ?",
        (dumps(contact_ids), connection_id, SECONDS, tx.now))
