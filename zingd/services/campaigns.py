"""Campaigns: a list of contacts, message variants, numbers to send from, and a state.

draft -> (start) -> scheduled | running -> paused <-> running -> done | cancelled
Recipients are fixed when the campaign is created (opted-out contacts are kept,
as ``opted_out``, so they are counted and never sent to). Each recipient moves
pending -> queued (its message stored, in one transaction) -> sent -> delivered
-> read, or failed / skipped / opted_out. Nothing is sent before ``start``.

On a cloud number (the Cloud API) a recipient outside WhatsApp's 24-hour window
(``services/window.py``) can only get an approved template: a campaign that would
reach one without a template is refused before it starts, and with a template every
recipient on a cloud number gets it, its parameters rendered per recipient; other
numbers send the text variants.
"""

from __future__ import annotations

import random
from typing import Any

from zingd.actor import Actor
from zingd.errors import ChannelDown, Conflict, Invalid, NotFound
from zingd.services import outreach, templates, window
from zingd.services.contact_import import Parsed
from zingd.services.contacts import import_rows
from zingd.services.outbound import media_type, queue_outbound
from zingd.store import connections
from zingd.store import contacts as C
from zingd.store.db import Database, Tx
from zingd.store.rows import dumps, in_list, loads, with_json

STATES = ("pending", "queued", "sent", "delivered", "read", "failed", "skipped", "opted_out")
ACTIVE = ("scheduled", "running")


def _get(tx: Tx, tenant_id: int, campaign_id: int) -> dict[str, Any]:
    row = with_json(tx.one(CAMPAIGN, (campaign_id, tenant_id)), *JSON_COLUMNS)
    if row is None:
        raise NotFound(f"no campaign {campaign_id}", id=campaign_id)
    return row


COUNTS = "SELECT state, count(*) AS n FROM campaign_recipients WHERE campaign_id = ? GROUP BY state"
CAMPAIGN = "SELECT * FROM campaigns WHERE id = ? AND tenant_id = ?"
JSON_COLUMNS = ("connection_ids", "variants", "settings", "template")


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    out = dict.fromkeys(STATES, 0)
    out.update({r["state"]: r["n"] for r in rows})
    out["total"] = sum(out[s] for s in STATES)
    return out


def summary(tx: Tx, tenant_id: int, campaign_id: int) -> dict[str, Any]:
    return {**_get(tx, tenant_id, campaign_id), "counts": _counts(tx.all(COUNTS, (campaign_id,)))}


async def read_summary(db: Database, tenant_id: int, campaign_id: int) -> dict[str, Any]:
    row = with_json(await db.one(CAMPAIGN, (campaign_id, tenant_id)), *JSON_COLUMNS)
    if row is None:
        raise NotFound(f"no campaign {campaign_id}", id=campaign_id)
    return {**row, "counts": _counts(await db.all(COUNTS, (campaign_id,)))}


def emit(tx: Tx, tenant_id: int, campaign_id: int) -> dict[str, Any]:
    row = summary(tx, tenant_id, campaign_id)
    tx.emit(tenant_id, "campaign.updated", {"campaign": row})
    return row


