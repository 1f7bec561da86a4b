"""Prometheus metrics of one node, in a registry of its own (no process globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from clearinghouse.node.storage.sqlite_writers import WriterLockStats

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


class _WriterLock(Collector):
    """The SQLite writer lock of the node's database: how often it was taken, how long
    writers waited for it and how long they held it (a lock held most of the time is a
    queue every write waits in)."""

    def __init__(self, figures: WriterLockStats) -> None:
        self._figures = figures

    def collect(self) -> Iterable[Metric]:
        figures = self._figures
        yield CounterMetricFamily(
            "clearinghouse_db_writer_lock_acquisitions",
            "Write transactions that took the SQLite writer lock (SQLite only)",
            value=figures.acquisitions,
        )
        yield CounterMetricFamily(
            "clearinghouse_db_writer_lock_wait_seconds",
            "Seconds write transactions waited for the SQLite writer lock (SQLite only)",
            value=figures.wait_s,
        )
        yield CounterMetricFamily(
            "clearinghouse_db_writer_lock_held_seconds",
            "Seconds the SQLite writer lock was held (SQLite only)",
            value=figures.held_s,
        )


class NodeMetrics:
    """The node's metric families, each an attribute that the code counting it uses.

    They are registered in the order listed here, by topic (the order of ``/metrics``);
    README.md's "Observability" table documents each one.
    """

    registry: CollectorRegistry
    # exchange of packets and views with peers
    packets_in: Counter
    packets_rejected: Counter
    packets_issued: Counter
    records_rejected: Counter
    views_out: Counter
    delivery_failures: Counter
    delivery_latency: Histogram
    # this node's analyzer
    analyses: Counter
    results_issued: Counter
    # the audit log, its witnesses and the peers' logs this node witnesses
    audit_size: Gauge
    audit_checkpoints: Counter
    audit_cosignatures: Counter
    witness_cosigned: Counter
    audit_alerts: Counter
    audit_witness_lag: Gauge
    # the federation manifest and oversight authorisations
    manifest_serial: Gauge
    manifests_refused: Counter
    manifest_chain_breaks: Counter
    authorisations: Counter
    # requests refused before any work
    requests_refused: Counter
    rate_limited: Counter
    address_rate_limited: Counter
    quota_exceeded: Counter

    def __init__(
        self,
        outbox_depth: Callable[[], dict[str, int]],
        writer_lock: WriterLockStats | None = None,
    ) -> None:
        """``writer_lock``: the figures of the database's writer lock, on SQLite."""
        self.registry = CollectorRegistry()
        self._add_exchange()
        self._add_analysis()
        self._add_audit()
        self._add_trust()
        self._add_refusals()
        self.registry.register(_OutboxDepth(outbox_depth))
        if writer_lock is not None:
            self.registry.register(_WriterLock(writer_lock))

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, *labels: str) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry)

    def _add_exchange(self) -> None:
        self.packets_in = self._counter(
            "clearinghouse_packets_received",
            "Views received from peers, by result",
            "peer",
            "result",
        )
        self.packets_rejected = self._counter(
            "clearinghouse_packets_rejected", "Views refused, by reason code", "reason"
        )
        self.packets_issued = self._counter(
            "clearinghouse_packets_issued", "Packets issued from local records"
        )
        self.records_rejected = self._counter(
            "clearinghouse_records_rejected", "Local records refused"
        )
        self.views_out = self._counter(
            "clearinghouse_views_delivered",
            "Views delivered to peers (by push or acknowledged pull)",
            "peer",
        )
        self.delivery_failures = self._counter(
            "clearinghouse_delivery_failures",
            "Failed delivery attempts, by peer and kind",
            "peer",
            "kind",
        )
        self.delivery_latency = Histogram(
            "clearinghouse_delivery_latency_seconds",
            "From a view entering the outbox to the peer's receipt",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
            registry=self.registry,
        )

    def _add_analysis(self) -> None:
        self.analyses = self._counter(
            "clearinghouse_analyses", "Packets analysed by this node's analyzer"
        )
        self.results_issued = self._counter(
            "clearinghouse_results_issued", "Analysis results issued"
        )

    def _add_audit(self) -> None:
        self.audit_size = self._gauge(
            "clearinghouse_audit_log_size",
            "Entries in this node's audit log at its latest checkpoint",
        )
        self.audit_checkpoints = self._counter(
            "clearinghouse_audit_checkpoints", "Checkpoints of the audit log signed by this node"
        )
        self.audit_cosignatures = self._counter(
            "clearinghouse_audit_cosignatures_received",
            "Witness cosignatures received on this node's checkpoints, by witness",
            "witness",
        )
        self.witness_cosigned = self._counter(
            "clearinghouse_witness_cosigned",
            "Peers' checkpoints this node verified and cosigned, by peer",
            "peer",
        )
        self.audit_alerts = self._counter(
            "clearinghouse_audit_alerts",
            "Peers caught with an inconsistent audit log, by peer and kind",
            "peer",
            "kind",
        )
        self.audit_witness_lag = self._gauge(
            "clearinghouse_audit_witness_lag_seconds",
            "How long the oldest checkpoint of this node's log a witness has not cosigned "
            "has waited, by witness (0: it cosigned the latest)",
            "witness",
        )

    def _add_trust(self) -> None:
        self.manifest_serial = self._gauge(
            "clearinghouse_manifest_serial",
            "Serial of the federation manifest in force at this node",
        )
        self.manifests_refused = self._counter(
            "clearinghouse_manifests_refused",
            "Submitted manifests refused (older serial, too few or bad signatures, ...)",
        )
        self.manifest_chain_breaks = self._counter(
            "clearinghouse_manifest_chain_breaks",
            "Stored manifests found not to follow from the one before them (never obeyed)",
        )
        self.authorisations = self._counter(
            "clearinghouse_authorisations",
            "Oversight authorisations submitted or received, by outcome",
            "outcome",
        )

    def _add_refusals(self) -> None:
        self.requests_refused = self._counter(
            "clearinghouse_requests_refused",
            "Requests refused with a problem+json answer (4xx), by problem code",
            "code",
        )
        self.rate_limited = self._counter(
            "clearinghouse_rate_limited",
            "Peer requests refused by the per-peer rate limit (429), by peer",
            "peer",
        )
        self.address_rate_limited = self._counter(
            "clearinghouse_address_rate_limited",
            "Failed or unauthenticated requests refused by the per-address rate limit (429), "
            "by kind",
            "kind",
        )
        self.quota_exceeded = self._counter(
            "clearinghouse_peer_quota_exceeded",
            "Batches refused whole by the per-peer quota of views or bytes (429), by peer and kind",
            "peer",
            "kind",
        )
