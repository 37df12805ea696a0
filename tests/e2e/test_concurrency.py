"""Concurrency through real sockets against the live server, on SQLite and on PostgreSQL.

Many clients at once (asyncio + httpx, one request per worker, each on its own
connection), then totals read back from the API: levels, the ledger, the sales list.
A status code alone proves nothing; every test checks what was actually recorded.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.factories import (
    assert_ledger_identity,
    ledger,
    level,
    line,
    receive,
    stocked,
)

pytestmark = pytest.mark.slow

# A run that takes longer than this is treated as hung (deadlock, lost wake-up).
RACE_TIMEOUT_S = 45.0


@pytest.fixture
async def live(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server that can hold well over 200 connections at once."""
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key},
                                 limits=limits, timeout=httpx.Timeout(60.0)) as client:
        yield client


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


def _log_tail(server: LiveServer, chars: int = 4000) -> str:
    try:
        return server.log_path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"(cannot read {server.log_path}: {exc})"


def _kind(response: httpx.Response) -> tuple[int, str | None]:
    """(status, problem code) of an answer; the code is None for a success."""
    if response.status_code < 400:
        return response.status_code, None
    try:
        code = response.json().get("code")
    except ValueError:
        code = f"(not JSON: {response.text[:200]!r})"
    return response.status_code, code


def _check_kinds(responses: Iterable[httpx.Response], allowed: set[tuple[int, str | None]],
                 server: LiveServer) -> Counter[tuple[int, str | None]]:
    """Every answer is one of ``allowed`` (never a 5xx); returns how many of each."""
    responses = list(responses)
    kinds = Counter(_kind(r) for r in responses)
    unexpected = {k: n for k, n in kinds.items() if k not in allowed}
    if unexpected:
        samples = [r.text[:500] for r in responses if _kind(r) in unexpected][:3]
        pytest.fail(f"unexpected answers {unexpected} (all: {dict(kinds)}); samples: "
                    f"{samples}\n--- server log tail ---\n{_log_tail(server)}")
    return kinds


async def _race(server: LiveServer, requests: Iterable[Awaitable[httpx.Response]],
                within_s: float = RACE_TIMEOUT_S) -> tuple[list[httpx.Response], float]:
    """Send all requests at once; their answers in order, and the wall time taken."""
    started = time.perf_counter()
    try:
        responses = await asyncio.wait_for(asyncio.gather(*requests), within_s)
    except TimeoutError:
        pytest.fail(f"requests still unanswered after {within_s} s (hung?)\n"
                    f"--- server log tail ---\n{_log_tail(server)}")
    except httpx.TransportError as exc:
        pytest.fail(f"transport error {type(exc).__name__}: {exc}\n"
                    f"--- server log tail ---\n{_log_tail(server)}")
    return list(responses), time.perf_counter() - started


