"""Stock is conserved while transfers, sales and returns race, on SQLite and PostgreSQL.

The acceptance test of transfers: five locations, a few SKUs with received stock (one of
them in lots), then 50 workers ship, receive (all or part), cancel and close short (the
rest lost or sent back) random transfers among the five locations through the live
server (real sockets), while other workers sell and restock-return sales at the same
time. Afterwards, read back from the API:

- per SKU, the sum over locations of on_hand + in_transit equals receipts - sales +
  restocked returns - units lost in transit (stock on its way is counted once: at its
  destination; a loss is on its transfer's line and a ``transfer_lost`` ledger row);
- every level's ledger identity holds (on_hand is the sum of its deltas, balance_after
  the running sum), available >= 0, a lotted level's lots add up to its on_hand;
- each level's in_transit equals what the open transfers carry to it, and each
  transfer's ledger entries (out, in, cancel) match its lines;
- no request got a 5xx, and (PostgreSQL) no transaction was aborted by a deadlock.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import LiveServer
from tests.factories import (
    collect,
    create_product,
    create_store,
    create_warehouse,
    ledger,
    level,
    line,
    lots,
    moves,
    receive,
)
from tests.transfer_checks import check_transfer

pytestmark = pytest.mark.slow

TRANSFER_WORKERS, TRANSFER_ROUNDS = 50, 8
SELLERS, SALE_ROUNDS = 20, 10
RACE_TIMEOUT_S = 60.0
TRANSFERS = "/v1/stock-movements/transfers"
RETURNS_PATH = "/v1/sales/{sale_id}/returns"

# What each kind of request may answer while everything races; anything else fails.
ALLOWED: dict[str, set[tuple[int, str | None]]] = {
    "ship": {(201, None), (409, "insufficient_stock")},
    "receive": {(200, None), (409, "invalid_state"), (409, "quantity_exceeded")},
    "cancel": {(200, None), (409, "invalid_state")},
    "close": {(200, None), (409, "invalid_state")},
    "sale": {(201, None), (409, "insufficient_stock")},
    "return": {(201, None)},
}


@pytest.fixture
async def live(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    # No keep-alive: a pooled connection that sat idle while the race thinned out could be
    # closed by the server just as it is reused, a client-side race that proves nothing.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
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


@dataclass
class World:
    locations: list[str]
    stores: list[str]
    skus: list[str]
    received: Counter[str] = field(default_factory=Counter)


@dataclass
class Tally:
    """What the clients saw: every answer by kind, and the units they moved."""

    answers: Counter[tuple[str, int, str | None]] = field(default_factory=Counter)
    shipped: dict[str, dict[str, int]] = field(default_factory=dict)  # id -> {sku: qty}
    open: list[str] = field(default_factory=list)
    sold: Counter[str] = field(default_factory=Counter)
    restocked: Counter[str] = field(default_factory=Counter)
    sale_ids: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    retries: int = 0

    async def post(self, client: httpx.AsyncClient, url: str,
                   body: dict[str, Any]) -> httpx.Response:
        """A write under its own Idempotency-Key, so that a retry can never apply it twice.

        A transport error or a concurrent attempt with the key (409) is retried a few
        times with the same key; the answer is then the first one, replayed.
        """
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(1, 6):
            try:
                response = await client.post(url, json=body, headers=headers)
            except httpx.TransportError:
                if attempt == 5:
                    raise
            else:
                if response.status_code != 409 or response.json().get("code") != (
                        "idempotency_key_in_use"):
                    return response
            self.retries += 1
            await asyncio.sleep(0.05 * attempt)
        return response

    def note(self, kind: str, response: httpx.Response) -> bool:
        """Count an answer; True for a success. An answer not allowed is kept as a failure."""
        code = None
        if response.status_code >= 400:
            try:
                code = response.json().get("code")
            except ValueError:
                code = "(not JSON)"
        self.answers[(kind, response.status_code, code)] += 1
        if (response.status_code, code) not in ALLOWED[kind]:
            self.failures.append(f"{kind}: {response.status_code} {response.text[:300]}")
        return response.status_code < 300

    def count(self, kind: str) -> int:
        return sum(n for (k, status, _), n in self.answers.items() if k == kind and status < 300)


async def _world(client: httpx.AsyncClient) -> World:
    """Two warehouses and three stores; four SKUs everywhere, the first in two lots at DC 1."""
    warehouses = [(await create_warehouse(client))["code"] for _ in range(2)]
    stores = [(await create_store(client))["code"] for _ in range(3)]
    world = World(locations=warehouses + stores, stores=stores,
                  skus=[(await create_product(client))["sku"] for _ in range(4)])
    for lot, expires in (("EARLY", "2031-01-01"), ("LATER", "2031-09-01")):
        response = await client.post("/v1/inventory/update", json={
            "location_id": warehouses[0], "sku": world.skus[0], "delta": 40,
            "reason": "receipt", "lot": lot, "expires_on": expires})
        assert response.status_code == 200, response.text
        world.received[world.skus[0]] += 40
    for location in world.locations:
        for sku in world.skus:
            if (location, sku) == (warehouses[0], world.skus[0]):
                continue
            quantity = 60 if location in warehouses else 15
            await receive(client, location, sku, quantity)
            world.received[sku] += quantity
    return world


async def _transfer_worker(client: httpx.AsyncClient, world: World, tally: Tally,
                           rng: random.Random) -> None:
    for _ in range(TRANSFER_ROUNDS):
        roll = rng.random()
        if roll < 0.5 or not tally.open:
            origin, destination = rng.sample(world.locations, 2)
            wanted = {sku: rng.randint(1, 6) for sku in rng.sample(world.skus,
                                                                   rng.randint(1, 3))}
            response = await tally.post(client, "/v1/stock-movements/transfer", {
                "from_location_id": origin, "to_location_id": destination,
                "lines": moves(*wanted.items())})
            if tally.note("ship", response):
                tally.shipped[response.json()["id"]] = wanted
                tally.open.append(response.json()["id"])
            continue
        transfer_id = rng.choice(tally.open)  # other workers may be at the same one
        if roll < 0.8:
            body: dict[str, Any] = {}
            if rng.random() < 0.5:  # part of it: sometimes more than is left (409)
                sent = tally.shipped[transfer_id]
                body = {"lines": moves(*[(sku, rng.randint(1, q)) for sku, q in sent.items()
                                         if rng.random() < 0.7] or [next(iter(sent.items()))])}
            response = await tally.post(client, f"{TRANSFERS}/{transfer_id}/receive", body)
            done = tally.note("receive", response) and response.json()["status"] == "received"
        elif roll < 0.9:
            response = await tally.post(client, f"{TRANSFERS}/{transfer_id}/cancel", {})
            done = tally.note("cancel", response)
        else:
            response = await tally.post(client, f"{TRANSFERS}/{transfer_id}/close", {
                "remainder": rng.choice(["lost", "return"])})
            done = tally.note("close", response)
        if done and transfer_id in tally.open:
            tally.open.remove(transfer_id)


async def _seller(client: httpx.AsyncClient, world: World, tally: Tally, rng: random.Random,
                  returns: bool) -> None:
    for _ in range(SALE_ROUNDS):
        store = rng.choice(world.stores)
        wanted = {sku: rng.randint(1, 3) for sku in rng.sample(world.skus, rng.randint(1, 2))}
        response = await tally.post(client, "/v1/sales/record", {
            "location_id": store, "lines": [line(sku, q) for sku, q in wanted.items()]})
        if not tally.note("sale", response):
            continue
        sale = response.json()
        tally.sale_ids.add(sale["id"])
        tally.sold.update(wanted)
        if returns and rng.random() < 0.3:
            back = {sku: rng.randint(1, q) for sku, q in wanted.items()}
            response = await tally.post(client, RETURNS_PATH.format(sale_id=sale["id"]), {
                "lines": moves(*back.items()), "restock": True, "reason": "changed_mind"})
            if tally.note("return", response):
                tally.restocked.update(back)


async def _race(server: LiveServer, work: list[Awaitable[None]]) -> float:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*work), RACE_TIMEOUT_S)
    except TimeoutError:
        pytest.fail(f"workers still busy after {RACE_TIMEOUT_S} s (hung?)\n"
                    f"--- server log tail ---\n{_log_tail(server)}")
    except httpx.TransportError as exc:
        pytest.fail(f"transport error {type(exc).__name__}: {exc}\n"
                    f"--- server log tail ---\n{_log_tail(server)}")
    return time.perf_counter() - started


async def _deadlocks(database_url: str) -> int:
    url = make_url(database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        return int(await conn.fetchval(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))
    finally:
        await conn.close()


async def _all_transfers(client: httpx.AsyncClient, world: World) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for location in world.locations:
        for transfer in await collect(client, TRANSFERS, {"from_location_id": location}):
            found[transfer["id"]] = transfer
    return found


async def _read_levels(client: httpx.AsyncClient, world: World
                       ) -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    """Every level (checked: ledger identity, available >= 0, lots), and every entry."""
    levels: dict[tuple[str, str], dict[str, Any]] = {}
    entries: list[dict[str, Any]] = []
    for location in world.locations:
        for sku in world.skus:
            current = await level(client, location, sku)
            mine = await ledger(client, location, sku)
            running = 0
            for entry in mine:
                running += entry["delta"]
                assert entry["balance_after"] == running, (location, sku, entry)
            assert current["on_hand"] == running, (location, sku, current, running)
            assert current["available"] == current["on_hand"] - current["reserved"] >= 0
            if current["in_transit"] < 0:
                pytest.fail(f"negative in_transit at {location}/{sku}: {current}")
            held = await lots(client, location, sku)
            if held:
                assert sum(x["on_hand"] for x in held) == current["on_hand"], (location, sku)
            levels[(location, sku)] = current
            entries.extend(mine)
    return levels, entries


async def test_stock_is_conserved_while_transfers_sales_and_returns_race(
        live: httpx.AsyncClient, live_server: LiveServer, backend: str,
        server_database_url: str) -> None:
    world = await _world(live)
    paths = (await live.get("/openapi.json")).json()["paths"]
    returns = "post" in paths.get(RETURNS_PATH, {})
    deadlocks_before = (await _deadlocks(server_database_url) if backend == "postgres"
                        else 0)
    tally = Tally()
    rng = random.Random(20240917)
    work: list[Awaitable[None]] = [
        _transfer_worker(live, world, tally, random.Random(rng.random()))
        for _ in range(TRANSFER_WORKERS)]
    work += [_seller(live, world, tally, random.Random(rng.random()), returns)
             for _ in range(SELLERS)]
    elapsed = await _race(live_server, work)
    if tally.failures:
        pytest.fail(f"unexpected answers ({len(tally.failures)}): {tally.failures[:5]}\n"
                    f"all answers: {dict(tally.answers)}\n"
                    f"--- server log tail ---\n{_log_tail(live_server)}")
    assert not any(status >= 500 for _, status, _ in tally.answers), tally.answers

    levels, entries = await _read_levels(live, world)
    transfers = await _all_transfers(live, world)
    statuses = Counter(t["status"] for t in transfers.values())
    requests = sum(tally.answers.values())
    figure = tally.count
    _report(f"\n[{backend}] conservation: {requests} writes by {TRANSFER_WORKERS} transfer "
            f"workers and {SELLERS} sellers in {elapsed:.2f} s ({requests / elapsed:.0f}/s): "
            f"{figure('ship')} transfers shipped "
            f"({tally.answers[('ship', 409, 'insufficient_stock')]} refused short), "
            f"{figure('receive')} receipts, {figure('cancel')} cancelled, "
            f"{figure('close')} closed short, "
            f"{figure('sale')} sales ({sum(tally.sold.values())} units), "
            + (f"{figure('return')} restocking returns ({sum(tally.restocked.values())} units)"
               if returns else "returns left out (no POST /v1/sales/{id}/returns)")
            + f"; transfers by status {dict(statuses)}; "
            f"refused receipts {tally.answers[('receive', 409, 'invalid_state')]} "
            f"invalid_state, {tally.answers[('receive', 409, 'quantity_exceeded')]} "
            f"quantity_exceeded; refused cancels {tally.answers[('cancel', 409, 'invalid_state')]}"
            f"; {tally.retries} retries under the same Idempotency-Key")
    assert figure("ship") >= 100 and figure("receive") >= 30 and figure("cancel") >= 10, (
        tally.answers)
    assert figure("close") >= 5 and figure("sale") >= 50, tally.answers

    # The transfers the API lists are exactly those shipped, each consistent with the ledger.
    assert set(transfers) == set(tally.shipped)
    for transfer_id, transfer in transfers.items():
        check_transfer(transfer, tally.shipped[transfer_id], entries)
    assert statuses["received"] + statuses["cancelled"] + statuses["closed"] < len(transfers), (
        "every transfer closed: in_transit is not being checked")

    # Each level's in_transit is what open transfers carry to it.
    carried: Counter[tuple[str, str]] = Counter()
    lost: Counter[str] = Counter()  # written off in transit by closes
    for transfer in transfers.values():
        for ln in transfer["lines"]:
            carried[(transfer["to_location_id"], ln["sku"])] += ln["in_transit"]
            lost[ln["sku"]] += ln["lost_quantity"]
    for key, current in levels.items():
        assert current["in_transit"] == carried[key], (key, current, carried[key])

    # Sales and returns as recorded, against what the clients were told.
    recorded = [s for sku in world.skus for s in await collect(live, "/v1/sales", {"sku": sku})]
    recorded_ids = {s["id"] for s in recorded if s["location_id"] in world.stores}
    assert recorded_ids == tally.sale_ids
    by_type: dict[str, Counter[str]] = {}
    for entry in entries:
        by_type.setdefault(entry["type"], Counter())[entry["sku"]] += entry["delta"]
    for sku in world.skus:
        assert by_type["receipt"][sku] == world.received[sku], sku
        assert -by_type["sale"][sku] == tally.sold[sku], sku
        assert by_type.get("return", Counter())[sku] == tally.restocked[sku], sku
        total = sum(levels[(loc, sku)]["on_hand"] + levels[(loc, sku)]["in_transit"]
                    for loc in world.locations)
        expected = world.received[sku] - tally.sold[sku] + tally.restocked[sku] - lost[sku]
        assert total == expected, (sku, total, expected)
    units_in_transit = sum(carried.values())
    _report(f"[{backend}] per SKU on_hand + in_transit == receipts - sales + restocked - "
            "lost in transit: "
            + ", ".join(f"{world.received[s] - tally.sold[s] + tally.restocked[s] - lost[s]}"
                        for s in world.skus)
            + f"; {units_in_transit} units still in transit, {sum(lost.values())} lost")

    if backend == "postgres":
        await asyncio.sleep(1.5)  # backends flush their statistics about once a second
        assert await _deadlocks(server_database_url) == deadlocks_before, \
            "a deadlock was resolved"
