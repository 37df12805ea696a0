"""From a sale's answer to its event on an SSE stream: p50 and p99, through real servers.

One live server with the in-process bus (on SQLite and PostgreSQL), and one with NATS
JetStream as its bus (its hub's fallback poll of the log slowed to 30 s, so that NATS is
what brings the events). Sales go one at a time, at a moderate pace; the figures are
printed (``pytest -s``). Only generous bounds are asserted, so that a loaded machine
cannot make the test flaky, but an event that never comes fails it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Databases, LiveServer, start_server, stop_server
from tests.factories import (
    BROKERS,
    bus_env,
    forget_channel,
    open_event_stream,
    percentile,
    require_broker,
    sale_to_streams,
    stocked,
)

pytestmark = pytest.mark.slow

SALES = 200
PAUSE_S = 0.005


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


async def _measure(server: LiveServer) -> list[float]:
    async with httpx.AsyncClient(base_url=server.base_url,
                                 headers={"X-API-Key": server.admin_key},
                                 timeout=httpx.Timeout(30.0)) as client:
        store, (sku,) = await stocked(client, quantity=SALES)
        async with open_event_stream(client, {"location_id": store,
                                              "types": "sale.recorded"}) as stream:
            delays = []
            for _ in range(SALES):
                (delay,) = await sale_to_streams(client, store, sku, [stream])
                delays.append(delay)
                await asyncio.sleep(PAUSE_S)
    return delays


def _summary(label: str, delays: list[float]) -> str:
    return (f"latency {label}: {len(delays)} sales, sale answered -> SSE receipt "
            f"p50 {percentile(delays, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(delays, 0.99) * 1000:.1f} ms, "
            f"max {max(delays) * 1000:.1f} ms")


async def test_latency_with_the_in_process_bus(live_server: LiveServer, backend: str) -> None:
    delays = await _measure(live_server)
    _report(_summary(f"in-process bus [{backend}]", delays))
    assert percentile(delays, 0.99) < 2.0


@pytest.fixture
async def nats_server(backend: str, databases: Databases,
                      tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    url = BROKERS["nats"]
    await require_broker(url)
    channel = f"t{uuid.uuid4().hex[:16]}"
    server = start_server(await databases.new(backend), tmp_path_factory.mktemp("nats"),
                          extra_env=bus_env(url, channel))
    try:
        yield server
    finally:
        stop_server(server)
        await forget_channel(url, channel)


async def test_latency_with_nats(nats_server: LiveServer, backend: str) -> None:
    delays = await _measure(nats_server)
    _report(_summary(f"NATS [{backend}]", delays))
    assert percentile(delays, 0.99) < 2.0  # the log poll is 30 s: NATS brought them