async def _all_sales(client: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    """Every sale GET /v1/sales lists for ``filters``, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {**filters, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/sales", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def _units(sales: Iterable[dict[str, Any]]) -> Counter[str]:
    sold: Counter[str] = Counter()
    for sale in sales:
        for ln in sale["lines"]:
            sold[ln["sku"]] += ln["quantity"]
    return sold


def _sale(client: httpx.AsyncClient, store: str, lines: list[dict[str, Any]],
          headers: dict[str, str] | None = None) -> Awaitable[httpx.Response]:
    return client.post("/v1/sales/record", json={"location_id": store, "lines": lines},
                       headers=headers)


async def _assert_sales_match_ledger(client: httpx.AsyncClient, store: str, sku: str,
                                     sale_ids: set[str], units_sold: int) -> dict[str, Any]:
    """The ledger identity, and the ledger's sale entries are exactly those of ``sale_ids``."""
    current = await assert_ledger_identity(client, store, sku)
    assert current["reserved"] == 0
    assert current["available"] == current["on_hand"]
    entries = [e for e in await ledger(client, store, sku) if e["type"] == "sale"]
    assert {e["reference"] for e in entries} <= sale_ids, "a ledger entry of an unknown sale"
    assert len({e["reference"] for e in entries}) == len(entries), "two entries for one sale"
    assert -sum(e["delta"] for e in entries) == units_sold
    return current


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def test_200_buyers_for_the_last_50_units(live: httpx.AsyncClient, backend: str,
                                                live_server: LiveServer) -> None:
    store, (sku,) = await stocked(live, quantity=50)
    responses, elapsed = await _race(
        live_server, [_sale(live, store, [line(sku, 1)]) for _ in range(200)])
    kinds = _check_kinds(responses, {(201, None), (409, "insufficient_stock")}, live_server)
    successes, refusals = kinds[(201, None)], kinds[(409, "insufficient_stock")]
    _report(f"\n[{backend}] flash sale, 200 buyers for 50 units: {successes} sold, "
            f"{refusals} refused (409 insufficient_stock), {elapsed:.2f} s, "
            f"{_rate(successes, elapsed):.0f} sales/s, {_rate(200, elapsed):.0f} requests/s")
    assert (successes, refusals) == (50, 150)

    for r in responses:
        if r.status_code == 409:
            body = r.json()
            assert body["location_id"] == store
            assert [(ln["sku"], ln["requested"]) for ln in body["lines"]] == [(sku, 1)]
            assert body["lines"][0]["available"] == 0
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 50

    recorded = await _all_sales(live, sku=sku)
    assert len(recorded) == 50
    assert {s["id"] for s in recorded} == created
    assert _units(recorded) == {sku: 50}
    current = await _assert_sales_match_ledger(live, store, sku, created, 50)
    assert current["on_hand"] == 0
    assert current["available"] == 0


async def test_multi_line_sales_are_all_or_nothing(live: httpx.AsyncClient, backend: str,
                                                   live_server: LiveServer) -> None:
    # One SKU nearly gone, the others plentiful but not enough for every sale: many sales
    # are refused for one short line while their other lines are still in stock.
    initial = [3, 25, 40, 60]
    store, skus = await stocked(live, quantity=1, skus=len(initial))
    for sku, quantity in zip(skus, initial, strict=True):
        await receive(live, store, sku, quantity - 1)
    stock = dict(zip(skus, initial, strict=True))

    rng = random.Random(20240601)
    orders = []
    for _ in range(100):
        chosen = rng.sample(skus, rng.randint(1, 3))
        orders.append([line(sku, rng.randint(1, 3)) for sku in chosen])
    responses, elapsed = await _race(live_server, [_sale(live, store, o) for o in orders])
    kinds = _check_kinds(responses, {(201, None), (409, "insufficient_stock")}, live_server)
    successes, refusals = kinds[(201, None)], kinds[(409, "insufficient_stock")]

    partly_short = 0
    for order, r in zip(orders, responses, strict=True):
        if r.status_code == 201:
            sale = r.json()
            assert [(ln["sku"], ln["quantity"]) for ln in sale["lines"]] == [
                (ln["sku"], ln["quantity"]) for ln in order]
        else:
            wanted = {ln["sku"]: ln["quantity"] for ln in order}
            named = r.json()["lines"]
            assert named, r.text
            for short in named:
                assert short["sku"] in wanted, r.text
                assert short["requested"] == wanted[short["sku"]], r.text
                assert short["available"] < short["requested"], r.text
            partly_short += len(named) < len(wanted)
    _report(f"\n[{backend}] 100 multi-line sales over {len(skus)} SKUs: {successes} sold, "
            f"{refusals} refused ({partly_short} of them with other lines in stock), "
            f"{elapsed:.2f} s, {_rate(successes, elapsed):.0f} sales/s")
    assert successes > 0
    assert partly_short > 0, "the race never refused a sale with some lines in stock"

    created = [r.json() for r in responses if r.status_code == 201]
    created_ids = {s["id"] for s in created}
    sold = _units(created)
    recorded = await _all_sales(live, location_id=store)
    assert len(recorded) == successes, "a refused sale left a row, or a sale went missing"
    assert {s["id"] for s in recorded} == created_ids
    assert _units(recorded) == sold
    for sku in skus:
        current = await _assert_sales_match_ledger(live, store, sku, created_ids, sold[sku])
        assert stock[sku] - current["on_hand"] == sold[sku], (sku, current, sold[sku])


async def test_one_idempotency_key_raced_50_times_sells_once(
        live: httpx.AsyncClient, backend: str, live_server: LiveServer) -> None:
    store, (sku,) = await stocked(live, quantity=10)
    key = f"race-{uuid.uuid4().hex}"
    responses, elapsed = await _race(live_server, [
        _sale(live, store, [line(sku, 2, "19.99")], headers={"Idempotency-Key": key})
        for _ in range(50)])
    kinds = _check_kinds(responses, {(201, None), (409, "idempotency_key_in_use")},
                         live_server)
    ok = [r for r in responses if r.status_code == 201]
    replayed = [r for r in ok if r.headers.get("Idempotent-Replayed") == "true"]
    first = [r for r in ok if r.headers.get("Idempotent-Replayed") is None]
    in_use = kinds[(409, "idempotency_key_in_use")]
    _report(f"\n[{backend}] 50 requests with one Idempotency-Key: {len(first)} executed, "
            f"{len(replayed)} replayed, {in_use} refused (409 idempotency_key_in_use), "
            f"{elapsed:.2f} s")
    assert len(first) == 1, [r.headers.get("Idempotent-Replayed") for r in ok]
    assert len(first) + len(replayed) == len(ok)
    sale = first[0].json()
    assert all(r.json() == sale for r in ok)

    recorded = await _all_sales(live, sku=sku)
    assert [s["id"] for s in recorded] == [sale["id"]]
    assert (await live.get(f"/v1/sales/{sale['id']}")).json() == sale
    current = await _assert_sales_match_ledger(live, store, sku, {sale["id"]}, 2)
    assert current["on_hand"] == 8


async def test_receipts_and_sales_race_on_one_level(live: httpx.AsyncClient, backend: str,
                                                    live_server: LiveServer) -> None:
    store, (sku,) = await stocked(live, quantity=20)
    kinds_of_work = ["receipt"] * 50 + ["sale"] * 100
    random.Random(7).shuffle(kinds_of_work)
    receipt = {"location_id": store, "sku": sku, "delta": 1, "reason": "receipt"}
    requests = [live.post("/v1/inventory/update", json=receipt) if kind == "receipt"
                else _sale(live, store, [line(sku, 1)]) for kind in kinds_of_work]
    responses, elapsed = await _race(live_server, requests)

    receipts = [r for k, r in zip(kinds_of_work, responses, strict=True) if k == "receipt"]
    sales = [r for k, r in zip(kinds_of_work, responses, strict=True) if k == "sale"]
    _check_kinds(receipts, {(200, None)}, live_server)
    kinds = _check_kinds(sales, {(201, None), (409, "insufficient_stock")}, live_server)
    successes, refusals = kinds[(201, None)], kinds[(409, "insufficient_stock")]
    _report(f"\n[{backend}] 50 receipts of +1 racing 100 sales of 1 from 20: "
            f"{successes} sold, {refusals} refused, {elapsed:.2f} s, "
            f"{_rate(len(responses), elapsed):.0f} writes/s")
    assert successes >= 20  # the first 20 units were there before the race began

    created = {r.json()["id"] for r in sales if r.status_code == 201}
    recorded = await _all_sales(live, sku=sku)
    assert {s["id"] for s in recorded} == created
    assert len(recorded) == successes
    current = await _assert_sales_match_ledger(live, store, sku, created, successes)
    assert current["on_hand"] == 20 + 50 - successes
    entries = await ledger(live, store, sku)
    assert sum(e["delta"] for e in entries if e["type"] == "receipt") == 20 + 50
    assert sum(1 for e in entries if e["type"] == "receipt") == 1 + 50


async def test_opposite_order_sales_do_not_deadlock(live: httpx.AsyncClient, backend: str,
                                                    live_server: LiveServer) -> None:
    # 75 of each SKU for 100 sales that each want one of both: most succeed (so both rows
    # are locked by many transactions in opposite line orders), the last ones are refused.
    store, (x, y) = await stocked(live, quantity=75, skus=2)
    orders = [[line(x), line(y)] if n % 2 == 0 else [line(y), line(x)] for n in range(100)]
    responses, elapsed = await _race(live_server, [_sale(live, store, o) for o in orders],
                                     within_s=30.0)
    kinds = _check_kinds(responses, {(201, None), (409, "insufficient_stock")}, live_server)
    successes, refusals = kinds[(201, None)], kinds[(409, "insufficient_stock")]
    _report(f"\n[{backend}] 50 sales [X, Y] racing 50 sales [Y, X], 75 of each: "
            f"{successes} sold, {refusals} refused, {elapsed:.2f} s, "
            f"{_rate(successes, elapsed):.0f} sales/s")
    assert (successes, refusals) == (75, 25)

    created = {r.json()["id"] for r in responses if r.status_code == 201}
    recorded = await _all_sales(live, location_id=store)
    assert {s["id"] for s in recorded} == created
    assert _units(recorded) == {x: 75, y: 75}
    for sku in (x, y):
        current = await _assert_sales_match_ledger(live, store, sku, created, 75)
        assert current["on_hand"] == 0
    assert (await level(live, store, x))["version"] == (await level(live, store, y))["version"]
