"""Reports and the live panel: what supervisors open every morning, read from indexes.

A period is ``[since, until)`` in epoch seconds. Its tickets are those created in it: each ticket
counts once, in the period (and day, hour) it came in, with all it went through since. Per ticket,
in wall-clock seconds:

- wait (TME): created -> accepted;      first response: created -> an agent's first message;
- handling (TMA): accepted -> closed;   resolution: created -> closed (the last close);
- reopened: it has a 'reopen' in ticket_log; the reopen rate is reopened / tickets closed at least
  once (closed now, or reopened); transfers: its 'transfer' entries; CSAT: its 1-5 rating;
- SLA breaches: tickets.breached_first_response / breached_resolution (schema v16);
- messages in / out: the ticket's messages.

A group's figures are those of its tickets as they are now (their agent, queue, number, tags). The
summary's ``messages`` is the traffic instead: every message stored in the period, whichever ticket.
Days and hours are the company's (tenants.timezone): SQLite knows no zones, so the zone's UTC
offsets over the period become one CASE over the timestamp (a zone changes its offset a few times a
year at most). A report is one pass over the period's tickets (an index range, schema_015.sql) that
groups them every way asked at once; the fine groups (agent x queue x number) are summed up here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from zingd.actor import Actor
from zingd.errors import Invalid, NotFound
from zingd.services import hours

if TYPE_CHECKING:
    from zingd.store.db import Database

DAY = 86400
DEFAULT_PERIOD_S = 30 * DAY
MAX_SERIES_DAYS = 1000  # a series' rows are filled for every bucket: bound them
GROUPS = {"agent": "user_id", "queue": "queue_id", "connection": "connection_id", "tag": "tag_id"}

# One pass over the period's tickets: sums and counts, so groups add up exactly (averages last).
_TICKET_SUMS = (
    "count(*) AS tickets, sum(status = 'pending') AS pending, sum(status = 'open') AS open, "
    "sum(status = 'closed') AS closed, "
    "sum(accepted_at - created_at) AS wait_sum, count(accepted_at) AS wait_n, "
    "sum(first_response_at - created_at) AS first_response_sum, count(first_response_at) AS first_response_n, "
    "sum(closed_at - accepted_at) AS handling_sum, count(closed_at - accepted_at) AS handling_n, "
    "sum(closed_at - created_at) AS resolution_sum, count(closed_at) AS resolution_n, "
    "sum(reopened) AS reopened, sum(closed_at IS NOT NULL OR reopened) AS closed_ever, "
    "sum(transfers) AS transfers, count(rating) AS ratings, sum(rating) AS rating_sum, "
    + "".join(f"sum(rating = {n}) AS csat_{n}, " for n in range(1, 6))
    + "sum(bfr) AS breached_first_response, sum(bres) AS breached_resolution, "
    "sum(mi) AS messages_in, sum(mo) AS messages_out"
)
_SUMMED = ("tickets", "pending", "open", "closed", "wait_sum", "wait_n", "first_response_sum", "first_response_n",
           "handling_sum", "handling_n", "resolution_sum", "resolution_n", "reopened", "closed_ever", "transfers",
           "ratings", "rating_sum", *(f"csat_{n}" for n in range(1, 6)), "breached_first_response",
           "breached_resolution", "messages_in", "messages_out")
_AVERAGES = (("avg_wait_s", "wait"), ("avg_first_response_s", "first_response"), ("avg_handling_s", "handling"),
             ("avg_resolution_s", "resolution"))


# -- the company's clock ---------------------------------------------------------------------
async def tenant_zone(db: Database, tenant_id: int) -> tuple[str, ZoneInfo]:
    name = await db.value("SELECT timezone FROM tenants WHERE id = ?", (tenant_id,))
    if name is None:
        raise NotFound(f"no tenant {tenant_id}", id=tenant_id)
    try:
        return name, hours.zone(name)
    except Invalid:
        return "UTC", ZoneInfo("UTC")


def _offset(zone: ZoneInfo, ts: float) -> int:
    return int(datetime.fromtimestamp(ts, zone).utcoffset().total_seconds())


def offsets(zone: ZoneInfo, since: float, until: float) -> list[tuple[int, int]]:
    """(from epoch second, UTC offset) for each stretch of one offset in ``[since, until)``: a day
    at a time, the second of each change found by bisection."""
    start = int(since)
    segments = [(start, _offset(zone, start))]
    t = start
    while t < until:
        nxt = min(t + DAY, int(until) + 1)
        if _offset(zone, nxt) != segments[-1][1]:
            lo, hi = t, nxt  # the offset at lo is the old one, at hi the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset(zone, mid) == segments[-1][1] else (lo, mid)
            segments.append((hi, _offset(zone, hi)))
        t = nxt
    return segments


def local_seconds(col: str, segments: list[tuple[int, int]]) -> str:
    """SQL: ``col`` (epoch seconds) as whole seconds of the company's wall clock since 1970."""
    off = str(segments[-1][1])
    if len(segments) > 1:
        cases = " ".join(f"WHEN {col} < {start} THEN {prev}"
                         for (start, _), (_, prev) in zip(segments[1:], segments[:-1], strict=True))
        off = f"CASE {cases} ELSE {off} END"
    return f"CAST({col} + ({off}) AS INTEGER)"


