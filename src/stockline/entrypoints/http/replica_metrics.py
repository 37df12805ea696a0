"""Metrics of the read replicas: each one's lag and state as this process's last poll
found them, and where the reads that may use a replica were served (adapters.replicas)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from stockline.adapters.replicas import PRIMARY, REPLICA, Replica
from stockline.bootstrap import Container


class ReplicaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Gauge(
            "stockline_replica_lag_seconds", "How far behind the primary a replica may be: "
            "0 while it has replayed all the primary wrote, +Inf while unknown (down)",
            ["replica"], registry=registry, multiprocess_mode="livemax")
        self.up = Gauge(
            "stockline_replica_up", "1 while a replica answers as a streaming replica",
            ["replica"], registry=registry, multiprocess_mode="livemin")
        self.reads = Counter(
            "stockline_reads", "Reads that may use a replica (lists, reports, the ledger, "
            "the event log), by where they were served", ["target"], registry=registry)
        for target in (PRIMARY, REPLICA):
            self.reads.labels(target)

    def watch(self, container: Container) -> None:
        """Hook into the container's read router (in the app's lifespan)."""
        container.reads.on_read = self.read
        container.reads.on_polled = self.polled
        for replica in container.reads.replicas:
            self.polled(replica)

    def read(self, target: str) -> None:
        self.reads.labels(target).inc()

    def polled(self, replica: Replica) -> None:
        self.up.labels(replica.name).set(1 if replica.up else 0)
        self.lag.labels(replica.name).set(replica.lag if replica.up else float("inf"))
