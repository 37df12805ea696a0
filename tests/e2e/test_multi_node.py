"""Two API nodes, one database, one bus: a sale on either reaches the streams of both.

Two ``stockline serve`` processes on different ports share one PostgreSQL database and
(a) NATS JetStream, (b) Redis Streams, (c) a RabbitMQ stream queue (the machine's brokers at
127.0.0.1). Each test gets its own channel, so runs never hear each other's events, and
removes it afterwards. The hubs' fallback poll of the event log is slowed to 30 s: within
the test's waits, only the bus can carry an event from the relay's node to the other.
Under CI=true a broker that cannot be reached fails the test; elsewhere the test is
skipped with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

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

SALES = 100


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


@dataclass(frozen=True)
class Cluster:
    bus: str
    nodes: tuple[LiveServer, LiveServer]


@pytest.fixture(params=sorted(BROKERS))
async def cluster(request: pytest.FixtureRequest, databases: Databases,
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    url = BROKERS[request.param]
    await require_broker(url)
    database = await databases.new("postgres")
    channel = f"t{uuid.uuid4().hex[:16]}"
    env = bus_env(url, channel)
    first = start_server(database, tmp_path_factory.mktemp("node-a"), extra_env=env)
    try:
        second = start_server(database, tmp_path_factory.mktemp("node-b"), extra_env=env)
        try:
            yield Cluster(request.param, (first, second))
        finally:
            stop_server(second)
    finally:
        stop_server(first)
        await forget_channel(url, channel)


async def test_a_sale_on_either_node_reaches_the_streams_of_both(cluster: Cluster) -> None:
    async with AsyncExitStack() as stack:
        a, b = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=node.base_url, headers={"X-API-Key": node.admin_key},
            timeout=httpx.Timeout(30.0))) for node in cluster.nodes]
        store, (sku,) = await stocked(a, quantity=SALES)
        sales_at_store = {"location_id": store, "types": "sale.recorded"}
        on_a = await stack.enter_async_context(open_event_stream(a, sales_at_store))
        on_b = await stack.enter_async_context(open_event_stream(b, sales_at_store))
        across: list[float] = []
        local: list[float] = []
        for n in range(SALES):  # alternately on A (heard on B) and on B (heard on A)
            writer, here, there = (a, on_a, on_b) if n % 2 == 0 else (b, on_b, on_a)
            mine, other = await sale_to_streams(writer, store, sku, [here, there])
            local.append(mine)
            across.append(other)
        assert await on_a.quiet(0.2) == [] and await on_b.quiet(0.2) == []
        assert (await b.get(f"/v1/inventory/{store}/{sku}")).json()["on_hand"] == 0
    _report(f"two nodes over {cluster.bus}: {SALES} sales, sale answered -> SSE receipt on "
            f"the other node p50 {percentile(across, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(across, 0.99) * 1000:.1f} ms (same node p50 "
            f"{percentile(local, 0.5) * 1000:.1f} ms, p99 {percentile(local, 0.99) * 1000:.1f} ms)")
    assert percentile(across, 0.99) < 2.0  # far below the 30 s log poll: the bus carried them
