"""Prometheus metrics of one node, in a registry of its own (no process globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["NodeMetrics"]


class _OutboxDepth(Collector):
    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "clearinghouse_outbox_depth", "Views waiting to be delivered, per peer", labels=["peer"]
        )
        for peer, depth in sorted(self._read().items()):
            gauge.add_metric([peer], depth)
        yield gauge


class NodeMetrics:
    def __init__(self, outbox_depth: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.packets_in = Counter(
            "clearinghouse_packets_received",
            "Views received from peers, by result",
            ["peer", "result"],
            registry=self.registry,
        )
        self.packets_rejected = Counter(
            "clearinghouse_packets_rejected",
            "Views refused, by reason code",
            ["reason"],
            registry=self.registry,
        )
        self.packets_issued = Counter(
            "clearinghouse_packets_issued",
            "Packets issued from local records",
            registry=self.registry,
        )
        self.records_rejected = Counter(
            "clearinghouse_records_rejected", "Local records refused", registry=self.registry
        )
        self.views_out = Counter(
            "clearinghouse_views_delivered",
            "Views delivered to peers (by push or acknowledged pull)",
            ["peer"],
            registry=self.registry,
        )
        self.delivery_failures = Counter(
            "clearinghouse_delivery_failures",
            "Failed delivery attempts, by peer and kind",
            ["peer", "kind"],
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "clearinghouse_delivery_latency_seconds",
            "From a view entering the outbox to the peer's receipt",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
            registry=self.registry,
        )
        self.analyses = Counter(
            "clearinghouse_analyses",
            "Packets analysed by this node's analyzer",
            registry=self.registry,
        )
        self.results_issued = Counter(
            "clearinghouse_results_issued", "Analysis results issued", registry=self.registry
        )
        self.audit_size = Gauge(
            "clearinghouse_audit_log_size",
            "Entries in this node's audit log at its latest checkpoint",
            registry=self.registry,
        )
        self.audit_checkpoints = Counter(
            "clearinghouse_audit_checkpoints",
            "Checkpoints of the audit log signed by this node",
            registry=self.registry,
        )
        self.audit_cosignatures = Counter(
            "clearinghouse_audit_cosignatures_received",
            "Witness cosignatures received on this node's checkpoints, by witness",
            ["witness"],
            registry=self.registry,
        )
        self.witness_cosigned = Counter(
            "clearinghouse_witness_cosigned",
            "Peers' checkpoints this node verified and cosigned, by peer",
            ["peer"],
            registry=self.registry,
        )
        self.audit_alerts = Counter(
            "clearinghouse_audit_alerts",
            "Peers caught with an inconsistent audit log, by peer and kind",
            ["peer", "kind"],
            registry=self.registry,
        )
        self.manifest_serial = Gauge(
            "clearinghouse_manifest_serial",
            "Serial of the federation manifest in force at this node",
            registry=self.registry,
        )
        self.manifests_refused = Counter(
            "clearinghouse_manifests_refused",
            "Submitted manifests refused (older serial, too few or bad signatures, ...)",
            registry=self.registry,
        )
        self.manifest_chain_breaks = Counter(
            "clearinghouse_manifest_chain_breaks",
            "Stored manifests found not to follow from the one before them (never obeyed)",
            registry=self.registry,
        )
        self.authorisations = Counter(
            "clearinghouse_authorisations",
            "Oversight authorisations submitted or received, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.requests_refused = Counter(
            "clearinghouse_requests_refused",
            "Requests refused with a problem+json answer (4xx), by problem code",
            ["code"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "clearinghouse_rate_limited",
            "Peer requests refused by the per-peer rate limit (429), by peer",
            ["peer"],
            registry=self.registry,
        )
        self.address_rate_limited = Counter(
            "clearinghouse_address_rate_limited",
            "Failed or unauthenticated requests refused by the per-address rate limit (429), "
            "by kind",
            ["kind"],
            registry=self.registry,
        )
        self.quota_exceeded = Counter(
            "clearinghouse_peer_quota_exceeded",
            "Batches refused whole by the per-peer quota of views or bytes (429), by peer and kind",
            ["peer", "kind"],
            registry=self.registry,
        )
        self.registry.register(_OutboxDepth(outbox_depth))
