"""Rate limits: a token bucket per principal, in the process or shared through Redis.

A key with a small limit of its own bursts: the requests over its bucket get 429
``rate_limited`` with Retry-After and the RateLimit-* fields, and it is served again once
the bucket has refilled. Meanwhile another principal's requests are answered as fast as
before. With Redis, two server processes draw from one budget. Under CI=true a Redis that
cannot be reached fails the Redis tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from stockline.adapters.ratelimit import Decision, MemoryBuckets, Quota, RateLimiter
from stockline.config import Settings
from tests.conftest import Databases, LiveServer, free_port, start_server, stop_server
from tests.factories import MadeKey, assert_problem, insert_api_key, percentile

REDIS_URL = os.environ.get("STOCKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# What the tests of a shared budget let Redis take to answer: they test the sharing, and a
# loaded machine can stall a read past the server's 0.25 s (then each process limits alone,
# as designed and tested below).
LOADED_MACHINE = 5.0


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


def _fields(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (int(headers["RateLimit-Limit"]), int(headers["RateLimit-Remaining"]),
            int(headers["RateLimit-Reset"]))


# -- the bucket ---------------------------------------------------------------------------

def test_a_bucket_allows_its_capacity_at_once_then_one_request_per_refill() -> None:
    now = [100.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    quota = Quota(rate=2.0, capacity=4.0)
    taken = [buckets.take("p", quota) for _ in range(5)]
    assert [allowed for allowed, _ in taken] == [True, True, True, True, False]
    refused = Decision.of(quota, *taken[-1])
    assert (refused.limit, refused.remaining, refused.retry_after, refused.reset) == (4, 0, 1, 2)
    now[0] += 0.5  # one token back
    assert buckets.take("p", quota)[0] is True
    assert buckets.take("p", quota)[0] is False
    now[0] += 60  # never more than the capacity
    assert Decision.of(quota, *buckets.take("p", quota)).remaining == 3
    assert buckets.take("q", quota)[0] is True  # each principal has its own bucket


async def test_a_keys_own_limit_wins_over_its_roles() -> None:
    limiter = RateLimiter(per_role={"partner": 50.0}, burst_seconds=2.0,
                          own_limit={"key_slow": 1.0}.get)
    assert limiter.quota("key_slow", "partner") == Quota(1.0, 2.0)
    assert limiter.quota("key_other", "partner") == Quota(50.0, 100.0)
    assert limiter.quota("key_other", "unlisted_role") is None  # no limit set: not limited
    disabled = RateLimiter(per_role={"partner": 1.0}, burst_seconds=1.0,
                           own_limit=lambda _: None, enabled=False)
    assert await disabled.check("key_other", "partner") is None


# -- in the app ---------------------------------------------------------------------------

async def test_a_burst_over_a_keys_limit_gets_429_with_retry_after_then_recovers(
        client: httpx.AsyncClient, settings: Settings) -> None:
    slow = await insert_api_key(settings.database_url, "store_staff", rate_limit=2.0)
    capacity = int(2.0 * settings.rate_limit_burst_seconds)
    headers = {"X-API-Key": slow.key}
    answers = [await client.get("/v1/products", params={"limit": 1}, headers=headers)
               for _ in range(capacity + 4)]
    statuses = [r.status_code for r in answers]
    allowed = [r for r in answers if r.status_code == 200]
    assert capacity <= len(allowed) <= capacity + 1, statuses
    assert statuses[:capacity] == [200] * capacity and statuses[-1] == 429, statuses
    remaining = [_fields(r)[1] for r in allowed]
    assert remaining[0] == capacity - 1 and remaining == sorted(remaining, reverse=True)
    assert all(_fields(r)[0] == capacity for r in answers)

    refused = answers[-1]
    problem = assert_problem(refused, 429, "rate_limited")
    retry_after = int(refused.headers["Retry-After"])
    limit, left, reset = _fields(refused)
    assert (limit, left) == (capacity, 0)
    assert 1 <= retry_after <= reset <= int(settings.rate_limit_burst_seconds) + 1
    assert problem["retry_after"] == retry_after
    assert refused.headers["content-type"].startswith("application/problem+json")

    await asyncio.sleep(reset + 0.05)  # the bucket is full again
    again = await client.get("/v1/products", params={"limit": 1}, headers=headers)
    assert again.status_code == 200
    assert _fields(again)[:2] == (capacity, capacity - 1)


async def test_writes_are_limited_too_and_other_principals_are_not(
        client: httpx.AsyncClient, settings: Settings) -> None:
    slow = await insert_api_key(settings.database_url, "manager", rate_limit=0.5)
    headers = {"X-API-Key": slow.key}
    body = {"code": "", "name": "n"}  # refused (422) when let through: nothing is created
    statuses = [(await client.post("/v1/warehouses", json=body, headers=headers)).status_code
                for _ in range(3)]
    assert statuses == [422, 429, 429]
    other = await client.get("/v1/products", params={"limit": 1})  # the admin key
    assert other.status_code == 200 and int(other.headers["RateLimit-Remaining"]) > 0


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_probes_are_never_rate_limited(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert "RateLimit-Limit" not in response.headers


@pytest.mark.slow
@pytest.mark.backend_agnostic  # the limiter answers before any database work
async def test_another_principals_latency_stays_normal_during_a_burst(
        live_server: LiveServer, server_database_url: str) -> None:
    burster = await insert_api_key(server_database_url, "store_staff", rate_limit=20.0)
    other = await insert_api_key(server_database_url, "store_staff")
    async with (httpx.AsyncClient(base_url=live_server.base_url, timeout=30,
                                  headers={"X-API-Key": burster.key},
                                  limits=httpx.Limits(max_connections=32)) as bursting,
                httpx.AsyncClient(base_url=live_server.base_url, timeout=30,
                                  headers={"X-API-Key": other.key}) as calm):
        before = await _latencies(calm, 100)
        stop = asyncio.Event()
        counts = {200: 0, 429: 0}

        async def burst() -> None:
            while not stop.is_set():
                response = await bursting.get("/v1/products", params={"limit": 1})
                counts[response.status_code] = counts.get(response.status_code, 0) + 1

        started = time.monotonic()
        workers = [asyncio.create_task(burst()) for _ in range(16)]
        try:
            await asyncio.sleep(0.3)  # the burster is over its limit by now
            during = await _latencies(calm, 200)
        finally:
            stop.set()
            await asyncio.gather(*workers)
        elapsed = time.monotonic() - started
    _report(f"\nrate limit burst: {counts[200]} allowed, {counts[429]} refused in "
            f"{elapsed:.1f} s (limit 20/s, bucket 40); other principal before: p50 "
            f"{percentile(before, 0.5) * 1000:.1f} ms, p99 {percentile(before, 0.99) * 1000:.1f}"
            f" ms; during: p50 {percentile(during, 0.5) * 1000:.1f} ms, p99 "
            f"{percentile(during, 0.99) * 1000:.1f} ms")
    # Refused beyond the bucket and its refill, whatever share that is of what a loaded
    # machine let the sixteen burst workers send.
    assert counts[429] > 0 and counts[200] > 0, counts
    assert counts[200] <= 40 + 20 * elapsed + 2  # the bucket plus its refill, no more
    # Normal: as it was before the burst, within what a loaded machine adds.
    assert percentile(during, 0.5) < max(0.25, 5 * percentile(before, 0.5))
    assert percentile(during, 0.99) < max(1.0, 10 * percentile(before, 0.99))


async def _latencies(client: httpx.AsyncClient, count: int) -> list[float]:
    found = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.get("/v1/products", params={"limit": 1})
        found.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return found


# -- shared through Redis -----------------------------------------------------------------

async def _require_redis() -> None:
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        message = f"no Redis at {REDIS_URL}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own; its keys are removed afterwards."""
    await _require_redis()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    client = aioredis.from_url(REDIS_URL)
    try:
        found = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if found:
            await client.delete(*found)
    finally:
        await client.aclose()


