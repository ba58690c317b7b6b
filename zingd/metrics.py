"""Prometheus metrics: latency histograms observed as work happens, and counters read at scrape time.

One ``Metrics`` per daemon, built in ``zingd/app.py`` and handed to the parts that time
their work (``parts.metrics``, the inbound flow, the outbox), each histogram in the daemon's
own registry, so two daemons in one process (tests) never share a series. ``GET /metrics``
renders the registry.

No series carries a tenant label: the endpoint is the operator's, and a label per tenant
would both grow without bound and tell every scraper who the tenants are and how busy.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from zingd.rpc.parts import Parts
    from zingd.rpc.server import RpcServer
    from zingd.services.inbound import Inbound
    from zingd.workers.outbox import Outbox

# Seconds, from well under the 1 ms goal of list calls to the 5 s where a caller gives up.
LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Seconds a message waits in the outbox: nothing, a rate limit, backoff, a number offline for hours.
QUEUED = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
# Daemon-wide pending tickets, tenant by tenant (CROSS JOIN keeps tenants the outer loop) on the
# pending-list index (tenant_id, status, ..., id): no ticket row is read but the oldest one's
# (ids grow with created_at). tests/integration/test_http.py checks the plan.
WAITING = ("SELECT w.n, t.created_at AS oldest FROM (SELECT count(*) AS n, min(k.id) AS first "
           "FROM tenants n CROSS JOIN tickets k "
           "WHERE k.tenant_id = n.id AND k.status = 'pending') w LEFT JOIN tickets t ON t.id = w.first")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.rpc_seconds = Histogram("zing_rpc_seconds", "RPC call latency, by method", ["method"],
                                     buckets=LATENCY, registry=self.registry)
        self.inbound_seconds = Histogram(
            "zing_inbound_commit_seconds", "Inbound message: from its channel handing it over to its commit",
            buckets=LATENCY, registry=self.registry)
        self.outbox_queue_seconds = Histogram(
            "zing_outbox_queue_seconds", "Outbound message: from being queued to each hand-over to its channel",
            buckets=QUEUED, registry=self.registry)
        self._watched = False

    def watch(self, collector) -> None:
        """Add the scrape-time collector once (the HTTP app may be built more than once in tests)."""
        if not self._watched:
            self.registry.register(collector)
            self._watched = True


class ZingCollector:
    """Prometheus metrics computed from the live daemon on each scrape."""

    def __init__(self, parts: Parts, rpc: RpcServer, inbound: Inbound, outbox: Outbox) -> None:
        self.parts, self.rpc, self.inbound, self.outbox = parts, rpc, inbound, outbox

    def collect(self):
        parts, rpc, inbound, outbox = self.parts, self.rpc, self.inbound, self.outbox
        yield CounterMetricFamily("zing_inbound_messages", "Inbound messages stored", value=inbound.ingested)
        yield CounterMetricFamily("zing_inbound_duplicates", "Redelivered inbound messages ignored",
                                  value=inbound.duplicates)
        yield CounterMetricFamily("zing_outbox_sent", "Messages accepted by a channel", value=outbox.sent)
        yield CounterMetricFamily("zing_outbox_failed", "Messages failed for good", value=outbox.failed)
        yield CounterMetricFamily("zing_rpc_calls", "RPC calls served", value=rpc.calls)
        yield CounterMetricFamily("zing_db_commits", "Group commits", value=parts.db.commits)
        yield CounterMetricFamily("zing_db_units", "Units of work committed", value=parts.db.units)
        yield CounterMetricFamily("zing_webhook_deliveries", "Webhook events delivered", value=parts.webhooks.delivered)
        yield GaugeMetricFamily("zing_subscribers", "Live event subscribers", value=parts.bus.subscriber_count)
        yield GaugeMetricFamily("zing_event_seq", "Last event sequence number", value=parts.bus.last_seq)
        states = GaugeMetricFamily("zing_connection_up", "1 when a number is connected", labels=["connection"])
        for cid in parts.channels.ids():
            states.add_metric([str(cid)], 1.0 if parts.channels.is_connected(cid) else 0.0)
        yield states
        parked = GaugeMetricFamily("zing_inbound_parked", "Inbound events parked after a failure, waiting for a "
                                   "replay", labels=["connection"])
        for cid in parts.channels.ids():
            channel = parts.channels.get(cid)
            health = channel.health() if channel is not None else {}
            if "parked" in health:
                parked.add_metric([str(cid)], float(health["parked"]))
        yield parked
        pending, oldest = self._waiting()
        yield GaugeMetricFamily("zing_tickets_pending", "Tickets waiting for an agent, all tenants", value=pending)
        yield GaugeMetricFamily("zing_tickets_pending_oldest_seconds",
                                "Age of the oldest ticket waiting for an agent, all tenants (0 with none)",
                                value=max(0.0, parts.clock() - oldest) if oldest is not None else 0.0)

    def _waiting(self) -> tuple[int, float | None]:
        """Pending tickets and the oldest one's created_at, read on the scrape's own connection.

        ``collect`` cannot await, so this runs on the loop: one index-only pass over the pending
        entries of each tenant (~0.1 ms per thousand pending) on a read-only connection opened and
        closed per scrape, which leaves nothing to close when the daemon stops."""
        uri = f"{self.parts.settings.db_path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=1.0)
        try:
            n, oldest = conn.execute(WAITING).fetchone()
        finally:
            conn.close()
        return n, oldest
