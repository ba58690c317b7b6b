"""Message templates of the Cloud API: synced from the business account, listed, and sent.

Outside WhatsApp's 24-hour window (``zingd/services/window.py``) a cloud number may only send a
template Meta approved. ``template.sync`` copies the account's templates into ``templates`` (one
row per name and language, per number) with the variables an agent fills: positional ``{{1}}``
and named ``{{first_name}}`` in the body, a text header and URL buttons, in reading order (header,
body, buttons). Template-status webhooks keep ``status`` current between syncs
(``services/inbound.apply_notice``). A template that vanished from the account is kept as
``DELETED``: messages and campaigns still name it.

Sending one stores what went (``messages.template``: name, language, the values and the Graph
``components`` that carry them) beside the rendered text the customer reads.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from zingd.actor import Actor
from zingd.errors import Conflict, Invalid, NotFound
from zingd.store.db import Database, Tx
from zingd.store.rows import dumps, with_json

if TYPE_CHECKING:
    from zingd.channels.manager import Channels

VAR = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MAX_PARAM = 1024        # Meta's limit for a body parameter
LIST_LIMIT = 5000       # more than a business account may hold
MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
COLUMNS = ("id, tenant_id, connection_id, remote_id, name, language, category, status, reason, components, params, "
           "body, synced_at, updated_at")


def _row(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return with_json(row, "components", "params")


# -- variables ---------------------------------------------------------------------------------
def _names(text: str) -> list[str]:
    """A text's variables in the order they are filled: positional ones by number, named ones as
    they appear; each once."""
    found = list(dict.fromkeys(m.group(1) for m in VAR.finditer(text or "")))
    if found and all(n.isdigit() for n in found):
        return sorted(found, key=int)
    return found


def _examples(names: list[str], positional: list[Any] | None, named: list[dict[str, Any]] | None) -> list[str]:
    by_name = {str(p.get("param_name")): str(p.get("example") or "") for p in named or [] if isinstance(p, dict)}
    out = []
    for name in names:
        if name.isdigit():
            i = int(name) - 1
            out.append(str(positional[i]) if positional and 0 <= i < len(positional) else "")
        else:
            out.append(by_name.get(name, ""))
    return out


def _component(components: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in components if str(c.get("type", "")).upper() == kind), None)


def parse_params(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The variables an agent fills, in order: [{"component", "name", "example", "index"}]
    (``index``: a button's position; None elsewhere)."""
    params: list[dict[str, Any]] = []
    header = _component(components, "HEADER")
    if header is not None and str(header.get("format", "TEXT")).upper() == "TEXT":
        example = header.get("example") or {}
        names = _names(header.get("text", ""))
        params += [{"component": "header", "name": n, "example": e, "index": None}
                   for n, e in zip(names, _examples(names, example.get("header_text"),
                                                    example.get("header_text_named_params")))]
    body = _component(components, "BODY")
    if body is not None:
        example = body.get("example") or {}
        rows = example.get("body_text") or [[]]
        names = _names(body.get("text", ""))
        params += [{"component": "body", "name": n, "example": e, "index": None}
                   for n, e in zip(names, _examples(names, rows[0] if rows else [],
                                                    example.get("body_text_named_params")))]
    buttons = _component(components, "BUTTONS")
    for index, button in enumerate((buttons or {}).get("buttons") or []):
        if str(button.get("type", "")).upper() != "URL":
            continue
        url = str(button.get("url", ""))
        for name in _names(url):
            prefix = url.split("{{", 1)[0]
            example = str((button.get("example") or [""])[0])
            params.append({"component": "button", "name": name, "index": index,
                           "example": example[len(prefix):] if example.startswith(prefix) else example})
    return params


def text_of(components: list[dict[str, Any]], kind: str) -> str:
    c = _component(components, kind)
    return str(c.get("text") or "") if c is not None else ""


# -- sync --------------------------------------------------------------------------------------
def _remote(t: dict[str, Any]) -> dict[str, Any] | None:
    """One of Graph's template objects as a row, or None when it lacks a name or language."""
    name, language = str(t.get("name") or ""), str(t.get("language") or "")
    if not name or not language:
        return None
    components = [c for c in t.get("components") or [] if isinstance(c, dict)]
    reason = str(t.get("rejected_reason") or "")
    return {"remote_id": str(t.get("id") or ""), "name": name, "language": language,
            "category": str(t.get("category") or ""), "status": str(t.get("status") or "UNKNOWN").upper(),
            "reason": "" if reason.upper() == "NONE" else reason, "components": components,
            "params": parse_params(components), "body": text_of(components, "BODY")}


