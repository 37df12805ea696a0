"""``python -m bench.tracing``: what a sale costs the server's process with tracing off and
on, same run.

In one process: the app on a fresh database (``--backend``), driven in-process through
httpx's ASGI transport (no socket, so the figure is the server's own work plus the
client's, which is the same in every mode), ``--sales`` sales of one unit at ``--skus``
levels of one store, ``--concurrency`` in flight (group commit on, as in production).
Per mode and round: CPU seconds of the whole process (every thread: aiosqlite's too) per
sale, and sales a second; the median of ``--rounds`` rounds. Modes: ``off`` (no
tracing, the default); ``on``: every span recorded and handed to a batch span processor
whose exporter drops them (the instrumentation's cost, not an exporter's network);
``10%``: the same with ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` at 0.1. Each
mode runs twice, interleaved. On a tree without tracing, only ``off`` runs (the figure
before it came).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.harness import BENCH_KEY, Dataset, location, prepare, sku
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.entrypoints.http.app import create_app

try:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from stockline.adapters.tracing import Tracing, resource_of
except ImportError:  # a tree from before tracing
    Tracing = None  # type: ignore[assignment,misc]


def _tracing(mode: str) -> Any:
    if mode == "off":
        return None

    class Dropped(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    sampled = {"on": {}, "10%": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                 "OTEL_TRACES_SAMPLER_ARG": "0.1"}}[mode]
    kept = {name: os.environ.get(name) for name in sampled}
    os.environ.update(sampled)  # the SDK reads the sampler from the environment
    try:
        return Tracing([BatchSpanProcessor(Dropped())], resource_of())
    finally:
        for name, value in kept.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _sales(client: httpx.AsyncClient, count: int, skus: int, concurrency: int,
                 start: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            answer = await client.post("/v1/sales/record", json={
                "location_id": location(0), "lines": [{
                    "sku": sku((start + n) % skus), "quantity": 1,
                    "unit_price": {"amount": "1.00", "currency": "USD"}}]})
        if answer.status_code != 201:
            raise RuntimeError(f"sale answered {answer.status_code}: {answer.text}")

    await asyncio.gather(*(one(n) for n in range(count)))


async def run_mode(mode: str, url: str, workdir: Path, args: argparse.Namespace
                   ) -> tuple[float, float]:
    """(CPU microseconds per sale, sales a second), medians of the rounds."""
    settings = Settings(database_url=url, admin_key=BENCH_KEY, env="test",
                        log_level="warning", var_dir=workdir, rate_limit_enabled=False)
    tracing = _tracing(mode)
    container = (bootstrap(settings, tracing=tracing) if tracing is not None
                 else bootstrap(settings))
    await container.start(jobs=False)
    app = create_app(settings, container=container)
    cpu, rates = [], []
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench",
                headers={"X-API-Key": BENCH_KEY}) as client:
            await _sales(client, args.sales // 4, args.skus, args.concurrency, 0)  # warm-up
            for n in range(args.rounds):
                began, wall = time.process_time(), time.perf_counter()
                await _sales(client, args.sales, args.skus, args.concurrency,
                             (n + 1) * args.sales)
                cpu.append((time.process_time() - began) / args.sales * 1e6)
                rates.append(args.sales / (time.perf_counter() - wall))
    finally:
        await container.close()
        if tracing is not None:
            tracing.shutdown()
    return statistics.median(cpu), statistics.median(rates)


async def main(args: argparse.Namespace) -> None:
    modes = ["off"] if Tracing is None else ["off", "on", "10%"] * 2
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, cleanup = await prepare(args.backend, workdir,
                                     Dataset(1, args.skus, stock=10 * args.sales * args.rounds))
        try:
            for mode in modes:  # each mode twice, interleaved: a busy moment hits both
                per_sale, rate = await run_mode(mode, url, workdir, args)
                print(f"{args.backend:8} tracing {mode:4}  {per_sale:7.0f} µs CPU per sale  "
                      f"{rate:7.0f} sales/s  ({args.sales} sales x {args.rounds}, "
                      f"{args.concurrency} in flight)")
        finally:
            await cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sales", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
