"""Where the read cache is on by default: only where a writer's next request meets the
process that committed its write. Served by several worker processes, a client that
writes through one worker and reads through another sees its write at once without
sending ``Stockline-Read-After`` (the cache is off there unless asked for)."""

from __future__ import annotations

import httpx
import pytest

from stockline.config import LONE_PROCESS_CACHE_TTL, Settings
from tests.conftest import Databases, start_server, stop_server
from tests.factories import line, record_sale, stocked


def test_the_cache_is_on_by_default_for_one_process_alone() -> None:
    assert Settings().read_cache_ttl == LONE_PROCESS_CACHE_TTL
    assert Settings(workers=2).read_cache_ttl == 0
    assert Settings(bus_url="nats://127.0.0.1:4222").read_cache_ttl == 0
    assert Settings(workers=4, cache_ttl_seconds=3).read_cache_ttl == 3  # asked for
    assert Settings(cache_ttl_seconds=0).read_cache_ttl == 0


async def _on_hand(client: httpx.AsyncClient, store: str, sku: str) -> int:
    answer = await client.get(f"/v1/inventory/{store}/{sku}")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["on_hand"])


@pytest.mark.slow
async def test_a_writer_reads_its_write_through_any_worker(
        backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_server(await databases.new(backend), tmp_path_factory.mktemp("workers"),
                          workers=2)
    try:
        headers = {"X-API-Key": server.admin_key}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers,
                                     timeout=30) as client:
            store, (sku,) = await stocked(client, quantity=40)
            left = 40
            for _ in range(8):
                # New connections land on either worker: both have read the level.
                for _ in range(4):
                    async with httpx.AsyncClient(base_url=server.base_url, headers=headers,
                                                 timeout=30) as fresh:
                        assert await _on_hand(fresh, store, sku) == left
                await record_sale(client, store, [line(sku, 1)])
                left -= 1
                async with httpx.AsyncClient(base_url=server.base_url, headers=headers,
                                             timeout=30) as fresh:
                    assert await _on_hand(fresh, store, sku) == left
    finally:
        stop_server(server)
