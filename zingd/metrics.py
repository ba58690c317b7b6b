"""Prometheus metrics: latency histograms observed as work happens, and counters read at scrape time.

One ``Metrics`` per daemon, built in ``zingd/app.py`` and handed to the parts that time
their work (``parts.metrics``), each histogram in the daemon's own registry, so two
daemons in one process (tests) never share a series. ``GET /metrics`` renders the registry.
"""

from __future__ import annotations

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


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.rpc_seconds = Histogram("zing_rpc_seconds", "RPC call latency, by method", ["method"],
                                     buckets=LATENCY, registry=self.registry)
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