def bucket_sql(by: str, col: str, segments: list[tuple[int, int]]) -> str:
    """SQL: the local day (days since 1970-01-01) or hour of day (0-23) of ``col``."""
    local = local_seconds(col, segments)
    return f"({local} / {DAY})" if by == "day" else f"(({local} % {DAY}) / 3600)"


def bucket_labels(by: str, zone: ZoneInfo, since: float, until: float) -> list[tuple[int, str]]:
    """Every bucket of the period, in order: (the value ``bucket_sql`` gives, its label)."""
    if by == "hour":
        return [(h, f"{h:02d}") for h in range(24)]
    first = datetime.fromtimestamp(since, zone).date()
    last = datetime.fromtimestamp(max(since, until - 1e-6), zone).date()
    epoch = date(1970, 1, 1)
    return [((d - epoch).days, d.isoformat()) for d in (first + timedelta(n) for n in range((last - first).days + 1))]


# -- the passes ------------------------------------------------------------------------------
def _parts(parts: dict[str, list[str]]) -> str:
    """One GROUP BY per part (keys: user_id, queue_id, connection_id, tag_id, bucket) over the
    cohort, as one statement (UNION ALL): the tickets, their timelines and messages are
    read once for every grouping. Rows: {part, k0, k1.., sums}, keys a part lacks NULL."""
    width = max(len(keys) for keys in parts.values())
    selects = []
    for name, keys in parts.items():
        cols = ["tt.tag_id" if k == "tag_id" else f"c.{k}" for k in keys]
        padded = [*(f"{c} AS k{i}" for i, c in enumerate(cols)), *(f"NULL AS k{i}" for i in range(len(cols), width))]
        tags = " JOIN ticket_tags tt ON tt.ticket_id = c.id" if "tag_id" in keys else ""
        group = f" GROUP BY {', '.join(cols)}" if cols else ""
        selects.append(f"SELECT '{name}' AS part, {', '.join([*padded, _TICKET_SUMS])} FROM cohort c{tags}{group}")
    return " UNION ALL ".join(selects)


async def _ticket_pass(db: Database, args: tuple, parts: dict[str, list[str]],
                       bucket: str | None = None) -> list[dict[str, Any]]:
    """The period's tickets summed per part's keys. Per ticket, its transfers, reopen and messages
    are counted on indexes alone (ix_ticket_log_action, ix_messages_ticket): a few entries each."""
    cohort = (
        "SELECT t.id, t.user_id, t.queue_id, t.connection_id, t.status, t.created_at, t.accepted_at, "
        "t.first_response_at, t.closed_at, t.rating, t.breached_first_response AS bfr, "
        "t.breached_resolution AS bres, "
        "(SELECT count(*) FROM ticket_log l WHERE l.ticket_id = t.id AND l.action = 'transfer') AS transfers, "
        "EXISTS (SELECT 1 FROM ticket_log l WHERE l.ticket_id = t.id AND l.action = 'reopen') AS reopened, "
        "(SELECT count(*) FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'in') AS mi, "
        "(SELECT count(*) FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'out') AS mo"
        + (f", {bucket} AS bucket" if bucket else "") +
        " FROM tickets t WHERE t.tenant_id = ? AND t.created_at >= ? AND t.created_at < ?")
    # computed once for several groupings; for one, folded into it (no temporary table: ~25% faster)
    once = "MATERIALIZED" if len(parts) > 1 else "NOT MATERIALIZED"
    return await db.all(f"WITH cohort AS {once} ({cohort}) {_parts(parts)}", args)


def _empty() -> dict[str, Any]:
    return dict.fromkeys(_SUMMED, 0)


def _add(acc: dict[str, Any], row: dict[str, Any]) -> None:
    for k in _SUMMED:
        if row.get(k):
            acc[k] += row[k]


