"""Connections (WhatsApp numbers): create, configure, run, pair, log out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zingd.actor import Actor
from zingd.channels.base import ADVICE
from zingd.channels.cloud.account import DEFAULT_API_VERSION, DEFAULT_BASE_URL
from zingd.channels.cloud.webhook import PATH as WEBHOOK_PATH  # where Meta's webhooks go (docs/cloud.md)
from zingd.errors import Conflict, Invalid, NotFound
from zingd.config import PacingSettings
from zingd.services.governor import merge_limits
from zingd.store import cloud_accounts
from zingd.store.db import Database, Tx
from zingd.store.rows import dumps, with_json

if TYPE_CHECKING:
    from zingd.channels.manager import Channels

KINDS = ("sim", "whatsapp", "cloud")
# A cloud number's final states mean other things than a linked device's (ADVICE is neonize's):
# logged_out is Meta refusing the token (code 190, or permissions) or an admin's logout, banned
# and locked are Meta's restrictions on the number or its business account (codes 368, 131031).
CLOUD_ADVICE = {
    "logged_out": "Meta refused the access token, or zing has none (logged out): set a new one with "
                  "zingctl connections update <id> --access-token -",
    "locked": "Meta locked the business account or the number (see the reason): WhatsApp Manager > Account tools > "
              "Account quality says why and how to appeal; once it is unlocked, zingctl connections restart <id>",
    "banned": "Meta restricted the number (see the reason): WhatsApp Manager > Account tools > Account quality shows "
              "the restriction and lets you request a review; once it is lifted, zingctl connections restart <id>",
}
LOGGED_OUT = "logged out by an admin: zing forgot the access token"


def _get(tx: Tx, tenant_id: int, connection_id: int) -> dict[str, Any]:
    row = with_json(tx.one("SELECT * FROM connections WHERE id = ? AND tenant_id = ?", (connection_id, tenant_id)),
                    "settings")
    if row is None:
        raise NotFound(f"no connection {connection_id}", id=connection_id)
    return row


def _check_cloud(tx: Tx, tenant_id: int, kind: str, cloud: dict[str, Any] | None) -> dict[str, str] | None:
    """The account a new connection of ``kind`` gets (kind cloud only), checked."""
    if kind != "cloud":
        if cloud is not None:
            raise Invalid("cloud settings are for kind cloud only", field="cloud")
        return None
    account = cloud_accounts.normalize({"api_version": DEFAULT_API_VERSION, "base_url": DEFAULT_BASE_URL,
                                        **(cloud or {})})
    cloud_accounts.check(tx, tenant_id, account)
    return account


def create(tx: Tx, actor: Actor, tenant_id: int, name: str, kind: str, is_default: bool,
           greeting: str, farewell: str, cloud: dict[str, Any] | None = None) -> dict[str, Any]:
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    account = _check_cloud(tx, tenant_id, kind, cloud)
    name = name.strip()
    if not name:
        raise Invalid("a connection needs a name", field="name")
    limit, count = tx.one("SELECT max_connections AS l, (SELECT count(*) FROM connections WHERE tenant_id = ?) AS c "
                          "FROM tenants WHERE id = ?", (tenant_id, tenant_id)).values()
    if count >= limit:
        raise Conflict(f"this tenant has {count} connections, its limit; raise max_connections first",
                       limit="max_connections")
    if tx.value("SELECT 1 FROM connections WHERE tenant_id = ? AND name = ?", (tenant_id, name)):
        raise Conflict(f"a connection named {name!r} exists", field="name")
    first = not tx.value("SELECT 1 FROM connections WHERE tenant_id = ?", (tenant_id,))
    if is_default:
        tx.execute("UPDATE connections SET is_default = 0 WHERE tenant_id = ?", (tenant_id,))
    cid = tx.insert("connections", {
        "tenant_id": tenant_id, "name": name, "kind": kind, "is_default": int(is_default or first),
        "greeting": greeting, "farewell": farewell, "created_at": tx.now, "updated_at": tx.now,
        "status": {"sim": "disconnected", "cloud": "connecting"}.get(kind, "pairing"),
    })
    if account is not None:
        cloud_accounts.insert(tx, tenant_id, cid, account)
    tx.audit(actor, "connection.create", "connection", cid, name=name, kind=kind)
    row = _get(tx, tenant_id, cid)
    tx.emit(tenant_id, "connection.updated", {"id": cid, "status": row["status"], "reason": ""})
    return row


def _check_settings(tx: Tx, tenant_id: int, settings: dict[str, Any]) -> None:
    if settings.get("pacing") is not None:
        merge_limits(PacingSettings(), settings["pacing"])
    if settings.get("groups") not in (None, "ignore", "route", "chatbot"):
        raise Invalid("groups must be ignore, route (quietly) or chatbot", field="settings.groups")
    if len(settings.get("call_reply") or "") > 4096:
        raise Invalid("call_reply: at most 4096 characters", field="settings.call_reply")
    if settings.get("menu_max_retries") is not None and not 1 <= settings["menu_max_retries"] <= 10:
        raise Invalid("menu_max_retries must be 1 to 10", field="settings.menu_max_retries")
    queue_ids = [settings["default_queue_id"]] if settings.get("default_queue_id") else []

    def walk(options: list, depth: int) -> None:
        if not isinstance(options, list) or not options or depth > 3:
            raise Invalid("menu: a non-empty list of {label, queue_id} or {label, options}, at most 3 levels",
                          field="settings.menu")
        for opt in options:
            if not isinstance(opt, dict) or not str(opt.get("label", "")).strip():
                raise Invalid("menu: every option needs a label", field="settings.menu")
            if "options" in opt:
                walk(opt["options"], depth + 1)
            elif isinstance(opt.get("queue_id"), int):
                queue_ids.append(opt["queue_id"])
            else:
                raise Invalid(f"menu: option {opt['label']!r} needs a queue_id or options", field="settings.menu")

    if settings.get("menu"):
        walk(settings["menu"], 1)
    for qid in queue_ids:
        if not tx.value("SELECT 1 FROM queues WHERE id = ? AND tenant_id = ?", (qid, tenant_id)):
            raise NotFound(f"no queue {qid}", id=qid)


def _update_cloud(tx: Tx, row: dict[str, Any], cloud: dict[str, Any]) -> list[str]:
    """Apply a cloud patch (any field; a secret given is a rotation); the names of the fields that
    changed, for the audit (never their values)."""
    if row["kind"] != "cloud":
        raise Invalid("cloud settings are for kind cloud only", field="cloud")
    patch = cloud_accounts.normalize(cloud)
    current = cloud_accounts.get(tx, row["id"])
    if current is None:
        raise NotFound(f"cloud connection {row['id']} has no account", id=row["id"])
    if not patch:
        return []
    cloud_accounts.check(tx, row["tenant_id"], {k: current[k] for k in cloud_accounts.FIELDS} | patch, row["id"])
    changed = {k: v for k, v in patch.items() if v != current[k]}
    if changed:
        cloud_accounts.update(tx, row["id"], changed)
    return sorted(changed)


def update(tx: Tx, actor: Actor, connection_id: int, changes: dict[str, Any],
           settings: dict[str, Any] | None = None, cloud: dict[str, Any] | None = None) -> dict[str, Any]:
    """Change a number; ``cloud`` (a patch of its account) is applied as a whole or not at all, and
    the answer's ``cloud_changed`` names what changed (the caller restarts the channel then)."""
    row = _get(tx, actor.tenant_id, connection_id)
    if settings is not None:
        _check_settings(tx, row["tenant_id"], settings)
        merged = {**row["settings"], **settings}  # a key given as None goes back to its default
        changes["settings"] = dumps({k: v for k, v in merged.items() if v is not None})
    cloud_changed = _update_cloud(tx, row, cloud) if cloud is not None else []
    if changes.get("is_default"):
        tx.execute("UPDATE connections SET is_default = 0 WHERE tenant_id = ?", (row["tenant_id"],))
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE connections SET {sets}, updated_at = ? WHERE id = ?",
                   (*changes.values(), tx.now, connection_id))
    tx.audit(actor, "connection.update", "connection", connection_id,
             **{k: v for k, v in changes.items() if k != "settings"}, **({"settings": settings} if settings else {}),
             **({"cloud": cloud_changed} if cloud_changed else {}))
    return {**_get(tx, row["tenant_id"], connection_id), "cloud_changed": cloud_changed}