# -- choosing recipients ------------------------------------------------------
def resolve_contacts(tx: Tx, actor: Actor, source: dict[str, Any], parsed: Parsed | None) -> list[dict[str, Any]]:
    """The contacts a campaign goes to, from exactly one source: contact_ids, tag, csv or filter."""
    tenant = actor.tenant_id
    if source.get("contact_ids"):
        ids = sorted(set(source["contact_ids"]))
        rows = tx.all(f"SELECT * FROM contacts WHERE tenant_id = ? AND id IN {in_list(ids)}", (tenant, *ids))
        missing = sorted(set(ids) - {r["id"] for r in rows})
        if missing:
            raise NotFound(f"no contact(s) {missing}", ids=missing)
        return rows
    if source.get("tag"):
        tag_id = tx.value("SELECT id FROM tags WHERE tenant_id = ? AND name = ?", (tenant, source["tag"]))
        if tag_id is None:
            raise NotFound(f"no tag {source['tag']!r}", field="tag")
        return tx.all("SELECT c.* FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id "
                      "WHERE ct.tag_id = ? ORDER BY c.id", (tag_id,))
    if parsed is not None:
        if parsed.errors:
            raise Invalid(f"{len(parsed.errors)} invalid CSV row(s); fix them first", invalid=parsed.errors[:50])
        import_rows(tx, actor, parsed, dry_run=False, skip_invalid=False)
        numbers = [r["number"] for r in parsed.rows]
        return tx.all(f"SELECT * FROM contacts WHERE tenant_id = ? AND number IN {in_list(numbers)} ORDER BY id",
                      (tenant, *numbers))
    if source.get("filter") is not None:
        f = source["filter"]
        where, args = ["c.tenant_id = ?", "c.is_group = 0"], [tenant]
        if f.get("tag"):
            where.append("c.id IN (SELECT ct.contact_id FROM contact_tags ct JOIN tags g ON g.id = ct.tag_id "
                         "WHERE g.tenant_id = ? AND g.name = ?)")
            args += [tenant, f["tag"]]
        for key, value in (f.get("fields") or {}).items():
            where.append("json_extract(c.custom_fields, ?) = ?")
            args += [f"$.{key}", value]
        return tx.all(f"SELECT c.* FROM contacts c WHERE {' AND '.join(where)} ORDER BY c.id", args)
    raise Invalid("choose recipients: contact_ids, tag, csv or filter", field="recipients")


# -- templates on cloud numbers ---------------------------------------------------------------
def _template(tx: Tx, tenant_id: int, given: dict[str, Any] | None, cloud_ids: list[int]) -> dict[str, Any] | None:
    """The campaign's template as stored ({"name", "language", "params"}): named by id, or by name and
    (unless only one language has it) language."""
    if given is None:
        return None
    if not cloud_ids:
        raise Invalid("a template is for cloud numbers, and none of the campaign's numbers is one", field="template")
    params = [str(p) for p in given.get("params") or []]
    if given.get("id") is not None:
        t = templates.get(tx, tenant_id, given["id"])
        return {"name": t["name"], "language": t["language"], "params": params}
    name = str(given.get("name") or "").strip()
    if not name:
        raise Invalid("name the template by id, or by name (and language)", field="template")
    language = str(given.get("language") or "").strip()
    if not language:
        found = [r["language"] for r in tx.all(
            f"SELECT DISTINCT language FROM templates WHERE tenant_id = ? AND name = ? AND connection_id IN "
            f"{in_list(cloud_ids)} AND status != 'DELETED' ORDER BY language", (tenant_id, name, *cloud_ids))]
        if not found:
            raise NotFound(f"no template {name!r} on the campaign's cloud numbers (zingctl templates sync)",
                           field="template.name")
        if len(found) > 1:
            raise Invalid(f"template {name!r} exists in {', '.join(found)}: give its language",
                          field="template.language", languages=found)
        language = found[0]
    return {"name": name, "language": language, "params": params}


def _approved(tx: Tx, tenant_id: int, template: dict[str, Any], connection_id: int) -> dict[str, Any]:
    """The campaign's template on one cloud number, as long as it may be sent there."""
    t = templates.find(tx, tenant_id, connection_id, template["name"], template["language"])
    if t is None:
        raise Conflict(f"template {template['name']} ({template['language']}) is not on cloud number {connection_id}; "
                       f"sync its templates (zingctl templates sync {connection_id})", connection_id=connection_id)
    templates.require_sendable(t, connection_id)
    return t


