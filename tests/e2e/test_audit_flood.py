"""Refused credentials cannot flood the audit trail, nor be guessed at full speed.

Each client address has a budget of refused credentials; past it, its requests are
answered 429 before any credential is checked, and those refusals are counted into one
audit entry per address and window instead of one each. What a client chose (its path)
is stored escaped and bounded. Each test speaks from its own address (a documentation
prefix, 2001:db8::/32, given to the in-process app as the ASGI peer), with the container's
failure budget swapped for a small one. Both backends.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from stockline.adapters.audit import AuditRecord, AuditTrail
from stockline.adapters.auth_failures import FailureBudget
from stockline.adapters.queries.audit import AuditEntry
from stockline.adapters.ratelimit import RateLimiter
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.entrypoints.http.app import create_app
from tests.conftest import ADMIN_KEY, Databases, start_server, stop_server
from tests.e2e import test_rate_limits
from tests.e2e.test_audit import audit
from tests.factories import assert_problem, insert_api_key, send_raw

BUDGET = 5
FORGED = "sk_0123456789ab_FORGEDSECRETVALUE"

REDIS_URL = test_rate_limits.REDIS_URL
LOADED_MACHINE = test_rate_limits.LOADED_MACHINE
redis_prefix = test_rate_limits.redis_prefix  # the fixture: a Redis key prefix of its own

Connect = Callable[[str, str | None], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def small_budget(container: Container) -> Iterator[None]:
    """BUDGET refused credentials per address, earned back at one a minute."""
    original = container.auth_failures
    container.auth_failures = FailureBudget(container.limiter, limit=BUDGET, per_minute=1)
    try:
        yield
    finally:
        container.auth_failures = original


@pytest.fixture
async def app(settings: Settings, container: Container) -> AsyncIterator[FastAPI]:
    made = create_app(settings, container=container)
    async with made.router.lifespan_context(made):
        yield made


@pytest.fixture
def connect(app: FastAPI) -> Connect:
    """A client of the app that speaks from ``address`` with ``key`` (None: no key)."""

    @asynccontextmanager
    async def connected(address: str, key: str | None) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40_000))
        headers = {"X-API-Key": key} if key is not None else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://stockline.test",
                                     headers=headers) as client:
            yield client

    return connected


def new_address() -> str:
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


async def entries_from(client: httpx.AsyncClient, address: str,
                       since: datetime) -> list[dict[str, Any]]:
    return [e for e in await audit(client, **{"from": since}) if e["ip"] == address]


@pytest.mark.usefixtures("small_budget")
async def test_a_burst_of_bad_keys_is_throttled_and_counted_into_few_entries(
        client: httpx.AsyncClient, connect: Connect) -> None:
    since, address = datetime.now(UTC), new_address()
    sent = 60
    async with connect(address, FORGED) as attacker:
        answers = [await (attacker.get(f"/v1/products/guess-{i}") if i % 2 else
                          attacker.post("/v1/warehouses", json={"code": f"w{i}"}))
                   for i in range(sent)]
    statuses = [a.status_code for a in answers]
    assert statuses == [401] * BUDGET + [429] * (sent - BUDGET), statuses
    throttled = assert_problem(answers[-1], 429, "rate_limited")
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert "retry" in throttled["detail"]

    entries = await entries_from(client, address, since)
    assert sum(e["count"] for e in entries) == sent
    assert len(entries) <= BUDGET + 1, entries  # one entry per 401, one for the 429s
    (burst,) = [e for e in entries if e["status"] == 429]
    assert burst["count"] == sent - BUDGET and burst["outcome"] == "refused"
    assert burst["principal_id"] is None and burst["last_at"] >= burst["at"]
    assert all(e["count"] == 1 and e["last_at"] is None for e in entries if e is not burst)


@pytest.mark.usefixtures("small_budget")
async def test_an_address_over_its_budget_is_refused_before_its_credential_is_checked(
        client: httpx.AsyncClient, connect: Connect, settings: Settings) -> None:
    address, elsewhere = new_address(), new_address()
    staff = await insert_api_key(settings.database_url, "store_staff")
    async with connect(address, FORGED) as attacker:
        for _ in range(BUDGET):
            assert (await attacker.get("/v1/products")).status_code == 401
    # A valid key from the throttled address waits too: guessing right is not rewarded.
    async with connect(address, staff.key) as same_address:
        assert_problem(await same_address.get("/v1/products"), 429, "rate_limited")
    # Another address, with a valid key or a wrong one, is not limited by that.
    async with connect(elsewhere, staff.key) as other:
        assert (await other.get("/v1/products")).status_code == 200
    async with connect(elsewhere, FORGED) as other:
        assert_problem(await other.get("/v1/products"), 401, "unauthorized")
    # Valid credentials never spend the budget.
    async with connect(new_address(), ADMIN_KEY) as admin:
        for _ in range(BUDGET * 3):
            assert (await admin.get("/v1/products", params={"limit": 1})).status_code == 200


async def test_refused_clients_of_the_token_route_spend_the_same_budget(
        settings: Settings) -> None:
    issuing = settings.model_copy(update={
        "token_secret": SecretStr("flood-test-signing-secret-0123456789abcdef"),
        "auth_failure_limit": BUDGET})
    container = bootstrap(issuing)  # a signing key: a wrong client is a 401, not a 400
    app = create_app(issuing, container=container)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(new_address(), 40_000)),
                base_url="http://stockline.test") as attacker:
            answers = [await attacker.post("/v1/oauth/token",
                                           auth=("sk_0123456789ab", FORGED),
                                           data={"grant_type": "client_credentials"})
                       for _ in range(BUDGET + 3)]
            # And a request with an API key from that address waits as well.
            answers.append(await attacker.get("/v1/products", headers={"X-API-Key": FORGED}))
    finally:
        await container.close()
    statuses = [a.status_code for a in answers]
    assert statuses == [401] * BUDGET + [429] * 4, statuses
    assert_problem(answers[-2], 429, "rate_limited")


async def test_a_path_with_newline_and_esc_is_stored_escaped(
        client: httpx.AsyncClient, connect: Connect) -> None:
    since, address = datetime.now(UTC), new_address()
    async with connect(address, FORGED) as attacker:
        answer = await attacker.get("/v1/products/a%0Aforged%201%1B%5B31mred%5Cb%E2%80%AEz")
    assert_problem(answer, 401, "unauthorized")
    (entry,) = await entries_from(client, address, since)
    assert entry["path"] == "/v1/products/a\\x0aforged 1\\x1b[31mred\\\\b\\u202ez"
    assert not any(ord(c) < 0x20 or c == "\x7f" for c in entry["path"])


async def test_a_100_kb_path_is_stored_bounded(
        client: httpx.AsyncClient, app: FastAPI) -> None:
    since, address = datetime.now(UTC), new_address()
    status, _ = await send_raw(app, "GET", "/v1/products/" + "x" * 100_000,
                               [(b"x-api-key", FORGED.encode())], client=(address, 40_000))
    assert status == 401
    (entry,) = await entries_from(client, address, since)
    assert len(entry["path"]) == 500
    assert entry["path"].startswith("/v1/products/xxx") and entry["path"].endswith("\u2026")


async def test_refusals_after_a_window_ends_open_a_new_entry(container: Container) -> None:
    """The writer appends a burst once its window is over; later refusals start anew."""
    trail = AuditTrail(container.database.write, flush_seconds=0.02, burst_seconds=0.5)
    address, since = new_address(), datetime.now(UTC)

    def refusal(n: int) -> AuditRecord:
        return AuditRecord(at=datetime.now(UTC), principal_id=None, principal_name=None,
                           role=None, method="GET", path=f"/v1/guess-{n}", route=None,
                           status=429, outcome="refused", request_id=f"r{n}", ip=address)

    trail.start()
    try:
        for n in range(3):
            trail.count_refusal(refusal(n))
        first = await _entries_within(container, address, since, 1)
        for n in range(3, 5):
            trail.count_refusal(refusal(n))
        entries = await _entries_within(container, address, since, 2)
    finally:
        await trail.close()
    assert first[0].record.count == 3 and first[0].record.path == "/v1/guess-0"
    assert [e.record.count for e in reversed(entries)] == [3, 2]
    assert all(e.record.last_at is not None and e.record.last_at >= e.record.at
               for e in entries)


async def _entries_within(container: Container, address: str, since: datetime,
                          expected: int) -> list[AuditEntry]:
    """The audit entries of ``address``, once there are ``expected`` (polled, 10 s at most:
    a window ends on its own clock, and the writer appends on its own)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        page = await container.queries.audit(principal_id=None, outcome=None, method=None,
                                             start=since, end=None, limit=500, cursor=None)
        found = [e for e in page.items if e.record.ip == address]
        if len(found) >= expected or asyncio.get_running_loop().time() > deadline:
            assert len(found) == expected, found
            return found
        await asyncio.sleep(0.05)