def logout_cloud(tx: Tx, actor: Actor, connection_id: int) -> None:
    """A cloud number has no linked device to unlink: logging it out forgets its access token (its
    channel already stopped), so it stays out, daemon restarts included, until an admin sets one."""
    row = _get(tx, actor.tenant_id, connection_id)
    cloud_accounts.forget_token(tx, connection_id)
    tx.execute("UPDATE connections SET status = 'logged_out', status_reason = ?, updated_at = ? WHERE id = ?",
               (LOGGED_OUT, tx.now, connection_id))
    tx.audit(actor, "connection.logout", "connection", connection_id)
    tx.emit(row["tenant_id"], "connection.updated", {"id": connection_id, "status": "logged_out",
                                                     "reason": LOGGED_OUT})


def delete(tx: Tx, actor: Actor, connection_id: int) -> dict[str, Any]:
    row = _get(tx, actor.tenant_id, connection_id)
    if tx.value("SELECT 1 FROM tickets WHERE connection_id = ? LIMIT 1", (connection_id,)):
        raise Conflict("this connection has tickets; it can be logged out but not deleted")
    tx.execute("DELETE FROM connections WHERE id = ?", (connection_id,))
    tx.audit(actor, "connection.delete", "connection", connection_id, name=row["name"])
    return row


