"""Quick replies (tenant-wide and personal) and the variables every sent text may use.

Variables: {{name}} {{first_name}} {{number}} (the contact), {{agent}} (who sends),
{{protocol}} (the ticket's protocol number), {{queue}}, {{date}}. A quick reply with any other is
refused when saved (it would reach the customer as typed); in a typed text, or a row saved before
that rule, an unknown one stays as typed. Changes are events (``quickreply.created`` / ``.updated``
/ ``.deleted``); a personal reply's reach only its owner (``services.events.visible_to``).
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from zingd.actor import Actor
from zingd.errors import Conflict, Forbidden, Invalid, NotFound
from zingd.services import hours
from zingd.store.db import Database, Tx

_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")
VARIABLES = ("name", "first_name", "number", "agent", "protocol", "queue", "date")


def protocol_number(ticket: dict[str, Any]) -> str:
    return time.strftime("%Y%m%d", time.gmtime(ticket["created_at"])) + f"-{ticket['id']:06d}"


def variables(tx: Tx, ticket: dict[str, Any], actor: Actor | None) -> dict[str, str]:
    contact = tx.one("SELECT name, push_name, number FROM contacts WHERE id = ?", (ticket["contact_id"],))
    # A blank name (only spaces) falls back like an empty one.
    name = (contact["name"] or "").strip() or (contact["push_name"] or "").strip() or contact["number"]
    queue = tx.value("SELECT name FROM queues WHERE id = ?", (ticket["queue_id"],)) if ticket.get("queue_id") else ""
    return {
        "name": name, "first_name": name.split()[0] if name.split() else "", "number": contact["number"],
        "agent": actor.name if actor else "", "protocol": protocol_number(ticket), "queue": queue or "",
        "date": datetime.fromtimestamp(tx.now, _tenant_zone(tx, ticket["tenant_id"])).strftime("%d/%m/%Y"),
    }


def _tenant_zone(tx: Tx, tenant_id: int) -> ZoneInfo:
    """The tenant's time zone (as schedules and quiet hours use); UTC if it is not a valid one, so a
    greeting never fails over it (tenants.timezone is not validated when set)."""
    try:
        return hours.zone(tx.value("SELECT timezone FROM tenants WHERE id = ?", (tenant_id,)))
    except Invalid:
        return ZoneInfo("UTC")


def expand(tx: Tx, ticket: dict[str, Any], actor: Actor | None, text: str) -> str:
    if "{{" not in text:
        return text
    values = variables(tx, ticket, actor)
    return _VAR.sub(lambda m: values.get(m.group(1).lower(), m.group(0)), text)


def _check_body(body: str) -> str:
    if not body.strip():
        raise Invalid("a quick reply needs a body", field="body")
    unknown = sorted({m.group(1) for m in _VAR.finditer(body) if m.group(1).lower() not in VARIABLES})
    if unknown:
        raise Invalid(f"unknown variable {', '.join('{{' + u + '}}' for u in unknown)}: the known ones are "
                      f"{' '.join('{{' + v + '}}' for v in VARIABLES)}", field="body", unknown=unknown)
    return body


def _emit(tx: Tx, actor: Actor, row: dict[str, Any], type_: str) -> dict[str, Any]:
    tx.emit(actor.tenant_id, type_, {"quick_reply": row})
    return row


def _shortcut(text: str) -> str:
    shortcut = text.strip().lstrip("/").lower()
    if not re.fullmatch(r"[\w-]{1,40}", shortcut):
        raise Invalid("a shortcut is 1-40 letters, digits, - or _ (typed after /)", field="shortcut")
    return shortcut


def create(tx: Tx, actor: Actor, shortcut: str, body: str, personal: bool) -> dict[str, Any]:
    shortcut = _shortcut(shortcut)
    _check_body(body)
    if not personal and not actor.at_least("supervisor"):
        raise Forbidden("only supervisors and admins create tenant-wide quick replies; use personal")
    owner = actor.user_id if personal else None
    if tx.value("SELECT 1 FROM quick_replies WHERE tenant_id = ? AND ifnull(user_id, 0) = ? AND shortcut = ?",
                (actor.tenant_id, owner or 0, shortcut)):
        raise Conflict(f"/{shortcut} exists already", field="shortcut")
    qid = tx.insert("quick_replies", {"tenant_id": actor.tenant_id, "user_id": owner, "shortcut": shortcut,
                                      "body": body, "created_at": tx.now})
    tx.audit(actor, "quickreply.create", "quick_reply", qid, shortcut=shortcut)
    return _emit(tx, actor, _get(tx, actor, qid), "quickreply.created")


def _get(tx: Tx, actor: Actor, qid: int) -> dict[str, Any]:
    row = tx.one("SELECT * FROM quick_replies WHERE id = ? AND tenant_id = ? AND (user_id IS NULL OR user_id = ?)",
                 (qid, actor.tenant_id, actor.user_id))
    if row is None:
        raise NotFound(f"no quick reply {qid}", id=qid)
    return {**row, "scope": "personal" if row["user_id"] else "tenant"}


def _check_edit(actor: Actor, row: dict[str, Any]) -> None:
    if row["user_id"] is None and not actor.at_least("supervisor"):
        raise Forbidden("only supervisors and admins change tenant-wide quick replies")


def update(tx: Tx, actor: Actor, qid: int, shortcut: str | None, body: str | None) -> dict[str, Any]:
    row = _get(tx, actor, qid)
    _check_edit(actor, row)
    if shortcut is not None:
        tx.execute("UPDATE quick_replies SET shortcut = ? WHERE id = ?", (_shortcut(shortcut), qid))
    if body is not None:
        tx.execute("UPDATE quick_replies SET body = ? WHERE id = ?", (_check_body(body), qid))
    tx.audit(actor, "quickreply.update", "quick_reply", qid)
    return _emit(tx, actor, _get(tx, actor, qid), "quickreply.updated")


def delete(tx: Tx, actor: Actor, qid: int) -> dict[str, Any]:
    row = _get(tx, actor, qid)
    _check_edit(actor, row)
    tx.execute("DELETE FROM quick_replies WHERE id = ?", (qid,))
    tx.audit(actor, "quickreply.delete", "quick_reply", qid, shortcut=row["shortcut"])
    return _emit(tx, actor, row, "quickreply.deleted")


async def list_replies(db: Database, actor: Actor, query: str | None) -> list[dict[str, Any]]:
    """The caller's quick replies (personal first), filtered by a fuzzy match on shortcut and body."""
    rows = await db.all(
        "SELECT * FROM quick_replies WHERE tenant_id = ? AND (user_id IS NULL OR user_id = ?) "
        "ORDER BY user_id IS NULL, shortcut", (actor.tenant_id, actor.user_id))
    out = [{**r, "scope": "personal" if r["user_id"] else "tenant"} for r in rows]
    if query:
        q = query.lower().lstrip("/")
        out = [r for r in out if _fuzzy(q, r["shortcut"]) or q in r["body"].lower()]
    return out


def _fuzzy(query: str, text: str) -> bool:
    """Every character of the query appears in order (``ob`` finds ``obrigado``)."""
    it = iter(text.lower())
    return all(ch in it for ch in query)