async def test_processes_sharing_redis_share_one_failure_budget(redis_prefix: str) -> None:
    limiters = [RateLimiter(per_role={}, burst_seconds=1.0, own_limit=lambda _: None,
                            redis_url=REDIS_URL, prefix=redis_prefix,
                            timeout_seconds=LOADED_MACHINE) for _ in range(2)]
    budgets = [FailureBudget(limiter, limit=BUDGET, per_minute=1) for limiter in limiters]
    address = new_address()
    for limiter in limiters:
        await limiter.start()
    try:
        for n in range(BUDGET):  # the budget spent by the two processes in turn
            assert budgets[n % 2].admit(address) is None
            await budgets[n % 2].spend(address)
            budgets[n % 2].release(address)
        # The process that refused last knows the budget is gone; the other learns it at
        # its next refusal (Redis answers the shared count), not after a budget of its own.
        first = budgets[(BUDGET - 1) % 2].admit(address)
        other = budgets[BUDGET % 2]
        assert other.admit(address) is None
        await other.spend(address)
        other.release(address)
        second = other.admit(address)
        elsewhere = budgets[0].admit(new_address())
    finally:
        for limiter in limiters:
            await limiter.close()
    for verdict in (first, second):
        assert verdict is not None and not verdict.allowed and verdict.retry_after >= 1
    assert not any(limiter.degraded for limiter in limiters)  # it was Redis that answered
    assert elsewhere is None