def _finish(acc: dict[str, Any]) -> dict[str, Any]:
    """Sums and counts to the figures: averages, the reopen rate."""
    out = {k: acc[k] for k in ("tickets", "pending", "open", "closed")}
    for name, part in _AVERAGES:
        out[name] = acc[f"{part}_sum"] / acc[f"{part}_n"] if acc[f"{part}_n"] else None
    out["reopened"] = acc["reopened"]
    out["reopen_rate"] = acc["reopened"] / acc["closed_ever"] if acc["closed_ever"] else None
    out["transfers"] = acc["transfers"]
    out["ratings"] = acc["ratings"]
    out["avg_rating"] = acc["rating_sum"] / acc["ratings"] if acc["ratings"] else None
    for k in (*(f"csat_{n}" for n in range(1, 6)), "breached_first_response", "breached_resolution",
              "messages_in", "messages_out"):
        out[k] = acc[k]
    return out


def _rollup(rows: list[dict[str, Any]], key: Any, into: dict[Any, dict[str, Any]]) -> None:
    """Add each fine row to the group ``key(row)`` gives."""
    for row in rows:
        _add(into.setdefault(key(row), _empty()), row)


NAMED = {"agent": "users", "queue": "queues", "connection": "connections", "tag": "tags"}


async def _names(db: Database, tenant_id: int, groups: tuple[str, ...] = tuple(NAMED)) -> dict[str, dict[int, str]]:
    """id -> name of the tenant's users, queues, numbers and tags (each a short list); only ``groups``."""
    out: dict[str, dict[int, str]] = {}
    for group in groups:
        rows = await db.all(f"SELECT id, name FROM {NAMED[group]} WHERE tenant_id = ?", (tenant_id,))
        out[group] = {r["id"]: r["name"] for r in rows}
    return out


def period(since: float | None, until: float | None, now: float) -> tuple[float, float]:
    """The period asked for: by default the last 30 days up to now; from a ``since`` still to come
    and no ``until``, an empty one (nothing was created yet)."""
    since = since if since is not None else now - DEFAULT_PERIOD_S
    if until is None:
        return since, max(now + 1, since)
    if until <= since:
        raise Invalid("until must be after since", field="until")
    return since, until


# -- report.summary --------------------------------------------------------------------------
async def summary(db: Database, actor: Actor, since: float | None, until: float | None, now: float,
                  tenant_id: int | None = None) -> dict[str, Any]:
    """The period's figures: in all, per agent, queue, number and tag; the messages in, out, failed."""
    tenant = actor.tenant(tenant_id)
    zone_name, _ = await tenant_zone(db, tenant)
    since, until = period(since, until, now)
    args = (tenant, since, until)
    parts = {"fine": ["user_id", "queue_id", "connection_id"], "tag": ["tag_id"]}
    rows = await _ticket_pass(db, args, parts)
    fine = [r for r in rows if r["part"] == "fine"]
    tagged = [r for r in rows if r["part"] == "tag"]
    names = await _names(db, tenant)
    total: dict[Any, dict[str, Any]] = {}
    per: dict[str, dict[Any, dict[str, Any]]] = {g: {} for g in ("agent", "queue", "connection", "tag")}
    _rollup(fine, lambda r: None, total)
    _rollup(fine, lambda r: r["k0"], per["agent"])
    _rollup(fine, lambda r: r["k1"], per["queue"])
    _rollup(fine, lambda r: r["k2"], per["connection"])
    _rollup(tagged, lambda r: r["k0"], per["tag"])

    def rows(group: str, id_key: str, name_key: str, keep_none: bool) -> list[dict[str, Any]]:
        out = [{id_key: gid, name_key: names[group].get(gid), **_finish(acc)}
               for gid, acc in per[group].items() if keep_none or gid is not None]
        return sorted(out, key=lambda r: (-r["tickets"], -r["messages_in"], r[name_key] or ""))

    traffic = await db.one(
        "SELECT ifnull(sum(direction = 'in'), 0) AS inbound, ifnull(sum(direction = 'out'), 0) AS outbound "
        "FROM messages WHERE tenant_id = ? AND created_at >= ? AND created_at < ?", args)
    traffic["failed"] = await db.value("SELECT count(*) FROM messages WHERE tenant_id = ? AND created_at >= ? "
                                       "AND created_at < ? AND ack = 'failed'", args)
    overall = _finish(total.get(None, _empty()))
    return {
        "since": since, "until": until, "timezone": zone_name, "total": overall,
        "agents": rows("agent", "user_id", "user_name", False),
        "queues": rows("queue", "queue_id", "queue_name", True),
        "connections": rows("connection", "connection_id", "connection_name", False),
        "tags": rows("tag", "tag_id", "tag_name", False),
        "messages": traffic,
    }


