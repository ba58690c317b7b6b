"""report.*: the numbers supervisors look at."""

from __future__ import annotations

import msgspec

from zingd.rpc import results as R
from zingd.rpc.registry import REGISTRY
from zingd.rpc.server import Call
from zingd.services import reports


class ReportParams(msgspec.Struct, forbid_unknown_fields=True):
    since: float | None = None
    until: float | None = None


@REGISTRY.method("report.summary", ReportParams, result=R.Report)
async def summary(call: Call, p: ReportParams) -> dict:
    """Tickets by status, per agent and per queue; first response, resolution and rating."""
    return await reports.summary(call.app.db, call.actor, p.since, p.until)
