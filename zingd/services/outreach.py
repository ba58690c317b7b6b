"""Automated messages (campaigns, schedules): rendered per contact, queued in the
contact's conversation, marked ``automated`` for the governor, never to opted-out contacts."""

from __future__ import annotations

import re
from typing import Any

from zingd.errors import Invalid
from zingd.store.db import Tx
from zingd.store.rows import loads

_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")
STANDARD = ("name", "first_name", "number")


def contact_values(contact: dict[str, Any]) -> dict[str, str]:
    name = contact["name"] or contact["push_name"] or contact["number"]
    fields = contact["custom_fields"]
    fields = loads(fields) if isinstance(fields, str) else fields
    return {**{k.lower(): str(v) for k, v in fields.items()},
            "name": name, "first_name": name.split()[0] if name else "", "number": contact["number"]}


def variables_in(text: str) -> set[str]:
    return {m.group(1).lower() for m in _VAR.finditer(text)}


def render(text: str, values: dict[str, str]) -> str:
    return _VAR.sub(lambda m: values.get(m.group(1).lower(), m.group(0)), text)


def missing_values(variants: list[str], contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recipients lacking a value for a variable some variant uses (reported before anything is sent)."""
    used = set().union(*(variables_in(v) for v in variants))
    problems = []
    for contact in contacts:
        values = contact_values(contact)
        lacking = sorted(v for v in used if not values.get(v))
        if lacking:
            problems.append({"contact_id": contact["id"], "number": contact["number"], "missing": lacking})
    return problems


def check_variants(variants: list[str]) -> list[str]:
    variants = [v for v in (x.strip() for x in variants) if v]
    if not variants:
        raise Invalid("give at least one message variant", field="variants")
    if any(len(v) > 4096 for v in variants):
        raise Invalid("a variant is at most 4096 characters", field="variants")
    return variants


def outreach_ticket(tx: Tx, tenant_id: int, connection_id: int, contact_id: int,
                    campaign_id: int | None = None) -> dict[str, Any]:
    """The conversation an automated message belongs to: the contact's active ticket, or a
    closed one that records the outreach (a reply opens a ticket for an agent as usual)."""
    active = tx.one("SELECT * FROM tickets WHERE connection_id = ? AND contact_id = ? AND status IN "
                    "('pending', 'open')", (connection_id, contact_id))
    if active is not None:
        return active
    tid = tx.insert("tickets", {
        "tenant_id": tenant_id, "connection_id": connection_id, "contact_id": contact_id, "status": "closed",
        "campaign_id": campaign_id, "last_message_at": tx.now, "created_at": tx.now, "updated_at": tx.now,
        "closed_at": tx.now,
    })
    return tx.one("SELECT * FROM tickets WHERE id = ?", (tid,))
