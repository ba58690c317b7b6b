"""Scheduled messages: to a contact (or inside a ticket) at a time in the tenant's time
zone, once or on a cron rule; sent through the outbox and the governor by the dispatcher
(``zingd/workers/schedules.py``), which runs the units here when they are due.

An agent's schedules are their own: they list, change and cancel only those (a colleague's is
``not_found``, as one that never existed), and schedule only where they may write themselves
(``tickets.require_visible`` and ``conversation_for``). At its time the message goes out as
zing's automated one, like a campaign's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from zingd.actor import Actor
from zingd.errors import Conflict, Invalid, NotFound
from zingd.services import outreach, window
from zingd.services.outbound import queue_outbound
from zingd.services.tickets import conversation_for, require_owner, require_visible
from zingd.store import connections
from zingd.store import contacts as C
from zingd.store.db import Database, Tx


def parse_when(value: float | str, tz: str) -> float:
    """Epoch seconds, or an ISO date-time read in the tenant's time zone."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"run_at {value!r}: use an ISO date-time like 2026-12-01 09:30", field="run_at") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt.timestamp()


def cron_trigger(expr: str, tz: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expr, timezone=ZoneInfo(tz))
    except (ValueError, TypeError) as e:
        raise Invalid(f"cron {expr!r}: {e} (five fields: minute hour day month weekday)", field="cron") from None


def next_fire(expr: str, tz: str, after: float) -> float:
    trigger = cron_trigger(expr, tz)
    prev = datetime.fromtimestamp(after, ZoneInfo(tz))
    nxt = trigger.get_next_fire_time(prev, prev + timedelta(seconds=1))
    if nxt is None:
        raise Invalid(f"cron {expr!r} never fires again", field="cron")
    return nxt.timestamp()


def _tenant_tz(tx: Tx, tenant_id: int) -> str:
    return tx.value("SELECT timezone FROM tenants WHERE id = ?", (tenant_id,))


def _mine(actor: Actor, column: str = "user_id") -> tuple[str, list[Any]]:
    """SQL for the schedules the actor may see (``column``: their author): an agent's own, any for
    supervisors and up."""
    return ("1", []) if actor.at_least("supervisor") else (f"{column} = ?", [actor.user_id])


def _get(tx: Tx, actor: Actor, schedule_id: int) -> dict[str, Any]:
    cond, params = _mine(actor)
    row = tx.one(f"SELECT * FROM schedules WHERE id = ? AND tenant_id = ? AND {cond}",
                 (schedule_id, actor.tenant_id, *params))
    if row is None:
        raise NotFound(f"no schedule {schedule_id}", id=schedule_id)
    return row


def _timing(tx: Tx, tenant_id: int, run_at: float | str | None, cron: str | None) -> tuple[float, str | None]:
    tz = _tenant_tz(tx, tenant_id)
    if cron:
        cron = cron.strip()
        first = next_fire(cron, tz, tx.now)
        start = parse_when(run_at, tz) if run_at is not None else first
        return (start if start > tx.now else first), cron
    if run_at is None:
        raise Invalid("give run_at (and optionally cron)", field="run_at")
    when = parse_when(run_at, tz)
    if when <= tx.now:
        raise Invalid("run_at is in the past", field="run_at", now=tx.now)
    return when, None


def create(tx: Tx, actor: Actor, contact_id: int | None, ticket_id: int | None, connection_id: int | None,
           body: str, run_at: float | str | None, cron: str | None) -> dict[str, Any]:
    if not body.strip():
        raise Invalid("a scheduled message needs a body", field="body")
    if ticket_id is not None:
        ticket = require_visible(tx, actor, ticket_id)
        require_owner(actor, ticket, "schedule a message in")
        contact_id, connection_id = ticket["contact_id"], ticket["connection_id"]
    if contact_id is None or not tx.value("SELECT 1 FROM contacts WHERE id = ? AND tenant_id = ?",
                                          (contact_id, actor.tenant_id)):
        raise NotFound(f"no contact {contact_id}", id=contact_id)
    connection_id = connections.pick(tx, actor.tenant_id, connection_id)
    if ticket_id is None:
        conversation_for(tx, actor, connection_id, contact_id)
    when, cron = _timing(tx, actor.tenant_id, run_at, cron)
    sid = tx.insert("schedules", {
        "tenant_id": actor.tenant_id, "contact_id": contact_id, "connection_id": connection_id,
        "ticket_id": ticket_id, "user_id": actor.user_id, "body": body, "run_at": when, "cron": cron,
        "created_at": tx.now, "updated_at": tx.now,
    })
    tx.audit(actor, "schedule.create", "schedule", sid, run_at=when, cron=cron)
    return _get(tx, actor, sid)


