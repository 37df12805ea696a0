"""Reads from a real streaming replica: a primary made by initdb and a replica made by
pg_basebackup -R, both on free ports; a live server given the replica's URL.

Where a read was served is seen in ``stockline_reads_total{target}``; what the replica
holds is checked on the replica itself."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import LiveServer, start_server, stop_server
from tests.factories import migrate
from tests.metrics_support import sample, value
from tests.replica_support import Cluster, primary_and_replica

LSN = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
MAX_LAG = 1.0  # the bound the server is given, in seconds


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    with primary_and_replica() as made:
        yield made
    for cluster in made:  # killed and removed
        assert not cluster.data.exists()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", cluster.port), timeout=1).close()


@pytest.fixture(scope="module")
def server(clusters: tuple[Cluster, Cluster], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LiveServer]:
    primary, replica = clusters
    asyncio.run(migrate(primary.url))
    started = start_server(primary.url, tmp_path_factory.mktemp("replica"), extra_env={
        "STOCKLINE_DATABASE_REPLICA_URLS": replica.plain_url,
        "STOCKLINE_REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
        "STOCKLINE_REPLICA_POLL_SECONDS": "0.2",
        "STOCKLINE_DB_POOL_SIZE": "4", "STOCKLINE_REPLICA_POOL_SIZE": "2"})
    try:
        yield started
    finally:
        stop_server(started)


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                 headers={"X-API-Key": server.admin_key}) as client:
        yield client


def name(cluster: Cluster) -> str:
    return f"127.0.0.1:{cluster.port}"


async def metrics(api: httpx.AsyncClient) -> str:
    response = await api.get("/metrics")
    assert response.status_code == 200
    return response.text


async def until(api: httpx.AsyncClient, done: Any, what: str, within: float = 30) -> str:
    deadline = time.monotonic() + within
    while True:
        text = await metrics(api)
        if done(text):
            return text
        assert time.monotonic() < deadline, f"{what}, within {within} s"
        await asyncio.sleep(0.1)


async def caught_up(api: httpx.AsyncClient, replica: Cluster) -> str:
    return await until(api, lambda t: sample(t, "stockline_replica_up", replica=name(replica))
                       == 1 and sample(t, "stockline_replica_lag_seconds",
                                       replica=name(replica)) == 0, "the replica caught up")


async def served(api: httpx.AsyncClient, path: str, **headers: str
                 ) -> tuple[httpx.Response, str]:
    """A read, and which target the reads counter says served it."""
    before = await metrics(api)
    response = await api.get(path, headers=headers)
    after = await metrics(api)
    moved = [t for t in ("primary", "replica")
             if value(after, "stockline_reads_total", target=t)
             > value(before, "stockline_reads_total", target=t)]
    assert len(moved) == 1, moved
    return response, moved[0]


async def new_product(api: httpx.AsyncClient) -> tuple[str, str]:
    sku = f"R{time.monotonic_ns()}"
    response = await api.post("/v1/products", json={
        "sku": sku, "name": "Replica", "category": "replica",
        "price": {"amount": "1.00", "currency": "USD"}})
    assert response.status_code == 201, response.text
    return sku, response.headers["Stockline-Position"]


async def replayed(replica: Cluster, sku: str, within: float = 30) -> None:
    """Until the replica itself has the product."""
    deadline = time.monotonic() + within
    while not await on_replica(replica, "SELECT count(*) FROM products WHERE sku = $1", sku):
        assert time.monotonic() < deadline, "the replica never replayed the write"
        await asyncio.sleep(0.05)


async def eventually_on_replica(api: httpx.AsyncClient, path: str, within: float = 30,
                                **headers: str) -> httpx.Response:
    """A read served by the replica, once the server's polls find it fit."""
    deadline = time.monotonic() + within
    while True:
        response, target = await served(api, path, **headers)
        if target == "replica":
            return response
        assert time.monotonic() < deadline, "no read went to the replica"
        await asyncio.sleep(0.1)


async def pause_replay(api: httpx.AsyncClient, replica: Cluster, within: float = 30) -> None:
    """Replay paused for good: a pause is only requested until the replica meets new WAL."""
    await on_replica(replica, "SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + within
    while await on_replica(replica, "SELECT pg_get_wal_replay_pause_state()") != "paused":
        assert time.monotonic() < deadline, "the replica's replay never paused"
        await new_product(api)  # WAL for the replica to stop at
        await asyncio.sleep(0.05)


async def on_replica(replica: Cluster, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(replica.plain_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def skus(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {p["sku"] for p in response.json()["items"]}


async def test_reads_follow_the_replica_and_the_callers_writes(
        api: httpx.AsyncClient, clusters: tuple[Cluster, Cluster]) -> None:
    _, replica = clusters
    exported = await caught_up(api, replica)
    assert sample(exported, "stockline_replica_lag_seconds", replica=name(replica)) == 0

    # (1) with no token and a replica within the bound, a list is the replica's
    sku, position = await new_product(api)
    assert LSN.fullmatch(position), position
    await replayed(replica, sku)
    response = await eventually_on_replica(api, "/v1/products?category=replica")
    assert sku in skus(response)

    # (2) replay paused: the caller's token sends its read to the primary, which has it
    await pause_replay(api, replica)
    try:
        paused_sku, paused_at = await new_product(api)
        response, target = await served(api, "/v1/products?category=replica",
                                        **{"Stockline-Read-After": paused_at})
        assert target == "primary" and paused_sku in skus(response)
        assert await on_replica(replica, "SELECT count(*) FROM products WHERE sku = $1",
                                paused_sku) == 0  # the replica really is behind
        # without a token, once the lag passes the bound, the primary too
        await until(api, lambda t: (sample(t, "stockline_replica_lag_seconds",
                                           replica=name(replica)) or 0) > MAX_LAG,
                    "the lag passed the bound")
        response, target = await served(api, "/v1/products?category=replica")
        assert target == "primary" and paused_sku in skus(response)
    finally:
        await on_replica(replica, "SELECT pg_wal_replay_resume()")
    # replayed again: once a poll has seen it pass the token, the token's reads too
    await replayed(replica, paused_sku)
    response = await eventually_on_replica(api, "/v1/products?category=replica",
                                           **{"Stockline-Read-After": paused_at})
    assert paused_sku in skus(response)


async def test_a_replica_that_dies_costs_no_read_and_is_used_again_once_back(
        api: httpx.AsyncClient, clusters: tuple[Cluster, Cluster]) -> None:
    _, replica = clusters
    await caught_up(api, replica)
    await eventually_on_replica(api, "/v1/stock-movements")  # connections now in its pool
    replica.stop("immediate")
    try:
        for _ in range(5):  # before and after the poll notices
            response, _ = await served(api, "/v1/stock-movements")
            assert response.status_code == 200, response.text
        await until(api, lambda t: sample(t, "stockline_replica_up", replica=name(replica))
                    == 0, "the replica marked down")
        response, target = await served(api, "/v1/sales")
        assert response.status_code == 200 and target == "primary"
    finally:
        replica.start()
    await caught_up(api, replica)
    assert (await eventually_on_replica(api, "/v1/sales")).status_code == 200


async def test_writes_answer_their_position_and_a_bad_token_is_refused(
        api: httpx.AsyncClient) -> None:
    _, position = await new_product(api)
    assert LSN.fullmatch(position)
    refused = await api.get("/v1/products", headers={"Stockline-Read-After": "yesterday"})
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "bad_request"
    assert "Stockline-Position" not in (await api.get("/v1/products")).headers