# -- report.series ---------------------------------------------------------------------------
async def series(db: Database, actor: Actor, since: float | None, until: float | None, by: str,
                 group: str | None, now: float, tenant_id: int | None = None) -> dict[str, Any]:
    """The period's figures per local day (every day of it) or hour of day (00-23), optionally per
    agent, queue, number or tag: one row per bucket (and group), empty buckets included."""
    tenant = actor.tenant(tenant_id)
    zone_name, zone = await tenant_zone(db, tenant)
    since, until = period(since, until, now)
    if until - since > MAX_SERIES_DAYS * DAY:
        raise Invalid(f"a series spans at most {MAX_SERIES_DAYS} days", field="since")
    segments = offsets(zone, since, until)
    args = (tenant, since, until)
    parts = {"series": ["bucket", *([GROUPS[group]] if group else [])]}
    rows = await _ticket_pass(db, args, parts, bucket_sql(by, "t.created_at", segments))
    sums: dict[Any, dict[str, Any]] = {}
    _rollup(rows, lambda r: (r["k0"], r.get("k1")), sums)
    names = (await _names(db, tenant, (group,)))[group] if group else {}
    groups = sorted({g for _, g in sums}, key=lambda g: (g is None, names.get(g) or "", g or 0)) or [None]
    rows = [{"bucket": label, "group_id": g, "group_name": names.get(g), **_finish(sums.get((value, g), _empty()))}
            for value, label in bucket_labels(by, zone, since, until) for g in groups]
    return {"since": since, "until": until, "timezone": zone_name, "by": by, "group": group, "rows": rows}


# -- report.live -----------------------------------------------------------------------------
async def live(db: Database, actor: Actor, now: float, tenant_id: int | None = None) -> dict[str, Any]:
    """Now: each agent's load and last reply, what waits in each queue, each number's state and outbox."""
    tenant = actor.tenant(tenant_id)
    await tenant_zone(db, tenant)  # NotFound for a tenant that isn't there
    agents = await db.all(
        "SELECT u.id, u.name, u.role, u.status, u.max_tickets, "
        "(SELECT count(*) FROM tickets t WHERE t.tenant_id = u.tenant_id AND t.user_id = u.id "
        " AND t.status = 'open') AS open_tickets, "
        "(SELECT max(m.created_at) FROM messages m WHERE m.user_id = u.id) AS last_reply_at "
        "FROM users u WHERE u.tenant_id = ? AND u.enabled = 1 AND u.is_bot = 0 ORDER BY u.name, u.id", (tenant,))
    for a in agents:
        a["since_last_reply_s"] = max(0.0, now - a["last_reply_at"]) if a["last_reply_at"] is not None else None
    waiting = await db.all(
        "SELECT queue_id, count(*) AS waiting, min(created_at) AS oldest_at FROM tickets "
        "WHERE tenant_id = ? AND status = 'pending' GROUP BY queue_id", (tenant,))
    breaches = {r["queue_id"]: r["n"] for r in await db.all(
        "SELECT queue_id, count(*) AS n FROM tickets WHERE tenant_id = ? AND status IN ('pending', 'open') "
        "AND (breached_first_response = 1 OR breached_resolution = 1) GROUP BY queue_id", (tenant,))}
    by_queue = {r["queue_id"]: r for r in waiting}
    queues = [{"id": q["id"], "name": q["name"]} for q in await db.all(
        "SELECT id, name FROM queues WHERE tenant_id = ? ORDER BY name, id", (tenant,))]
    if None in by_queue or None in breaches:  # pending in the menu, before any queue
        queues.append({"id": None, "name": None})
    for q in queues:
        w = by_queue.get(q["id"]) or {}
        q["waiting"] = w.get("waiting", 0)
        q["oldest_wait_s"] = max(0.0, now - w["oldest_at"]) if w.get("oldest_at") is not None else None
        q["breaches"] = breaches.get(q["id"], 0)
    numbers = await db.all(
        "SELECT c.id, c.name, c.kind, c.status AS state, c.status_reason, "
        "(SELECT count(*) FROM outbox o WHERE o.connection_id = c.id) AS outbox "
        "FROM connections c WHERE c.tenant_id = ? ORDER BY c.name, c.id", (tenant,))
    return {"at": now, "agents": agents, "queues": queues, "numbers": numbers}