async def test_a_flood_of_bad_keys_over_real_sockets_leaves_a_few_counted_entries(
        backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> None:
    database = await databases.new(backend)
    server = start_server(database, tmp_path_factory.mktemp("flood"), extra_env={
        "STOCKLINE_AUTH_FAILURE_LIMIT": str(BUDGET), "STOCKLINE_AUTH_FAILURE_PER_MINUTE": "1"})
    sent, since = 300, datetime.now(UTC)
    try:
        # The flood comes from 127.0.0.3, the admin reads from 127.0.0.2: both loopback.
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                     transport=httpx.AsyncHTTPTransport(
                                         local_address="127.0.0.3")) as attacker:
            answers = await asyncio.gather(*(
                attacker.get(f"/v1/products/guess-{n}", headers={"X-API-Key": FORGED})
                for n in range(sent)))
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                     headers={"X-API-Key": ADMIN_KEY},
                                     transport=httpx.AsyncHTTPTransport(
                                         local_address="127.0.0.2")) as admin:
            entries = [e for e in await audit(admin, **{"from": since})
                       if e["ip"] == "127.0.0.3"]
    finally:
        stop_server(server)
    statuses = Counter(a.status_code for a in answers)
    # A hundred connections at once: still no more checks than the budget.
    assert statuses == {401: BUDGET, 429: sent - BUDGET}, statuses
    assert sum(e["count"] for e in entries) == sent
    assert len(entries) == statuses[401] + 1, entries
