"""Prometheus metrics: HTTP requests by route and status, gRPC calls by method and code,
latency, sales and units sold; and the business and operations metrics of
``business_metrics`` (docs/operations.md lists them all)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from stockline.domain.model import Sale
from stockline.entrypoints.http.business_metrics import BusinessMetrics, DatabaseGauges
from stockline.entrypoints.http.replica_metrics import ReplicaMetrics

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One set per app; with several worker processes they share PROMETHEUS_MULTIPROC_DIR."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("stockline_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("stockline_http_request_duration_seconds",
                                 "Time to answer an HTTP request", ["method", "route"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.calls = Counter("stockline_grpc_calls", "gRPC calls answered",
                             ["method", "code"], registry=self.registry)
        self.call_latency = Histogram("stockline_grpc_call_duration_seconds",
                                      "Time to answer a gRPC call (a stream: its life)",
                                      ["method"], buckets=_BUCKETS, registry=self.registry)
        self.sales = Counter("stockline_sales", "Sales recorded", ["channel"],
                             registry=self.registry)
        self.units = Counter("stockline_units_sold", "Units sold", registry=self.registry)
        self.batch_size = Histogram("stockline_sale_batch_size",
                                    "Sales applied per group-commit transaction",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
                                    registry=self.registry)
        self.batch_seconds = Histogram("stockline_sale_batch_duration_seconds",
                                       "Time to apply and commit one batch of sales",
                                       buckets=_BUCKETS, registry=self.registry)
        # Stock-outs, streams, the relay, refusals, reconcile; and the database's numbers.
        self.business = BusinessMetrics(self.registry)
        self.replicas = ReplicaMetrics(self.registry)  # lag, state, reads by target
        self.database = DatabaseGauges()
        self.registry.register(self.database)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def call(self, method: str, code: str, seconds: float) -> None:
        self.calls.labels(method, code).inc()
        self.call_latency.labels(method).observe(seconds)

    def sale(self, sale: Sale) -> None:
        self.sales.labels(sale.channel.value).inc()
        self.units.inc(sale.units)

    def batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def render(self) -> bytes:
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.database)
            return generate_latest(registry)
        return generate_latest(self.registry)