def store_sync(tx: Tx, actor: Actor, connection_id: int, fetched: list[dict[str, Any]]) -> dict[str, Any]:
    """Upsert what Graph listed; mark the rest DELETED. Status changes are told (``template.updated``),
    so campaigns using a template that stopped being approved pause."""
    seen, added, updated = set(), 0, 0
    for t in fetched:
        row = _remote(t)
        if row is None or (row["name"], row["language"]) in seen:
            continue
        seen.add((row["name"], row["language"]))
        old = tx.one("SELECT id, status, reason, remote_id, category, components, body FROM templates "
                     "WHERE connection_id = ? AND name = ? AND language = ?",
                     (connection_id, row["name"], row["language"]))
        values = {**row, "components": dumps(row["components"]), "params": dumps(row["params"])}
        if old is None:
            tid = tx.insert("templates", {"tenant_id": actor.tenant_id, "connection_id": connection_id, **values,
                                          "synced_at": tx.now, "updated_at": tx.now})
            added += 1
            _told(tx, actor.tenant_id, tid)
            continue
        changed = any(old[k] != values[k] for k in ("status", "reason", "remote_id", "category", "components", "body"))
        tx.execute("UPDATE templates SET remote_id = ?, category = ?, status = ?, reason = ?, components = ?, "
                   "params = ?, body = ?, synced_at = ?, updated_at = CASE WHEN ? THEN ? ELSE updated_at END "
                   "WHERE id = ?", (values["remote_id"], values["category"], values["status"], values["reason"],
                                    values["components"], values["params"], values["body"], tx.now, changed, tx.now,
                                    old["id"]))
        if changed:
            updated += 1
        if (old["status"], old["reason"]) != (values["status"], values["reason"]):
            _told(tx, actor.tenant_id, old["id"])
    deleted = 0
    for old in tx.all("SELECT id, name, language FROM templates WHERE connection_id = ? AND status != 'DELETED'",
                      (connection_id,)):
        if (old["name"], old["language"]) not in seen:
            tx.execute("UPDATE templates SET status = 'DELETED', reason = 'no longer in the business account', "
                       "synced_at = ?, updated_at = ? WHERE id = ?", (tx.now, tx.now, old["id"]))
            deleted += 1
            _told(tx, actor.tenant_id, old["id"])
    counts = tx.one("SELECT ifnull(sum(status != 'DELETED'), 0) AS total, ifnull(sum(status = 'APPROVED'), 0) "
                    "AS approved FROM templates WHERE connection_id = ?", (connection_id,))
    tx.audit(actor, "template.sync", "connection", connection_id, fetched=len(fetched), added=added,
             updated=updated, deleted=deleted)
    return {"connection_id": connection_id, "fetched": len(fetched), "added": added, "updated": updated,
            "deleted": deleted, **counts}


def _told(tx: Tx, tenant_id: int, template_id: int) -> None:
    t = tx.one("SELECT id, connection_id, name, language, status, reason FROM templates WHERE id = ?", (template_id,))
    tx.emit(tenant_id, "template.updated", t)


async def sync(db: Database, channels: Channels, actor: Actor, connection_id: int) -> dict[str, Any]:
    """Fetch the business account's templates through the number's channel and store them."""
    kind = await db.value("SELECT kind FROM connections WHERE id = ? AND tenant_id = ?",
                          (connection_id, actor.tenant_id))
    if kind is None:
        raise NotFound(f"no connection {connection_id}", id=connection_id)
    if kind != "cloud":
        raise Conflict(f"connection {connection_id} is a {kind} number: only cloud numbers have templates",
                       id=connection_id, connection_kind=kind)
    fetched = await channels.require(connection_id).templates()  # ChannelDown when Meta won't list them
    return await db.write(store_sync, actor, connection_id, fetched)