def check_cloud(tx: Tx, tenant_id: int, connection_ids: list[int], template: dict[str, Any] | None,
                contact_ids: list[int]) -> None:
    """Before anything is sent: on every cloud number, recipients outside the 24-hour window need a
    template, and the template must be approved there, its parameters matching its variables."""
    for cid in connection_ids:
        if not window.is_cloud(tx, cid):
            continue
        if template is None:
            cold = window.cold(tx, cid, contact_ids)
            if cold:
                raise Invalid(f"{cold} recipient(s) have not written to cloud number {cid} in the last 24 hours, "
                              "so WhatsApp only takes an approved template there: give the campaign a template "
                              "(template.list; zingctl campaigns create --template NAME[:LANG])",
                              field="template", cold=cold, connection_id=cid)
            continue
        t = _approved(tx, tenant_id, template, cid)
        if len(template["params"]) != len(t["params"]):
            raise Invalid(f"template {t['name']} takes {len(t['params'])} parameter(s); the campaign gives "
                          f"{len(template['params'])}", field="template.params", wanted=len(t["params"]))


def _plan(tx: Tx, actor: Actor, spec: dict[str, Any], parsed: Parsed | None) -> dict[str, Any]:
    connection_ids = [connections.pick(tx, actor.tenant_id, cid) for cid in spec.get("connection_ids") or [None]]
    cloud_ids = [cid for cid in connection_ids if window.is_cloud(tx, cid)]
    template = _template(tx, actor.tenant_id, spec.get("template"), cloud_ids)
    # only cloud numbers with a template: the template is the message, no text variant is needed
    variants = outreach.check_variants(spec["variants"]) if spec["variants"] or template is None \
        or len(cloud_ids) < len(connection_ids) else []
    contacts = resolve_contacts(tx, actor, spec, parsed)
    contacts = [c for c in contacts if not c["is_group"]]
    if not contacts:
        raise Invalid("the recipient list is empty", field="recipients")
    reachable = [c for c in contacts if not c["opted_out"]]
    problems = outreach.missing_values(variants + (template["params"] if template else []), reachable)
    if problems:
        raise Invalid(f"{len(problems)} recipient(s) have no value for a variable the message uses "
                      f"(e.g. {problems[0]['number']}: {', '.join(problems[0]['missing'])})", missing=problems[:50])
    check_cloud(tx, actor.tenant_id, connection_ids, template, [c["id"] for c in reachable])
    return {"variants": variants, "connection_ids": connection_ids, "contacts": contacts, "reachable": reachable,
            "template": template, "cloud_ids": cloud_ids}


def create(tx: Tx, actor: Actor, spec: dict[str, Any], parsed: Parsed | None) -> dict[str, Any]:
    plan = _plan(tx, actor, spec, parsed)
    media = spec.get("media")
    if not spec["name"].strip():
        raise Invalid("a campaign needs a name", field="name")
    cid = tx.insert("campaigns", {
        "tenant_id": actor.tenant_id, "name": spec["name"].strip(), "status": "draft",
        "connection_ids": dumps(plan["connection_ids"]), "variants": dumps(plan["variants"]),
        "template": dumps(plan["template"]) if plan["template"] else None,
        "media_path": media["media_path"] if media else None, "start_at": spec.get("start_at"),
        "settings": dumps({"media_mime": media["media_mime"], "media_size": media["media_size"],
                           "media_type": media_type(media["media_mime"])} if media else {}),
        "source": spec["source"], "created_by": actor.user_id, "created_at": tx.now, "updated_at": tx.now,
    })
    tx.conn.executemany(
        "INSERT INTO campaign_recipients (campaign_id, contact_id, state, updated_at) VALUES (?, ?, ?, ?)",
        [(cid, c["id"], "opted_out" if c["opted_out"] else "pending", tx.now) for c in plan["contacts"]])
    tx.audit(actor, "campaign.create", "campaign", cid, recipients=len(plan["contacts"]), source=spec["source"])
    return emit(tx, actor.tenant_id, cid)


