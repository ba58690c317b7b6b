"""Tenants and users: who exists, in which company, with which role and limits."""

from __future__ import annotations

import asyncio
from typing import Any

import phonenumbers

from zingd.actor import RANK, Actor
from zingd.errors import Conflict, Forbidden, Invalid, NotFound
from zingd.services import routing
from zingd.services.inbound import OPT_OUT_KEYWORDS, OPT_OUT_REPLY, RATING_THANKS
from zingd.services.tickets import RATING_PROMPT
from zingd.services.auth import check_password_rules, create_user_row, hash_password, public_user
from zingd.store.db import Database, Tx
from zingd.store.rows import dumps, with_json

USER_STATUSES = ("online", "away", "offline")
TENANT_FIELDS = ("name", "status", "max_users", "max_connections", "max_queues", "timezone")


def _tenant(tx: Tx, tenant_id: int) -> dict[str, Any]:
    row = with_json(tx.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,)), "settings")
    if row is None:
        raise NotFound(f"no tenant {tenant_id}", id=tenant_id)
    return row


def create_tenant(tx: Tx, actor: Actor, name: str, limits: dict[str, Any]) -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise Invalid("a tenant needs a name", field="name")
    if tx.value("SELECT 1 FROM tenants WHERE name = ?", (name,)):
        raise Conflict(f"a tenant named {name!r} exists", field="name")
    tid = tx.insert("tenants", {"name": name, "created_at": tx.now, **limits})
    tx.audit(actor, "tenant.create", "tenant", tid, name=name)
    return _tenant(tx, tid)


def update_tenant(tx: Tx, actor: Actor, tenant_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a tenant. Suspending one holds its users below superadmin out (their connections close
    once this commits: the RPC server hears tenant.updated) and its numbers' sending until it is
    active again: queued messages and campaigns wait, none dropped; schedules wait as through
    downtime (past the grace period, missed). Customers' messages still arrive and are stored."""
    _tenant(tx, tenant_id)
    if "status" in changes and changes["status"] not in ("active", "suspended"):
        raise Invalid("status must be active or suspended", field="status")
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE tenants SET {sets} WHERE id = ?", (*changes.values(), tenant_id))
    tx.audit(actor, "tenant.update", "tenant", tenant_id, **changes)
    row = _tenant(tx, tenant_id)
    tx.emit(tenant_id, "tenant.updated", {"tenant": {k: row[k] for k in ("id", "name", "status")}})
    return row


async def get_tenant(db: Database, actor: Actor, tenant_id: int | None) -> dict[str, Any]:
    """The tenant, with ``defaults``: what each setting is while it is not in ``settings``."""
    tenant_id = actor.tenant(tenant_id)
    row = with_json(await db.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,)), "settings")
    if row is None:
        raise NotFound(f"no tenant {tenant_id}", id=tenant_id)
    return {**row, "defaults": SETTING_DEFAULTS}


async def list_tenants(db: Database) -> list[dict[str, Any]]:
    rows = await db.all(
        "SELECT t.*, (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS users, "
        "(SELECT count(*) FROM connections c WHERE c.tenant_id = t.id) AS connections FROM tenants t ORDER BY t.id")
    return [with_json(r, "settings") for r in rows]


def _user(tx: Tx, tenant_id: int, user_id: int) -> dict[str, Any]:
    row = tx.one("SELECT * FROM users WHERE id = ? AND tenant_id = ?", (user_id, tenant_id))
    if row is None:
        raise NotFound(f"no user {user_id}", id=user_id)
    return row


def _check_grant(actor: Actor, role: str) -> None:
    if RANK.get(role, 99) > RANK[actor.role]:
        raise Forbidden(f"you ({actor.role}) cannot grant the {role} role")


def create_user(tx: Tx, actor: Actor, tenant_id: int, email: str, name: str, role: str, pw_hash: str,
                max_tickets: int) -> dict[str, Any]:
    _check_grant(actor, role)
    tenant = _tenant(tx, tenant_id)
    count = tx.value("SELECT count(*) FROM users WHERE tenant_id = ?", (tenant_id,))
    if count >= tenant["max_users"]:
        raise Conflict(f"{tenant['name']} has {count} users, its limit; raise max_users first", limit="max_users")
    user = create_user_row(tx, tenant_id, email, name, role, pw_hash, max_tickets=max_tickets)
    tx.audit(actor, "user.create", "user", user["id"], email=user["email"], role=role)
    tx.emit(tenant_id, "user.created", {"user": {k: user[k] for k in ("id", "name", "role", "status", "enabled")}})
    return public_user(user)


