"""report.*: the numbers supervisors look at (the figures are defined in zingd/services/reports.py)."""

from __future__ import annotations

from typing import Literal

import msgspec

from zingd.errors import Invalid, NotFound
from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import reports


# -- params ----------------------------------------------------------------------------------
class ReportParams(msgspec.Struct, forbid_unknown_fields=True):
    since: float | None = None  # default: 30 days ago
    until: float | None = None  # default: now
    tenant_id: int | None = None  # a superadmin's look at another company


class SeriesParams(msgspec.Struct, forbid_unknown_fields=True):
    by: Literal["day", "hour"] = "day"
    group: Literal["agent", "queue", "connection", "tag"] | None = None
    since: float | None = None
    until: float | None = None
    tenant_id: int | None = None


class LiveParams(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: int | None = None


# -- results ---------------------------------------------------------------------------------
class Stats(R.Struct):
    """The figures of a set of tickets (created in the period) and of their messages (sent in it)."""

    tickets: int
    pending: int
    open: int
    closed: int
    avg_wait_s: float | None  # TME: created -> accepted
    avg_first_response_s: float | None  # created -> an agent's first message
    avg_handling_s: float | None  # TMA: accepted -> closed
    avg_resolution_s: float | None  # created -> closed
    reopened: int
    reopen_rate: float | None  # reopened / closed at least once
    transfers: int
    ratings: int
    avg_rating: float | None
    csat_1: int
    csat_2: int
    csat_3: int
    csat_4: int
    csat_5: int
    breached_first_response: int
    breached_resolution: int
    messages_in: int
    messages_out: int


class AgentStats(Stats):
    user_id: int
    user_name: str | None


class QueueStats(Stats):
    queue_id: int | None  # None: tickets in no queue
    queue_name: str | None


class ConnectionStats(Stats):
    connection_id: int
    connection_name: str | None


class TagStats(Stats):
    tag_id: int
    tag_name: str | None


class MessageStats(R.Struct):
    inbound: int
    outbound: int
    failed: int


class Summary(R.Struct):
    since: R.Time
    until: R.Time
    timezone: str
    total: Stats
    agents: list[AgentStats]
    queues: list[QueueStats]
    connections: list[ConnectionStats]
    tags: list[TagStats]
    messages: MessageStats


class SeriesRow(Stats):
    bucket: str  # the local day (2026-11-03) or hour of day (00-23)
    group_id: int | None  # None without a group, or the tickets of no agent / queue
    group_name: str | None


class Series(R.Struct):
    since: R.Time
    until: R.Time
    timezone: str
    by: Literal["day", "hour"]
    group: Literal["agent", "queue", "connection", "tag"] | None
    rows: list[SeriesRow]


class LiveAgent(R.Struct):
    id: int
    name: str
    role: R.Role
    status: Literal["online", "away", "offline"]
    open_tickets: int
    max_tickets: int
    last_reply_at: R.Time | None
    since_last_reply_s: float | None


class LiveQueue(R.Struct):
    id: int | None  # None: pending tickets in no queue yet (the menu)
    name: str | None
    waiting: int
    oldest_wait_s: float | None
    breaches: int  # pending or open tickets past a target


class LiveNumber(R.Struct):
    id: int
    name: str
    kind: Literal["sim", "whatsapp", "cloud"]
    state: str
    status_reason: str
    outbox: int


class Live(R.Struct):
    at: R.Time
    agents: list[LiveAgent]
    queues: list[LiveQueue]
    numbers: list[LiveNumber]


# -- methods ---------------------------------------------------------------------------------
@REGISTRY.method("report.summary", ReportParams, result=Summary, errors=(Invalid, NotFound))
async def summary(call: Call, p: ReportParams) -> dict:
    """The period's tickets in all and per agent, queue, number and tag: waiting (TME), first
    response, handling (TMA) and resolution times, reopens, transfers, ratings, SLA breaches, messages."""
    return await reports.summary(call.app.db, call.actor, p.since, p.until, call.app.clock(), p.tenant_id)


@REGISTRY.method("report.series", SeriesParams, result=Series, errors=(Invalid, NotFound))
async def series(call: Call, p: SeriesParams) -> dict:
    """The same figures per day or per hour of day in the company's time zone, optionally per
    agent, queue, number or tag; every bucket of the period has its row."""
    return await reports.series(call.app.db, call.actor, p.since, p.until, p.by, p.group, call.app.clock(),
                                p.tenant_id)


@REGISTRY.method("report.live", LiveParams, result=Live, errors=(NotFound,))
async def live(call: Call, p: LiveParams) -> dict:
    """Now: agents (status, open tickets of their capacity, time since their last reply), queues
    (waiting, oldest wait, breaches) and numbers (state, outbox depth)."""
    return await reports.live(call.app.db, call.actor, call.app.clock(), p.tenant_id)
