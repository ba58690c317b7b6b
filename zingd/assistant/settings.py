"""Reading and changing a tenant's assistant settings, and what it used: the units behind the
``assistant.*`` methods.

The first change creates the tenant's bot user: the actor the bot and the assistant's notes act as,
an agent like any other under the permission table and the object rules. It can't log in (its
password hash matches no password), is never auto-assigned (it is never online), and it is a member
of exactly the queues the bot serves (``bot.queues``), so what it may see is what an agent of those
queues sees.
"""

from __future__ import annotations

from typing import Any

from zingd.actor import Actor
from zingd.assistant import config as C
from zingd.assistant.hub import off_reason
from zingd.errors import Invalid
from zingd.store.db import Database, Tx

BOT_NAME = "Assistant"
MAX_KEY = 4096


def _hint(key: str) -> str:
    return "…" + key[-4:] if len(key) >= 12 else ("set" if key else "")


def view(row: dict[str, Any] | None) -> dict[str, Any]:
    """The settings as an admin sees them: never the key, only whether one is set and its end."""
    config = C.load(row["settings"]) if row else C.Config()
    key = row["api_key"] if row else ""
    return {"config": config, "api_key_set": bool(key), "api_key_hint": _hint(key),
            "bot_user_id": row["bot_user_id"] if row else None, "updated_at": row["updated_at"] if row else None}


async def get(db: Database, actor: Actor, tenant_id: int) -> dict[str, Any]:
    return view(await db.one("SELECT * FROM assistant_settings WHERE tenant_id = ?", (tenant_id,)))


def _bot_user(tx: Tx, tenant_id: int) -> int:
    uid = tx.insert("users", {
        "tenant_id": tenant_id, "email": f"assistant-{tenant_id}@bot.zing.invalid", "name": BOT_NAME,
        "role": "agent", "password_hash": "!", "status": "offline", "is_bot": 1, "max_tickets": 0,
        "created_at": tx.now, "updated_at": tx.now})
    tx.emit(tenant_id, "user.created", {"user": {"id": uid, "name": BOT_NAME, "role": "agent", "status": "offline",
                                                 "enabled": 1}})
    return uid


def update_unit(tx: Tx, actor: Actor, tenant_id: int, patch: dict[str, Any],
                api_key: str | None | type[Ellipsis]) -> dict[str, Any]:
    """Apply ``patch`` (and a new key: a string sets it, None clears it, ``...`` leaves it)."""
    row = tx.one("SELECT * FROM assistant_settings WHERE tenant_id = ?", (tenant_id,))
    config = C.merge(C.load(row["settings"]) if row else C.Config(), patch)
    C.validate(config, tx, tenant_id)
    if api_key is not ... and api_key is not None and (len(api_key) > MAX_KEY or not api_key.isprintable()
                                                       or any(c.isspace() for c in api_key)):
        raise Invalid("api_key is one line of printable characters without spaces", field="api_key")
    key = (row["api_key"] if row else "") if api_key is ... else (api_key or "")
    bot_user_id = row["bot_user_id"] if row and row["bot_user_id"] else _bot_user(tx, tenant_id)
    settings = C.dumps(config)
    tx.execute(
        "INSERT INTO assistant_settings (tenant_id, base_url, api_key, settings, bot_user_id, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET base_url = excluded.base_url, "
        "api_key = excluded.api_key, settings = excluded.settings, bot_user_id = excluded.bot_user_id, "
        "updated_at = excluded.updated_at", (tenant_id, config.base_url, key, settings, bot_user_id, tx.now))
    tx.execute("DELETE FROM queue_members WHERE user_id = ?", (bot_user_id,))
    tx.conn.executemany("INSERT INTO queue_members (queue_id, user_id) VALUES (?, ?)",
                        [(q, bot_user_id) for q in sorted(set(config.bot.queues))])
    changed = sorted(patch) + (["api_key"] if api_key is not ... else [])
    tx.audit(actor, "assistant.update", "tenant", tenant_id, changed=changed, tenant_id=tenant_id)
    tx.emit(tenant_id, "assistant.updated", {"tenant_id": tenant_id, "changed": changed})
    return view(tx.one("SELECT * FROM assistant_settings WHERE tenant_id = ?", (tenant_id,)))


def status(config: C.Config, limit: str) -> dict[str, Any]:
    """Which features are on, for anyone of the tenant (the console asks before offering the copilot)."""
    on = {f: not off_reason(config, f) for f in C.FEATURES}
    reason = off_reason(config, "chat") or limit
    return {**on, "bot": config.bot.enabled and on["chat"], "reason": reason}


async def usage(db: Database, tenant_id: int, since: str | None, until: str | None) -> list[dict[str, Any]]:
    where, args = ["tenant_id = ?"], [tenant_id]
    if since:
        where.append("day >= ?")
        args.append(since)
    if until:
        where.append("day <= ?")
        args.append(until)
    return await db.all(
        "SELECT day, feature, requests, failures, prompt_tokens, completion_tokens, "
        f"prompt_tokens + completion_tokens AS tokens, cost FROM assistant_usage WHERE {' AND '.join(where)} "
        "ORDER BY day DESC, feature", tuple(args))
