"""``python -m bench.tracing``: what a sale costs the server's process with tracing off and
on, same run.

In one process: the app on a fresh database (``--backend``), driven in-process through
httpx's ASGI transport (no socket, so the figure is the server's own work plus the
client's, which is the same in every mode), ``--sales`` sales of one unit at ``--skus``
levels of one store, ``--concurrency`` in flight (group commit on, as in production).
The modes' apps stand side by side (each over its own container), and their rounds take
turns, so that a busy moment of the machine hits every mode alike. Per mode: CPU seconds
of the whole process (every thread: aiosqlite's too) per sale, the median and the least
of ``--rounds`` rounds, and sales a second (the work of each app's relay, moving its
sales' events, counts in whichever round it falls: each app has a database of its own).
Modes: ``off`` (no tracing, the default); ``on``: every span recorded and handed to a
batch span processor whose exporter drops them (the instrumentation's cost, not an
exporter's network); ``10%``: the same with ``OTEL_TRACES_SAMPLER=
parentbased_traceidratio`` at 0.1. On a tree without tracing, only ``off`` runs (the
figure before it came).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def _app(mode: str, url: str, workdir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app over its own container, with tracing as ``mode`` says."""
    settings = Settings(database_url=url, admin_key=BENCH_KEY, env="test",
                        log_level="warning", var_dir=workdir, rate_limit_enabled=False)
    tracing = _tracing(mode)
    container = (bootstrap(settings, tracing=tracing) if tracing is not None
                 else bootstrap(settings))
    await container.start(jobs=False)
    app = create_app(settings, container=container)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench",
                headers={"X-API-Key": BENCH_KEY}) as client:
            yield client
    finally:
        await container.close()
        if tracing is not None:
            tracing.shutdown()


async def main(args: argparse.Namespace) -> None:
    modes = ["off"] if Tracing is None else args.modes.split(",")
    data = Dataset(1, args.skus, stock=2 * args.sales * (args.rounds + 1) * len(modes))
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        made = [await prepare(args.backend, workdir, data) for _ in modes]
        try:
            async with contextlib.AsyncExitStack() as stack:
                clients = {mode: await stack.enter_async_context(_app(mode, url, workdir))
                           for mode, (url, _) in zip(modes, made, strict=True)}
                start = 0
                for n in range(args.rounds + 1):  # the first round warms up
                    for mode in modes:  # interleaved: a busy moment hits every mode
                        began, wall = time.process_time(), time.perf_counter()
                        await _sales(clients[mode], args.sales, args.skus, args.concurrency,
                                     start)
                        start += args.sales
                        if n:
                            cpu[mode].append((time.process_time() - began) / args.sales * 1e6)
                            rates[mode].append(args.sales / (time.perf_counter() - wall))
        finally:
            for _, cleanup in made:
                await cleanup()
    for mode in modes:
        print(f"{args.backend:8} tracing {mode:4}  CPU per sale: median "
              f"{statistics.median(cpu[mode]):5.0f} µs, least {min(cpu[mode]):5.0f} µs  "
              f"sales/s: median {statistics.median(rates[mode]):4.0f}  ({args.rounds} rounds "
              f"of {args.sales} sales, {args.concurrency} in flight)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--modes", default="off,on,10%", help="comma-separated")
    asyncio.run(main(parser.parse_args()))