def update_user(tx: Tx, actor: Actor, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    tenant_id = actor.tenant_id
    if actor.is_superadmin:  # a superadmin reaches any tenant's users
        tenant_id = tx.value("SELECT tenant_id FROM users WHERE id = ?", (user_id,)) or tenant_id
    user = _user(tx, tenant_id, user_id)
    if "role" in changes:
        _check_grant(actor, changes["role"])
    if RANK[user["role"]] > RANK[actor.role]:
        raise Forbidden("you cannot change a user with a higher role than yours")
    if user.get("is_bot") and set(changes) - {"name", "enabled"}:
        raise Invalid(f"user {user_id} is the assistant's bot: only its name and whether it is enabled change "
                      "(it has no password, role or presence; its queues are the bot's: zingctl assistant set)",
                      field=sorted(set(changes) - {"name", "enabled"})[0])
    if "status" in changes and changes["status"] not in USER_STATUSES:
        raise Invalid(f"status must be one of {', '.join(USER_STATUSES)}", field="status")
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE users SET {sets}, updated_at = ? WHERE id = ?", (*changes.values(), tx.now, user_id))
        if changes.get("enabled") == 0:
            tx.execute("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", (tx.now, user_id))
    tx.audit(actor, "user.update", "user", user_id, **{k: v for k, v in changes.items() if k != "password_hash"},
             password_reset="password_hash" in changes)
    row = public_user(_user(tx, user["tenant_id"], user_id))
    tx.emit(user["tenant_id"], "user.updated", {"user": {k: row[k] for k in ("id", "name", "role", "status", "enabled")}})
    return row


def set_status(tx: Tx, actor: Actor, status: str) -> dict[str, Any]:
    if status not in USER_STATUSES:
        raise Invalid(f"status must be one of {', '.join(USER_STATUSES)}", field="status")
    tx.execute("UPDATE users SET status = ?, updated_at = ? WHERE id = ?", (status, tx.now, actor.user_id))
    tx.audit(actor, "user.set_status", "user", actor.user_id, status=status)
    if status == "online":
        routing.rebalance(tx, actor.tenant_id)  # tickets waiting for someone like them
    tx.emit(actor.tenant_id, "user.updated", {"user": {"id": actor.user_id, "name": actor.name, "status": status}})
    return public_user(_user(tx, actor.tenant_id, actor.user_id))


async def list_users(db: Database, actor: Actor, tenant_id: int | None) -> list[dict[str, Any]]:
    rows = await db.all("SELECT * FROM users WHERE tenant_id = ? ORDER BY id", (actor.tenant(tenant_id),))
    return [public_user(r) for r in rows]


async def get_user(db: Database, actor: Actor, user_id: int) -> dict[str, Any]:
    row = await db.one("SELECT * FROM users WHERE id = ? AND tenant_id = ?", (user_id, actor.tenant_id))
    if row is None:
        raise NotFound(f"no user {user_id}", id=user_id)
    queues = await db.all("SELECT q.id, q.name FROM queue_members m JOIN queues q ON q.id = m.queue_id "
                          "WHERE m.user_id = ?", (user_id,))
    return {**public_user(row), "queues": queues}


async def password_hash(password: str) -> str:
    check_password_rules(password)
    return await asyncio.to_thread(hash_password, password)



def update_me(tx: Tx, actor: Actor, changes: dict[str, Any]) -> dict[str, Any]:
    """What every user may change of themselves: name, signature, password."""
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE users SET {sets}, updated_at = ? WHERE id = ?", (*changes.values(), tx.now, actor.user_id))
    tx.audit(actor, "user.update_me", "user", actor.user_id, fields=sorted(changes))
    return public_user(_user(tx, actor.tenant_id, actor.user_id))


TENANT_SETTINGS = ("rating", "rating_prompt", "rating_thanks", "region", "opt_out_keywords", "opt_out_reply")
DEFAULT_REGION = "BR"  # services.contacts.tenant_region reads numbers in it too
# What a company gets for a setting it has not set (tenant.get shows them; zingctl marks them "default").
SETTING_DEFAULTS: dict[str, Any] = {
    "rating": False, "rating_prompt": RATING_PROMPT, "rating_thanks": RATING_THANKS, "region": DEFAULT_REGION,
    "opt_out_keywords": list(OPT_OUT_KEYWORDS), "opt_out_reply": OPT_OUT_REPLY,
}


MAX_SETTING_TEXT = 1000  # a message zing sends by itself: a few lines, never a document


def _check_settings(changes: dict[str, Any]) -> dict[str, Any]:
    """Values that would break what they drive are refused, naming the setting; texts are trimmed."""
    out = dict(changes)
    for key in ("rating_prompt", "rating_thanks", "opt_out_reply"):
        if out.get(key) is not None:
            out[key] = out[key].strip()
            if not out[key] or len(out[key]) > MAX_SETTING_TEXT:
                raise Invalid(f"{key}: 1 to {MAX_SETTING_TEXT} characters (null puts the default back)", field=key)
    if out.get("region") is not None:
        out["region"] = out["region"].strip().upper()
        if out["region"] not in phonenumbers.SUPPORTED_REGIONS:
            raise Invalid(f"region: a two-letter country code phone numbers are read in, like BR or PT, not "
                          f"{changes['region']!r}", field="region")
    if out.get("opt_out_keywords") is not None:
        words = [w.strip() for w in out["opt_out_keywords"] if w.strip()]
        if not words or any(" " in w or len(w) > 40 for w in words):
            raise Invalid("opt_out_keywords: one or more single words of up to 40 letters (null puts the "
                          "default back)", field="opt_out_keywords")
        out["opt_out_keywords"] = words
    return out


def tenant_settings(tx: Tx, actor: Actor, changes: dict[str, Any]) -> dict[str, Any]:
    """Company-wide behaviour an admin controls: rating survey, phone region, opt-out keywords."""
    changes = _check_settings(changes)
    tenant = _tenant(tx, actor.tenant_id)
    merged = {**tenant["settings"], **changes}  # a key given as None goes back to its default
    settings = {k: v for k, v in merged.items() if v is not None}
    tx.execute("UPDATE tenants SET settings = ? WHERE id = ?", (dumps(settings), actor.tenant_id))
    tx.audit(actor, "tenant.settings", "tenant", actor.tenant_id, **changes)
    return settings