async def test_two_limiters_on_one_redis_share_one_budget(redis_prefix: str) -> None:
    limiters = [RateLimiter(per_role={}, burst_seconds=10.0, own_limit=lambda _: 1.0,
                            redis_url=REDIS_URL, prefix=redis_prefix,
                            timeout_seconds=LOADED_MACHINE) for _ in range(2)]
    for limiter in limiters:
        await limiter.start()
    try:
        decisions = [await limiters[n % 2].check("key_shared", "partner") for n in range(30)]
        alone = await limiters[0].check("key_alone", "partner")
    finally:
        for limiter in limiters:
            await limiter.close()
    allowed = [d for d in decisions if d is not None and d.allowed]
    assert len(allowed) in (10, 11), [d.allowed for d in decisions if d]
    assert alone is not None and alone.allowed and alone.remaining == 9


async def test_an_unreachable_redis_falls_back_to_each_process_buckets() -> None:
    limiter = RateLimiter(per_role={}, burst_seconds=2.0, own_limit=lambda _: 1.0,
                          redis_url=f"redis://127.0.0.1:{free_port()}/0", prefix="t",
                          timeout_seconds=0.2, retry_seconds=60)
    await limiter.start()
    try:
        started = time.monotonic()
        decisions = [await limiter.check("key_x", "partner") for _ in range(4)]
        elapsed = time.monotonic() - started
        assert limiter.degraded
    finally:
        await limiter.close()
    # Still limited (fail open to the local buckets, not to no limit at all).
    assert [d.allowed for d in decisions if d] == [True, True, False, False]
    assert elapsed < 3.0  # one failed attempt, then Redis is left alone for retry_seconds


