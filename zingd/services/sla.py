"""Service-level targets: how long a queue's tickets may wait for a first response and for
their resolution, and the due times and breaches that follow.

A queue's targets (``sla_first_response_s``, ``sla_resolution_s``; NULL: none) are counted in
its business hours (``sla_clock`` 'business', ``hours.add_business_seconds``) or in wall time
('calendar'). Both are measured from the ticket's ``created_at``, as reports measure first
response and resolution: a customer who waited in the menu or with the bot waited too, and a
transfer to another queue neither restarts the clock nor hides a breach (the new queue's targets
apply from the same start). A reopened ticket is new work: its targets restart at the reopening.

Each hook below is a function of the caller's unit of work, so a due time changes in the same
transaction as what caused it. A breach is flagged once (``breached_*`` 1) in the unit that emits
``ticket.sla_breached``: by the SLA worker (zingd/workers/sla.py) when a due time passes, or here
when the answer or the close itself comes late (in the moment between a due time and the worker's
unit). Closing stops both clocks; a ticket's due times stay on it, for people and reports.
"""

from __future__ import annotations

from typing import Any

from zingd.errors import Invalid
from zingd.services import hours
from zingd.store import tickets as T
from zingd.store.db import Tx
from zingd.store.rows import loads

CLOCKS = ("business", "calendar")
TARGETS = ("first_response", "resolution")
MAX_TARGET_S = 366 * 86400.0

# A target still running: due, unmet, not yet breached, on a ticket not closed. Written exactly as
# the partial indexes of schema_016.sql are, so SQLite walks them.
RUNNING = {
    "first_response": "first_response_due_at IS NOT NULL AND first_response_at IS NULL "
                      "AND breached_first_response = 0 AND status != 'closed'",
    "resolution": "resolution_due_at IS NOT NULL AND breached_resolution = 0 AND status != 'closed'",
}
NEXT_DUE = " UNION ALL ".join(f"SELECT min({t}_due_at) AS due FROM tickets WHERE {RUNNING[t]}" for t in TARGETS)


def check(changes: dict[str, Any]) -> None:
    """Refuse targets a queue can't have (queue.create / queue.update)."""
    for target in TARGETS:
        field = f"sla_{target}_s"
        value = changes.get(field)
        if value is not None and not 1 <= value <= MAX_TARGET_S:
            raise Invalid(f"{field} must be between 1 second and 366 days (or null for no target)", field=field)
    if "sla_clock" in changes and changes["sla_clock"] not in CLOCKS:
        raise Invalid(f"sla_clock must be one of {', '.join(CLOCKS)}", field="sla_clock")


def due(queue: dict[str, Any], target: str, start: float) -> float | None:
    """When ``target`` of a ticket of ``queue`` that started at ``start`` falls due; None: no target
    (or business hours that never open)."""
    seconds = queue[f"sla_{target}_s"]
    if seconds is None:
        return None
    if queue["sla_clock"] == "calendar":
        return start + seconds
    spec = queue["business_hours"]
    return hours.add_business_seconds(loads(spec) if isinstance(spec, str) else spec, start, seconds)


def _ticket(tx: Tx, ticket_id: int) -> dict[str, Any]:
    return tx.one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))


def _set_due(tx: Tx, ticket: dict[str, Any], start: float, targets: tuple[str, ...]) -> None:
    queue = tx.one("SELECT sla_first_response_s, sla_resolution_s, sla_clock, business_hours FROM queues "
                   "WHERE id = ?", (ticket["queue_id"],)) if ticket["queue_id"] is not None else None
    for target in targets:
        value = due(queue, target, start) if queue is not None else None
        tx.execute(f"UPDATE tickets SET {target}_due_at = ? WHERE id = ?", (value, ticket["id"]))


def _open_targets(ticket: dict[str, Any]) -> tuple[str, ...]:
    """The targets a new due time can still apply to: not breached, and the first response not given."""
    return tuple(t for t in TARGETS if not ticket.get(f"breached_{t}")
                 and not (t == "first_response" and ticket.get("first_response_at") is not None))


def entered_queue(tx: Tx, ticket_id: int) -> None:
    """The ticket is in a queue now (routed into it, or transferred): its due times follow that
    queue's targets, from the ticket's start. A queue without targets clears them."""
    ticket = _ticket(tx, ticket_id)
    _set_due(tx, ticket, ticket["created_at"], _open_targets(ticket))


def reopened(tx: Tx, ticket_id: int) -> None:
    """A reopened ticket's running targets start again now."""
    ticket = _ticket(tx, ticket_id)
    _set_due(tx, ticket, tx.now, _open_targets(ticket))


def breach(tx: Tx, ticket_id: int, target: str) -> None:
    """Flag ``target`` as missed and say so, once: a ticket already flagged is left alone."""
    flagged = tx.execute(f"UPDATE tickets SET breached_{target} = 1 WHERE id = ? AND breached_{target} = 0",
                         (ticket_id,)).rowcount
    if not flagged:
        return
    row = _ticket(tx, ticket_id)
    view = T.get(tx, row["tenant_id"], ticket_id)
    tx.emit(row["tenant_id"], "ticket.sla_breached",
            {"ticket": view, "target": target, "due_at": row[f"{target}_due_at"]}, ticket_id=ticket_id)


def responded(tx: Tx, ticket_id: int) -> None:
    """After a person's answer (``queue_outbound``): a first response later than due is a breach
    (unless the worker flagged it at the due time already)."""
    if tx.value("SELECT 1 FROM tickets WHERE id = ? AND breached_first_response = 0 "
                "AND first_response_at > first_response_due_at", (ticket_id,)):
        breach(tx, ticket_id, "first_response")


def closed(tx: Tx, ticket_id: int) -> None:
    """After a close: one later than the resolution's due time is a breach."""
    if tx.value("SELECT 1 FROM tickets WHERE id = ? AND breached_resolution = 0 "
                "AND closed_at > resolution_due_at", (ticket_id,)):
        breach(tx, ticket_id, "resolution")


def breach_due(tx: Tx, limit: int) -> int:
    """The SLA worker's unit: flag every running target whose due time has passed (earliest
    first, at most ``limit``); how many it flagged."""
    rows = tx.all(" UNION ALL ".join(
        f"SELECT * FROM (SELECT id, '{t}' AS target, {t}_due_at AS due FROM tickets "
        f"WHERE {RUNNING[t]} AND {t}_due_at <= ? ORDER BY {t}_due_at LIMIT ?)" for t in TARGETS),
        (tx.now, limit) * len(TARGETS))
    for row in sorted(rows, key=lambda r: r["due"])[:limit]:
        breach(tx, row["id"], row["target"])
    return min(len(rows), limit)


def next_due(ticket: dict[str, Any]) -> float | None:
    """The earliest due time still running on a ticket (a row or its view), for the worker to
    decide from an event whether it must wake sooner."""
    if ticket.get("status") == "closed":
        return None
    times = (ticket.get(f"{t}_due_at") for t in _open_targets(ticket))
    return min((t for t in times if t is not None), default=None)
