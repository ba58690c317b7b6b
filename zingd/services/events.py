"""The persisted event log: replay for reconnecting subscribers, pruning, and who sees what."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from zingd.actor import Actor
from zingd.bus import Event
from zingd.store.db import Tx
from zingd.store.rows import loads

if TYPE_CHECKING:
    from zingd.store.db import Database

REPLAY_MAX = 10_000


class EventLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def replay(self, tenant_id: int, since_seq: int, head: int) -> tuple[list[Event], bool]:
        """Events after ``since_seq`` up to ``head``; True when the client must reload instead."""
        # Sequence numbers start at 1 and are never reused, so a gap below the oldest means pruning.
        oldest = await self.db.value("SELECT min(seq) FROM events")
        if oldest is not None and oldest > max(1, since_seq + 1):
            return [], True
        rows = await self.db.all(
            "SELECT * FROM events WHERE tenant_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (tenant_id, since_seq, head, REPLAY_MAX + 1))
        if len(rows) > REPLAY_MAX:
            return [], True
        return [Event(r["seq"], r["tenant_id"], r["ticket_id"], r["type"], r["ts"], loads(r["data"])) for r in rows], False


def prune(tx: Tx, before: float) -> int:
    """Forget events older than ``before``; replay tells a client that asks for them to reload."""
    return tx.execute("DELETE FROM events WHERE ts < ?", (before,)).rowcount


def visible_to(current: Callable[[], Actor | None]) -> Callable[[Event], bool]:
    """Which live events a session may receive: agents only those of tickets they may see.

    ``current`` returns the session's actor as it is now (roles and queues change
    while a console is open). Ticket-scoped events carry the ticket's view, so the
    rule is applied to it as the daemon sees it now; ack events carry the ticket's ``owner``.
    A personal quick reply's events reach its owner only, whatever the role (as quickreply.list);
    a schedule's reach its author and those who see every ticket (as schedule.list).
    """

    def visible(event: Event) -> bool:
        actor = current()
        if actor is None:
            return False
        owner = (event.data.get("quick_reply") or {}).get("user_id")
        if owner is not None and owner != actor.user_id:  # a personal quick reply is its owner's alone
            return False
        if actor.sees_all_tickets:
            return True
        schedule = event.data.get("schedule")
        if schedule is not None:  # an agent's schedules are theirs alone (as schedule.list)
            return schedule.get("user_id") == actor.user_id
        states = [s for s in (event.data.get("ticket") or event.data.get("owner"), event.data.get("was")) if s]
        if states:  # the ticket as it is, and as it was (so a ticket leaving someone's view reaches them)
            return any(s["user_id"] == actor.user_id or (
                s["status"] == "pending" and (s["queue_id"] is None or s["queue_id"] in actor.queue_ids))
                for s in states)
        return event.ticket_id is None

    return visible
