"""Business and operations metrics beside the HTTP ones: sales and units sold, stock-outs,
streams, the relay, rate-limit refusals and reconciliation (counted in this process as
things happen), and the
numbers read from the database when /metrics is scraped (``DatabaseGauges``).

In a server of several worker processes (PROMETHEUS_MULTIPROC_DIR) each gauge says how its
processes' values combine: stream clients add up; the relay's last round and the last
reconcile take the newest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from stockline.adapters.reads import CachedReads
from stockline.adapters.status import OperationsStatus, operations_status
from stockline.adapters.uow import SqlUnitOfWorkFactory
from stockline.bootstrap import Container
from stockline.domain.events import Event, InventoryChanged, SaleRecorded
from stockline.domain.reconcile import Check, ReconcileReport


class BusinessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # Sales per second and units per second are their rates (PromQL ``rate``).
        self.sales = Counter("stockline_sales", "Sales recorded (committed), by channel",
                             ["channel"], registry=registry)
        self.units = Counter("stockline_units_sold", "Units sold (committed sales)",
                             registry=registry)
        self.stockouts = Counter(
            "stockline_stockouts", "Changes that left a level with nothing available "
            "(available from above 0 to 0 or less): sales, holds, transfers, adjustments",
            registry=registry)
        self.refusals = Counter(
            "stockline_rate_limit_refusals", "Requests refused for a rate limit: limit="
            "principal (a caller's bucket, by role) or failed_credentials (an address's)",
            ["limit", "role"], registry=registry)
        self.streams = Gauge(
            "stockline_stream_clients", "Event streams open (SSE, WebSocket, GraphQL "
            "subscriptions, gRPC WatchEvents)", ["protocol"], registry=registry,
            multiprocess_mode="livesum")
        self.relay_round = Gauge(
            "stockline_relay_last_round_timestamp_seconds", "When this node's relay last "
            "finished a round while leading (Unix time; 0: it has not led)",
            registry=registry, multiprocess_mode="max")
        self.relay_leading = Gauge(
            "stockline_relay_leading", "1 while a process of this node leads the outbox relay",
            registry=registry, multiprocess_mode="max")
        self.drift = Gauge(
            "stockline_reconcile_drift", "Drifts the last reconcile run found, by check",
            ["check"], registry=registry, multiprocess_mode="mostrecent")
        self.reconciled_at = Gauge(
            "stockline_reconcile_last_run_timestamp_seconds", "When the last reconcile run "
            "started (Unix time)", registry=registry, multiprocess_mode="max")
        self.reconciled_levels = Gauge(
            "stockline_reconcile_levels_checked", "Levels the last reconcile run checked",
            registry=registry, multiprocess_mode="mostrecent")
        self.cache = CacheMetrics(registry)

    def watch(self, container: Container) -> None:
        """Hook into what the container runs (in the app's lifespan)."""
        if isinstance(container.uows, SqlUnitOfWorkFactory):
            container.uows.on_committed.append(self.committed)
        container.relay.on_round = self.relayed
        container.hub.on_streams = self.stream
        container.limiter.on_refused = self.refused
        if container.reconcile is not None:
            container.reconcile.on_report = self.reconciled
        self.cache.watch(container.cached)

    def unwatch(self, container: Container) -> None:
        """Stop counting the container's commits (the app stops; the container may not)."""
        if isinstance(container.uows, SqlUnitOfWorkFactory):
            listeners = container.uows.on_committed
            if self.committed in listeners:
                listeners.remove(self.committed)

    def committed(self, events: Sequence[Event]) -> None:
        """Counted once a transaction has committed: whichever protocol asked (REST,
        GraphQL, gRPC, the batch route, a hold committed), a sale is counted once, and a
        replay, a refusal or a rollback never."""
        outs = 0
        for e in events:
            if isinstance(e, InventoryChanged):
                outs += e.stocked_out
            elif isinstance(e, SaleRecorded):
                self.sales.labels(e.sale.channel.value).inc()
                self.units.inc(e.sale.units)
        if outs:
            self.stockouts.inc(outs)

    def relayed(self, leading: bool) -> None:
        self.relay_leading.set(1 if leading else 0)
        if leading:
            self.relay_round.set(time.time())

    def stream(self, protocol: str, change: int) -> None:
        self.streams.labels(protocol).inc(change)

    def refused(self, limit: str, role: str) -> None:
        self.refusals.labels(limit, role).inc()

    def reconciled(self, report: ReconcileReport, at: datetime) -> None:
        for check in Check:
            self.drift.labels(check.value).set(report.counts.get(check.value, 0))
        self.reconciled_levels.set(report.checked)
        self.reconciled_at.set(at.timestamp())


def reconcile_registry(report: ReconcileReport, at: datetime) -> CollectorRegistry:
    """A registry of the reconcile gauges alone, for ``stockline reconcile --textfile``."""
    registry = CollectorRegistry()
    metrics = BusinessMetrics(registry)
    metrics.reconciled(report, at)
    for name in ("sales", "units", "stockouts", "refusals", "streams", "relay_round",
                 "relay_leading"):
        registry.unregister(getattr(metrics, name))
    metrics.cache.unregister(registry)
    return registry


class CacheMetrics:
    """The read cache of single levels and products: where reads were answered from (the
    hit ratio is (local + redis) / all), how old the values served were, what changes
    dropped, and Redis's failures."""

    KINDS, SOURCES = ("level", "product"), ("local", "redis", "database", "read_after",
                                            "feed_behind")

    def __init__(self, registry: CollectorRegistry) -> None:
        self.reads = Counter(
            "stockline_cache_reads", "Reads of one level or product by where they were "
            "answered from: local (this process's cache), redis (the shared tier), database "
            "(the cache missed), read_after (Stockline-Read-After: past the cache), "
            "feed_behind (the process's event feed was behind: past the cache)",
            ["kind", "source"], registry=registry)
        self.age = Histogram(
            "stockline_cache_served_age_seconds", "Age of the cached values served, since "
            "their read of the database (bounded by STOCKLINE_CACHE_TTL_SECONDS)",
            ["kind", "tier"], buckets=(0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=registry)
        self.dropped = Counter(
            "stockline_cache_dropped", "Cached values a newer version dropped: source=commit "
            "(this process's own write), event (heard from the event log)",
            ["kind", "source"], registry=registry)
        self.redis_errors = Counter(
            "stockline_cache_redis_errors", "Reads and writes of the cache's Redis that "
            "failed (the database answered instead)", registry=registry)
        # Bound once: a label lookup per read would cost more than the cache's hit.
        self._reads = {(k, s): self.reads.labels(k, s) for k in self.KINDS for s in self.SOURCES}
        self._ages = {(k, t): self.age.labels(k, t) for k in self.KINDS
                      for t in ("local", "redis")}
        for k in self.KINDS:
            for source in ("commit", "event"):
                self.dropped.labels(k, source)

    def watch(self, reads: CachedReads) -> None:
        reads.on_read = self.read
        reads.on_dropped = self.drop
        if reads.redis is not None:
            reads.redis.on_error = self.redis_errors.inc

    def read(self, kind: str, source: str, age: float | None) -> None:
        self._reads[kind, source].inc()
        if age is not None:
            self._ages[kind, source].observe(age)

    def drop(self, kind: str, source: str) -> None:
        self.dropped.labels(kind, source).inc()

    def unregister(self, registry: CollectorRegistry) -> None:
        for metric in (self.reads, self.age, self.dropped, self.redis_errors):
            registry.unregister(metric)


class DatabaseGauges(Collector):
    """Numbers read from the database at scrape time (at most every ``cache_seconds``):
    the outbox and the relay (as GET /v1/admin/status), low levels, the webhook backlog;
    and this process's bus connection."""

    def __init__(self) -> None:
        self._read: OperationsStatus | None = None
        self._read_at = -float("inf")
        self._bus: tuple[str, bool] | None = None

    async def refresh(self, container: Container, cache_seconds: float) -> None:
        connected = getattr(container.bus, "connected", None)  # a bus that knows says
        self._bus = (container.bus.name, connected) if isinstance(connected, bool) else None
        if time.monotonic() - self._read_at < cache_seconds:
            return
        try:
            self._read = await operations_status(container.database.read)
        except Exception:  # whatever the failure, the process's own metrics still answer
            self._read = None
        self._read_at = time.monotonic()

    def collect(self) -> Iterable[Metric]:
        if self._bus is not None:
            bus = GaugeMetricFamily("stockline_bus_connected", "1 while this process is "
                                    "connected to the event bus", labels=["bus"])
            bus.add_metric([self._bus[0]], 1 if self._bus[1] else 0)
            yield bus
        if self._read is not None:
            yield from _families(self._read, time.time())


def _families(read: OperationsStatus, now: float) -> Iterator[Metric]:
    p = read.pipeline
    oldest = p.oldest_pending_at.timestamp() if p.oldest_pending_at is not None else None
    lease = p.lease_expires_at.timestamp() if p.lease_expires_at is not None else 0.0
    for name, doc, value in (
        ("stockline_outbox_pending", "Changes committed and not yet in the event log",
         p.pending),
        ("stockline_outbox_oldest_pending_age_seconds", "Age of the oldest of them (the "
         "relay's lag; 0 when none waits)", max(0.0, now - oldest) if oldest else 0.0),
        ("stockline_events_unpublished", "Events in the log not yet published to the bus",
         max(0, p.newest_event_id - p.published_through)),
        ("stockline_relay_lease_expires_timestamp_seconds", "When the relay leader's lease "
         "ends (Unix time; renewed while it runs)", lease),
        ("stockline_levels_below_reorder_point", "Levels at or under their reorder point",
         read.levels_below_reorder_point),
        ("stockline_webhook_deliveries_pending", "Webhook deliveries queued, not yet "
         "delivered (the backlog; a paused subscription's wait too)",
         read.webhook_deliveries_pending),
        ("stockline_webhooks_paused", "Webhook subscriptions paused (by their owner, or "
         "after failing for the give-up span)", read.webhooks_paused),
    ):
        yield GaugeMetricFamily(name, doc, value=value)