def preview(tx: Tx, actor: Actor, spec: dict[str, Any], parsed: Parsed | None) -> dict[str, Any]:
    """What create would do; run it with ``Database.dry_run`` so nothing it touches is kept."""
    plan = _plan(tx, actor, spec, parsed)
    rng = random.Random(0)
    template = plan["template"]
    shown = _approved(tx, actor.tenant_id, template, plan["cloud_ids"][0]) if template else None
    sample = []
    for c in plan["reachable"][:20]:
        values = outreach.contact_values(c)
        row: dict[str, Any] = {"contact_id": c["id"], "number": c["number"]}
        if shown is not None:
            row["template"] = templates.rendered(shown, [outreach.render(p, values) for p in template["params"]])[0]
        row["message"] = outreach.render(rng.choice(plan["variants"]), values) if plan["variants"] \
            else row["template"]
        sample.append(row)
    return {"recipients": len(plan["contacts"]), "opted_out": len(plan["contacts"]) - len(plan["reachable"]),
            "to_send": len(plan["reachable"]), "connection_ids": plan["connection_ids"], "sample": sample}


# -- control -------------------------------------------------------------------
def start(tx: Tx, actor: Actor, campaign_id: int, connected: set[int]) -> dict[str, Any]:
    row = _get(tx, actor.tenant_id, campaign_id)
    if row["status"] not in ("draft", "paused"):
        raise Conflict(f"campaign {campaign_id} is {row['status']}; only draft or paused campaigns start",
                       status=row["status"])
    down = [cid for cid in row["connection_ids"] if cid not in connected]
    if down:
        raise ChannelDown(f"connection(s) {down} are not connected; nothing was sent", ids=down)
    pending = [r["contact_id"] for r in tx.all("SELECT contact_id FROM campaign_recipients WHERE campaign_id = ? "
                                               "AND state = 'pending'", (campaign_id,))]
    check_cloud(tx, actor.tenant_id, row["connection_ids"], row["template"], pending)
    status = "scheduled" if row["start_at"] and row["start_at"] > tx.now else "running"
    tx.execute("UPDATE campaigns SET status = ?, stop_reason = '', updated_at = ? WHERE id = ?",
               (status, tx.now, campaign_id))
    tx.audit(actor, "campaign.start", "campaign", campaign_id, status=status)
    return emit(tx, actor.tenant_id, campaign_id)


def pause(tx: Tx, actor: Actor | None, campaign_id: int, reason: str = "", tenant_id: int | None = None) -> dict:
    tenant = actor.tenant_id if actor else tenant_id
    row = _get(tx, tenant, campaign_id)
    if row["status"] not in ACTIVE:
        raise Conflict(f"campaign {campaign_id} is {row['status']}, not running", status=row["status"])
    tx.execute("UPDATE campaigns SET status = 'paused', stop_reason = ?, updated_at = ? WHERE id = ?",
               (reason, tx.now, campaign_id))
    if actor is not None:
        tx.audit(actor, "campaign.pause", "campaign", campaign_id)
    return emit(tx, tenant, campaign_id)


def cancel(tx: Tx, actor: Actor, campaign_id: int) -> dict[str, Any]:
    row = _get(tx, actor.tenant_id, campaign_id)
    if row["status"] in ("done", "cancelled"):
        raise Conflict(f"campaign {campaign_id} is already {row['status']}", status=row["status"])
    tx.execute("UPDATE campaigns SET status = 'cancelled', finished_at = ?, updated_at = ? WHERE id = ?",
               (tx.now, tx.now, campaign_id))
    tx.execute("UPDATE campaign_recipients SET state = 'skipped', updated_at = ? WHERE campaign_id = ? "
               "AND state = 'pending'", (tx.now, campaign_id))
    tx.audit(actor, "campaign.cancel", "campaign", campaign_id)
    return emit(tx, actor.tenant_id, campaign_id)


