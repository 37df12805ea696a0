"""The read cache across processes: two ``stockline serve`` on one PostgreSQL database.

A level cached on one node and changed on the other is read anew at once with
``Stockline-Read-After``, and without it once the change's event arrives (the TTL is set
far longer than the waits, so only the event can refresh it): through NATS, and through
the log poll with the cache's Redis tier shared by both. A Redis that cannot be reached
leaves every read answered from the database.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from stockline.adapters.cache import level_key
from stockline.adapters.cache_redis import RedisTier
from tests.conftest import Databases, LiveServer, free_port, start_server, stop_server
from tests.factories import (
    BROKERS,
    bus_env,
    create_product,
    forget_channel,
    line,
    record_sale,
    require_broker,
    stocked,
)
from tests.metrics_support import eventually, scrape, value

pytestmark = pytest.mark.slow

LONG_TTL = {"STOCKLINE_CACHE_TTL_SECONDS": "120"}
READS = "stockline_cache_reads_total"


@contextmanager
def two_nodes(database: str, tmp: pytest.TempPathFactory,
              env: dict[str, str]) -> Iterator[tuple[LiveServer, LiveServer]]:
    first = start_server(database, tmp.mktemp("cache-a"), extra_env=env)
    try:
        second = start_server(database, tmp.mktemp("cache-b"), extra_env=env)
        try:
            yield first, second
        finally:
            stop_server(second)
    finally:
        stop_server(first)


async def clients(stack: AsyncExitStack, *nodes: LiveServer) -> list[httpx.AsyncClient]:
    return [await stack.enter_async_context(httpx.AsyncClient(
        base_url=node.base_url, headers={"X-API-Key": node.admin_key},
        timeout=httpx.Timeout(30.0))) for node in nodes]


async def on_hand(client: httpx.AsyncClient, store: str, sku: str, **headers: str) -> int:
    answer = await client.get(f"/v1/inventory/{store}/{sku}", headers=headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["on_hand"])


async def sold_on_one_read_on_the_other(a: httpx.AsyncClient, b: httpx.AsyncClient) -> float:
    """Sell on A a level B holds in its cache; B's reads: at once with the header, then
    without it once the event arrived. Returns how long that took (seconds)."""
    store, (sku,) = await stocked(a, quantity=10)
    assert await on_hand(b, store, sku) == 10
    before = await scrape(b)
    assert await on_hand(b, store, sku) == 10
    assert value(await scrape(b), READS, kind="level", source="local") > value(
        before, READS, kind="level", source="local")  # B answers it from its cache
    await record_sale(a, store, [line(sku, 3)])
    sold_at = time.monotonic()
    assert await on_hand(b, store, sku, **{"Stockline-Read-After": "0/16B3748"}) == 7

    async def seen() -> bool:
        return await on_hand(b, store, sku) == 7
    await eventually(seen, within=10, what="B drops its cached level on the sale's event")
    return time.monotonic() - sold_at


async def test_a_write_on_one_node_is_read_on_the_other_through_nats(
        databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    url = BROKERS["nats"]
    await require_broker(url)
    channel = f"t{uuid.uuid4().hex[:16]}"
    database = await databases.new("postgres")
    try:
        with two_nodes(database, tmp_path_factory, {**bus_env(url, channel), **LONG_TTL}
                       ) as nodes:
            async with AsyncExitStack() as stack:
                a, b = await clients(stack, *nodes)
                took = await sold_on_one_read_on_the_other(a, b)
                assert took < 10
                assert value(await scrape(b), "stockline_cache_dropped_total", kind="level",
                             source="event") >= 1
    finally:
        await forget_channel(url, channel)


async def test_nodes_share_values_through_the_caches_redis(
        databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    await require_broker(BROKERS["redis"])
    # A timeout far above the default: on a loaded machine a Redis answer slower than
    # 50 ms would leave Redis alone for a second (that path has its own test below).
    env = {"STOCKLINE_CACHE_REDIS_URL": BROKERS["redis"], **LONG_TTL,
           "STOCKLINE_CACHE_REDIS_TIMEOUT_SECONDS": "2",
           "STOCKLINE_RATE_LIMIT_PREFIX": f"t{uuid.uuid4().hex[:12]}"}
    with two_nodes(await databases.new("postgres"), tmp_path_factory, env) as nodes:
        async with AsyncExitStack() as stack:
            a, b = await clients(stack, *nodes)
            store, (sku,) = await stocked(a, quantity=4)
            assert await on_hand(a, store, sku) == 4  # read from the database, kept in Redis
            shared = RedisTier(BROKERS["redis"], ttl=120, timeout_seconds=1,
                               prefix=env["STOCKLINE_RATE_LIMIT_PREFIX"])
            shared.start()
            try:
                async def kept() -> bool:  # A writes to Redis after its answer went out
                    return await shared.get(level_key(store, sku)) is not None
                await eventually(kept, within=10, what="A keeps the level in Redis")
            finally:
                await shared.close()
            before = await scrape(b)
            assert await on_hand(b, store, sku) == 4
            assert value(await scrape(b), READS, kind="level", source="redis") == value(
                before, READS, kind="level", source="redis") + 1
            await sold_on_one_read_on_the_other(a, b)


@pytest.fixture
async def redis_down(databases: Databases, tmp_path_factory: pytest.TempPathFactory
                     ) -> AsyncIterator[httpx.AsyncClient]:
    env = {"STOCKLINE_CACHE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    node = start_server(await databases.new("sqlite"), Path(tmp_path_factory.mktemp("down")),
                        extra_env=env)
    try:
        async with AsyncExitStack() as stack:
            (client,) = await clients(stack, node)
            yield client
    finally:
        stop_server(node)


async def test_reads_are_answered_while_the_caches_redis_is_down(
        redis_down: httpx.AsyncClient) -> None:
    client = redis_down
    store, (sku,) = await stocked(client, quantity=2)
    other = (await create_product(client))["sku"]
    for _ in range(3):
        assert await on_hand(client, store, sku) == 2
        answer = await client.get(f"/v1/products/{other}")
        assert answer.status_code == 200, answer.text
    await record_sale(client, store, [line(sku, 1)])
    assert await on_hand(client, store, sku) == 1
    assert value(await scrape(client), "stockline_cache_redis_errors_total") >= 1