def advice(row: dict[str, Any]) -> str:
    """What an admin can do about the number's final state, in its kind's words ("" otherwise)."""
    words = CLOUD_ADVICE if row["kind"] == "cloud" else ADVICE
    return words.get(row["status"], "").replace("<id>", str(row["id"]))


def _with_health(channels: Channels, row: dict[str, Any], account: dict[str, Any] | None = None) -> dict[str, Any]:
    """The row, its live health (with WhatsApp's history/offline sync progress where the channel
    tracks it), what an admin can do about a final state and, for a cloud number, its account
    (secrets as hints) and where Meta's webhooks go."""
    channel = channels.get(row["id"])
    health = channel.health() if channel else None
    sync = getattr(channel, "sync", None)
    if health is not None and sync is not None:
        health = {**health, "sync": sync.view()}
    out = {**with_json(row, "settings"), "running": channel is not None, "health": health, "advice": advice(row)}
    if row["kind"] == "cloud":
        view = cloud_accounts.view(account, health)
        out["cloud"] = None if view is None else {**view, "display_phone": view["display_phone"] or row["phone"],
                                                  "webhook_path": WEBHOOK_PATH}
    return out


async def get(db: Database, channels: Channels, actor: Actor, connection_id: int) -> dict[str, Any]:
    row = await db.one("SELECT * FROM connections WHERE id = ? AND tenant_id = ?", (connection_id, actor.tenant_id))
    if row is None:
        raise NotFound(f"no connection {connection_id}", id=connection_id)
    account = await db.one("SELECT * FROM cloud_accounts WHERE connection_id = ?", (connection_id,))
    return _with_health(channels, row, account)


async def list_connections(db: Database, channels: Channels, actor: Actor) -> list[dict[str, Any]]:
    rows = await db.all("SELECT * FROM connections WHERE tenant_id = ? ORDER BY id", (actor.tenant_id,))
    accounts = {a["connection_id"]: a for a in await db.all("SELECT * FROM cloud_accounts WHERE tenant_id = ?",
                                                            (actor.tenant_id,))}
    return [_with_health(channels, row, accounts.get(row["id"])) for row in rows]