# -- the runner's units ----------------------------------------------------------
NEXT_RECIPIENT = ("SELECT * FROM campaign_recipients WHERE campaign_id = ? AND state = 'pending' "
                  "ORDER BY id LIMIT 1")
RECENT_OUTCOMES = ("SELECT state FROM campaign_recipients WHERE campaign_id = ? AND state IN "
                   "('sent', 'delivered', 'read', 'failed') ORDER BY queued_at DESC LIMIT ?")


def next_recipient(tx: Tx, campaign_id: int) -> dict[str, Any] | None:
    return tx.one(NEXT_RECIPIENT, (campaign_id,))


def enqueue(tx: Tx, campaign_id: int, recipient_id: int, connection_id: int) -> str:
    """Queue one recipient's message, exactly once: the recipient leaves 'pending' in the same
    transaction that stores the message. Returns the recipient's new state, or 'gone'.
    The message is stored at ``tx.now``."""
    c = tx.one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
    r = tx.one("SELECT * FROM campaign_recipients WHERE id = ?", (recipient_id,))
    if c is None or c["status"] != "running" or r is None or r["state"] != "pending":
        return "gone"
    contact = tx.one("SELECT * FROM contacts WHERE id = ?", (r["contact_id"],))
    if contact["opted_out"]:
        tx.execute("UPDATE campaign_recipients SET state = 'opted_out', updated_at = ? WHERE id = ?",
                   (tx.now, recipient_id))
        emit(tx, c["tenant_id"], campaign_id)
        return "opted_out"
    values = outreach.contact_values(contact)
    if window.is_cloud(tx, connection_id):
        if c["template"]:
            return _enqueue_template(tx, c, recipient_id, connection_id, contact, values)
        if not window.is_open(tx, connection_id, contact["id"]):  # the window closed since the campaign started
            return _settle(tx, c, recipient_id, "skipped",
                           window.closed_message(window.closes_at(tx, connection_id, contact["id"]), tx.now))
    variants = loads(c["variants"])
    index = random.randrange(len(variants))
    body = outreach.render(variants[index], values)
    ticket = outreach.outreach_ticket(tx, c["tenant_id"], connection_id, contact["id"], campaign_id)
    C.map_jid(tx, c["tenant_id"], C.chat_jid(tx, contact), contact["id"])
    media = None
    if c["media_path"]:
        media = {"media_path": c["media_path"], "media_mime": loads(c["settings"]).get("media_mime"),
                 "media_size": loads(c["settings"]).get("media_size")}
    type_ = loads(c["settings"]).get("media_type", "text") if media else "text"
    msg = queue_outbound(tx, ticket, None, body, type_, media, automated=True)
    tx.execute("UPDATE campaign_recipients SET state = 'queued', message_id = ?, variant = ?, connection_id = ?, "
               "queued_at = ?, updated_at = ? WHERE id = ?",
               (msg["id"], index, connection_id, tx.now, tx.now, recipient_id))
    emit(tx, c["tenant_id"], campaign_id)
    return "queued"


def _enqueue_template(tx: Tx, c: dict[str, Any], recipient_id: int, connection_id: int, contact: dict[str, Any],
                      values: dict[str, str]) -> str:
    """The campaign's template, its parameters rendered for this recipient. A template no longer
    approved raises Conflict: the runner pauses the campaign with the reason."""
    spec = loads(c["template"])
    t = _approved(tx, c["tenant_id"], spec, connection_id)
    try:
        filled = templates.check_values(t, [outreach.render(p, values) for p in spec["params"]], "template.params")
    except Invalid as e:  # this contact's values don't fit a parameter (empty, a new line…): only they are left out
        return _settle(tx, c, recipient_id, "failed", e.message)
    body, sent = templates.rendered(t, filled)
    ticket = outreach.outreach_ticket(tx, c["tenant_id"], connection_id, contact["id"], c["id"])
    C.map_jid(tx, c["tenant_id"], C.chat_jid(tx, contact), contact["id"])
    msg = queue_outbound(tx, ticket, None, body, automated=True, template=sent)
    tx.execute("UPDATE campaign_recipients SET state = 'queued', message_id = ?, variant = NULL, connection_id = ?, "
               "queued_at = ?, updated_at = ? WHERE id = ?", (msg["id"], connection_id, tx.now, tx.now, recipient_id))
    emit(tx, c["tenant_id"], c["id"])
    return "queued"