def update(tx: Tx, actor: Actor, schedule_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change what ``changes`` names: ``body``, ``run_at`` and/or ``cron`` (None: no longer recurring,
    a one-off at ``run_at``, or at its current time)."""
    row = _get(tx, actor, schedule_id)
    if row["status"] != "pending":
        raise Conflict(f"schedule {schedule_id} is {row['status']}; only pending ones change", status=row["status"])
    body = changes.get("body", row["body"])
    if body is None or not body.strip():
        raise Invalid("a scheduled message needs a body", field="body")
    if "run_at" in changes and changes["run_at"] is None:
        raise Invalid("a schedule always has a run_at", field="run_at")
    when, new_cron = row["run_at"], row["cron"]
    if "run_at" in changes or "cron" in changes:
        cron = changes.get("cron", row["cron"])
        # a rule starts at its next fire time unless run_at says otherwise; a one-off keeps its time
        run_at = changes.get("run_at", None if cron else row["run_at"])
        when, new_cron = _timing(tx, actor.tenant_id, run_at, cron)
    tx.execute("UPDATE schedules SET body = ?, run_at = ?, cron = ?, updated_at = ? WHERE id = ?",
               (body, when, new_cron or None, tx.now, schedule_id))
    tx.audit(actor, "schedule.update", "schedule", schedule_id)
    return _get(tx, actor, schedule_id)


def cancel(tx: Tx, actor: Actor, schedule_id: int) -> dict[str, Any]:
    row = _get(tx, actor, schedule_id)
    if row["status"] != "pending":
        raise Conflict(f"schedule {schedule_id} is already {row['status']}", status=row["status"])
    tx.execute("UPDATE schedules SET status = 'cancelled', updated_at = ? WHERE id = ?", (tx.now, schedule_id))
    tx.audit(actor, "schedule.cancel", "schedule", schedule_id)
    return _get(tx, actor, schedule_id)


def _advance(tx: Tx, row: dict[str, Any], status: str, error: str | None = None,
             message_id: int | None = None) -> None:
    """Done with this occurrence: a recurring schedule moves to its next time, a one-off ends."""
    if row["cron"]:
        nxt = next_fire(row["cron"], _tenant_tz(tx, row["tenant_id"]), max(tx.now, row["run_at"]))
        tx.execute("UPDATE schedules SET run_at = ?, runs = runs + 1, error = ?, last_message_id = "
                   "ifnull(?, last_message_id), updated_at = ? WHERE id = ?",
                   (nxt, error, message_id, tx.now, row["id"]))
    else:
        tx.execute("UPDATE schedules SET status = ?, runs = runs + 1, error = ?, last_message_id = ?, "
                   "updated_at = ? WHERE id = ?", (status, error, message_id, tx.now, row["id"]))
    tx.emit(row["tenant_id"], "schedule.updated", {"schedule": tx.one("SELECT * FROM schedules WHERE id = ?",
                                                                      (row["id"],)), "outcome": status})


def mark_missed(tx: Tx, grace_s: float, limit: int) -> int:
    """Occurrences later than the grace period (the daemon was down) are missed, not sent late."""
    rows = tx.all("SELECT * FROM schedules WHERE status = 'pending' AND run_at < ? ORDER BY run_at LIMIT ?",
                  (tx.now - grace_s, limit))
    for row in rows:
        _advance(tx, row, "missed", f"missed: due at {row['run_at']:.0f}, more than {grace_s:.0f}s late")
    return len(rows)


def send(tx: Tx, schedule_id: int, run_at: float) -> tuple[str, float]:
    """Queue one due occurrence (exactly once: guarded by its run_at); the outcome and when."""
    row = tx.one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
    if row is None or row["status"] != "pending" or row["run_at"] != run_at:
        return "gone", tx.now
    contact = tx.one("SELECT * FROM contacts WHERE id = ?", (row["contact_id"],))
    if contact["opted_out"]:
        _advance(tx, row, "skipped", "contact opted out of automated messages")
        return "skipped", tx.now
    if not window.is_open(tx, row["connection_id"], contact["id"]):  # Meta would refuse it (131047)
        closes = window.closes_at(tx, row["connection_id"], contact["id"])
        _advance(tx, row, "skipped", window.closed_message(closes, tx.now))
        return "skipped", tx.now
    ticket = outreach.outreach_ticket(tx, row["tenant_id"], row["connection_id"], contact["id"])
    C.map_jid(tx, row["tenant_id"], C.chat_jid(tx, contact), contact["id"])
    body = outreach.render(row["body"], outreach.contact_values(contact))
    msg = queue_outbound(tx, ticket, None, body, automated=True)
    _advance(tx, row, "sent", None, msg["id"])
    return "sent", tx.now


async def list_schedules(db: Database, actor: Actor, status: str | None, contact_id: int | None,
                         limit: int) -> list[dict[str, Any]]:
    cond, params = _mine(actor, "s.user_id")
    where, args = ["s.tenant_id = ?", cond], [actor.tenant_id, *params]
    if status:
        where.append("s.status = ?")
        args.append(status)
    if contact_id is not None:
        where.append("s.contact_id = ?")
        args.append(contact_id)
    return await db.all(
        "SELECT s.*, c.number, c.name AS contact_name FROM schedules s JOIN contacts c ON c.id = s.contact_id "
        f"WHERE {' AND '.join(where)} ORDER BY s.run_at LIMIT ?", (*args, max(1, min(limit, 5000))))