@pytest.mark.slow
async def test_two_server_processes_share_one_budget_through_redis(
        redis_prefix: str, databases: Databases,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    database = await databases.new("sqlite")
    shared = await insert_api_key(database, "partner", rate_limit=1.0)
    env = {"STOCKLINE_REDIS_URL": REDIS_URL, "STOCKLINE_RATE_LIMIT_PREFIX": redis_prefix,
           "STOCKLINE_RATE_LIMIT_BURST_SECONDS": "10",
           "STOCKLINE_REDIS_TIMEOUT_SECONDS": str(LOADED_MACHINE)}
    first = start_server(database, tmp_path_factory.mktemp("rl-a"), extra_env=env)
    try:
        second = start_server(database, tmp_path_factory.mktemp("rl-b"), extra_env=env)
        try:
            allowed_on = await _alternate(shared, (first, second), 40)
        finally:
            stop_server(second)
    finally:
        stop_server(first)
    _report(f"\nredis-shared rate limit (bucket 10, 1/s): allowed {allowed_on} on the two "
            f"processes, {sum(allowed_on)} in all of 40 requests")
    assert 10 <= sum(allowed_on) <= 12  # one budget: each process alone would allow 10
    assert min(allowed_on) > 0


async def _alternate(key: MadeKey, servers: tuple[LiveServer, LiveServer],
                     count: int) -> list[int]:
    allowed = [0, 0]
    async with (httpx.AsyncClient(base_url=servers[0].base_url, timeout=10,
                                  headers={"X-API-Key": key.key}) as a,
                httpx.AsyncClient(base_url=servers[1].base_url, timeout=10,
                                  headers={"X-API-Key": key.key}) as b):
        for n in range(count):
            response = await (a, b)[n % 2].get("/v1/products", params={"limit": 1})
            assert response.status_code in (200, 429), response.text
            allowed[n % 2] += response.status_code == 200
    return allowed