def _settle(tx: Tx, c: dict[str, Any], recipient_id: int, state: str, error: str) -> str:
    tx.execute("UPDATE campaign_recipients SET state = ?, error = ?, updated_at = ? WHERE id = ?",
               (state, error, tx.now, recipient_id))
    emit(tx, c["tenant_id"], c["id"])
    return state


async def using_template(db: Database, template_id: int) -> list[dict[str, Any]]:
    """Running (or scheduled) campaigns that send this template from its number."""
    t = await db.one("SELECT tenant_id, connection_id, name, language FROM templates WHERE id = ?", (template_id,))
    if t is None:
        return []
    return await db.all(
        "SELECT c.id, c.tenant_id FROM campaigns c, json_each(c.connection_ids) j WHERE c.tenant_id = ? "
        "AND c.status IN ('running', 'scheduled') AND j.value = ? AND json_extract(c.template, '$.name') = ? "
        "AND json_extract(c.template, '$.language') = ?",
        (t["tenant_id"], t["connection_id"], t["name"], t["language"]))


def finish(tx: Tx, campaign_id: int) -> None:
    c = tx.one("SELECT tenant_id, status FROM campaigns WHERE id = ?", (campaign_id,))
    if c["status"] == "running" and next_recipient(tx, campaign_id) is None:
        tx.execute("UPDATE campaigns SET status = 'done', finished_at = ?, updated_at = ? WHERE id = ?",
                   (tx.now, tx.now, campaign_id))
        emit(tx, c["tenant_id"], campaign_id)


def begin_scheduled(tx: Tx, campaign_id: int) -> bool:
    c = tx.one("SELECT tenant_id, status FROM campaigns WHERE id = ?", (campaign_id,))
    if c is None or c["status"] != "scheduled":
        return False
    tx.execute("UPDATE campaigns SET status = 'running', updated_at = ? WHERE id = ?", (tx.now, campaign_id))
    emit(tx, c["tenant_id"], campaign_id)
    return True


async def failure_rate(db: Database, campaign_id: int, window: int) -> tuple[float, int]:
    """The share of failures among the campaign's last ``window`` settled sends, and how many there were."""
    rows = await db.all(RECENT_OUTCOMES, (campaign_id, window))
    if not rows:
        return 0.0, 0
    return sum(r["state"] == "failed" for r in rows) / len(rows), len(rows)


async def recipients(db: Database, actor: Actor, campaign_id: int, state: str | None, after_id: int | None,
                     limit: int) -> list[dict[str, Any]]:
    if not await db.value("SELECT 1 FROM campaigns WHERE id = ? AND tenant_id = ?",
                          (campaign_id, actor.tenant_id)):
        raise NotFound(f"no campaign {campaign_id}", id=campaign_id)
    where, args = ["r.campaign_id = ?", "r.id > ?"], [campaign_id, after_id or 0]
    if state:
        where.append("r.state = ?")
        args.append(state)
    return await db.all(
        "SELECT r.id, r.contact_id, c.number, c.name, r.state, r.variant, r.connection_id, r.message_id, r.error, "
        "r.queued_at, r.sent_at, r.delivered_at, r.read_at, r.updated_at FROM campaign_recipients r "
        f"JOIN contacts c ON c.id = r.contact_id WHERE {' AND '.join(where)} ORDER BY r.id LIMIT ?",
        (*args, max(1, min(limit, 10000))))