# -- reading -----------------------------------------------------------------------------------
async def list_templates(db: Database, actor: Actor, connection_id: int | None, status: str | None,
                         query: str | None) -> list[dict[str, Any]]:
    where, args = ["tenant_id = ?"], [actor.tenant_id]
    if connection_id is not None:
        where.append("connection_id = ?")
        args.append(connection_id)
    if status:
        where.append("status = ?")
        args.append(status.upper())
    if query and query.strip():
        like = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(name LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')")
        args += [like, like]
    rows = await db.all(f"SELECT {COLUMNS} FROM templates WHERE {' AND '.join(where)} "
                        "ORDER BY connection_id, name, language LIMIT ?", (*args, LIST_LIMIT))
    return [_row(r) for r in rows]


def get(tx: Tx, tenant_id: int, template_id: int) -> dict[str, Any]:
    row = _row(tx.one(f"SELECT {COLUMNS} FROM templates WHERE id = ? AND tenant_id = ?", (template_id, tenant_id)))
    if row is None:
        raise NotFound(f"no template {template_id}", id=template_id)
    return row


def find(tx: Tx, tenant_id: int, connection_id: int, name: str, language: str) -> dict[str, Any] | None:
    return _row(tx.one(f"SELECT {COLUMNS} FROM templates WHERE tenant_id = ? AND connection_id = ? AND name = ? "
                       "AND language = ?", (tenant_id, connection_id, name, language)))


# -- sending -----------------------------------------------------------------------------------
def require_sendable(t: dict[str, Any], connection_id: int) -> None:
    """Only an approved template of this very number, and one zing can fill, goes out."""
    if t["connection_id"] != connection_id:
        raise Conflict(f"template {t['id']} ({t['name']}, {t['language']}) is connection {t['connection_id']}'s; "
                       f"this message goes from connection {connection_id}", id=t["id"])
    if t["status"] != "APPROVED":
        reason = f": {t['reason']}" if t["reason"] else ""
        raise Conflict(f"template {t['name']} ({t['language']}) is {t['status']}{reason}; only APPROVED templates "
                       "can be sent (zingctl templates sync to refresh)", id=t["id"], status=t["status"])
    header = _component(t["components"], "HEADER")
    if header is not None and str(header.get("format", "TEXT")).upper() in MEDIA_HEADERS:
        raise Conflict(f"template {t['name']} ({t['language']}) has a {header['format'].lower()} header, "
                       "which zing can't fill yet; pick a template with a text header", id=t["id"])


def check_values(t: dict[str, Any], values: list[str], field: str = "params") -> list[str]:
    """Every variable filled, each with one line of at most MAX_PARAM characters (Meta refuses new
    lines, tabs and long runs of spaces in a parameter)."""
    wanted = t["params"]
    if len(values) != len(wanted):
        names = ", ".join(f"{p['component']} {{{{{p['name']}}}}}" for p in wanted) or "none"
        raise Invalid(f"template {t['name']} takes {len(wanted)} parameter(s) ({names}); {len(values)} given",
                      field=field, wanted=len(wanted))
    out = []
    for i, value in enumerate(values):
        value = value.strip()
        where = f"{field}[{i}] ({wanted[i]['component']} {{{{{wanted[i]['name']}}}}})"
        if not value:
            raise Invalid(f"{where} is empty", field=field, index=i)
        if len(value) > MAX_PARAM:
            raise Invalid(f"{where} is {len(value)} characters; the limit is {MAX_PARAM}", field=field, index=i)
        if "\n" in value or "\t" in value or "     " in value:
            raise Invalid(f"{where} may not hold new lines, tabs or more than 4 spaces in a row", field=field,
                          index=i)
        out.append(value)
    return out


def _fill(text: str, values: dict[str, str]) -> str:
    return VAR.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def rendered(t: dict[str, Any], values: list[str]) -> tuple[str, dict[str, Any]]:
    """The text the customer reads (header, body, footer) and ``messages.template``: what is sent."""
    by_part: dict[tuple[str, int | None], dict[str, str]] = {}
    for p, value in zip(t["params"], values, strict=True):
        by_part.setdefault((p["component"], p["index"]), {})[p["name"]] = value
    components: list[dict[str, Any]] = []
    for (part, index), filled in by_part.items():
        parameters = [{"type": "text", "text": v, **({} if n.isdigit() else {"parameter_name": n})}
                      for n, v in filled.items()]
        if part == "button":
            components.append({"type": "button", "sub_type": "url", "index": str(index), "parameters": parameters})
        else:
            components.append({"type": part, "parameters": parameters})
    text = "\n\n".join(s for s in (
        _fill(text_of(t["components"], "HEADER"), by_part.get(("header", None), {})),
        _fill(t["body"], by_part.get(("body", None), {})),
        text_of(t["components"], "FOOTER")) if s)
    return text, {"name": t["name"], "language": t["language"], "params": values, "components": components}
