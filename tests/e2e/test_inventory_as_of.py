"""Levels as they were at an instant (``as_of``), on both backends: answers equal snapshots
taken while random flows ran (receipts, sales, transfers, holds), one level and the lists
(with and without a location, paginated, as CSV), the edges of time, scope and bad input."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_problem,
    collect,
    create_product,
    create_store,
    create_warehouse,
    hold_line,
    insert_api_key,
    ledger,
    line,
    receive,
    receive_transfer,
    record_sale,
    reserve,
    send_as,
    ship_transfer,
)

KNOWN = ("on_hand", "reserved", "available", "in_transit")
NOT_RECORDED = ("incoming", "reorder_point", "reorder_quantity", "safety_stock", "version",
                "updated_at")


def stamp(when: datetime) -> str:
    return f"{when:%Y-%m-%dT%H:%M:%S.%f}Z"


async def level_then(client: httpx.AsyncClient, location_id: str, sku: str,
                     when: str) -> dict[str, Any]:
    response = await client.get(f"/v1/inventory/{location_id}/{sku}", params={"as_of": when})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Flows:
    """Random trading between a warehouse and two stores over a few SKUs."""

    client: httpx.AsyncClient
    rng: random.Random
    locations: list[str]
    skus: list[str]
    transfers: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)

    async def levels(self) -> dict[tuple[str, str], tuple[int, ...]]:
        found = {}
        for location in self.locations:
            for x in await collect(self.client, "/v1/inventory", {"location_id": location}):
                found[x["location_id"], x["sku"]] = tuple(x[k] for k in KNOWN)
        return found

    async def step(self) -> None:
        where, sku = self.rng.choice(self.locations), self.rng.choice(self.skus)
        there = self.rng.choice([x for x in self.locations if x != where])
        move = self.rng.choice(["receive", "sell", "ship", "arrive", "cancel", "close",
                                "hold", "release", "commit"])
        c = self.client
        if move == "receive":
            await receive(c, where, sku, self.rng.randint(1, 20))
        elif move == "sell":
            await c.post("/v1/sales/record", json={"location_id": where, "lines": [
                line(sku, self.rng.randint(1, 4))]})
        elif move == "ship":
            sent = await c.post("/v1/stock-movements/transfer", json={
                "from_location_id": where, "to_location_id": there,
                "lines": [{"sku": sku, "quantity": self.rng.randint(1, 5)}]})
            if sent.status_code == 201:
                self.transfers.append(sent.json()["id"])
        elif move == "hold":
            held = await c.post("/v1/reservations", json={
                "location_id": where, "lines": [hold_line(sku, self.rng.randint(1, 3))],
                "ttl_seconds": 3600})
            if held.status_code == 201:
                self.holds.append(held.json()["id"])
        elif move in ("arrive", "cancel", "close") and self.transfers:
            await self.settle(move, self.rng.choice(self.transfers))
        elif move in ("release", "commit") and self.holds:
            await c.post(f"/v1/reservations/{self.holds.pop()}/{move}", json={})

    async def settle(self, move: str, transfer_id: str) -> None:
        path = f"/v1/stock-movements/transfers/{transfer_id}"
        if move == "cancel":
            await self.client.post(f"{path}/cancel", json={})
            return
        if move == "close":
            await self.client.post(f"{path}/close", json={
                "remainder": self.rng.choice(["lost", "return"])})
            return
        lines = (await self.client.get(path)).json()["lines"]
        body = {"lines": [{"sku": x["sku"], "quantity": 1} for x in lines]} \
            if self.rng.random() < 0.5 else {}
        await self.client.post(f"{path}/receive", json=body)


async def test_as_of_answers_equal_snapshots_taken_during_random_flows(
        client: httpx.AsyncClient) -> None:
    seed = random.randrange(2**32)
    locations = [(await create_warehouse(client))["code"],
                 (await create_store(client))["code"], (await create_store(client))["code"]]
    flows = Flows(client, random.Random(seed), locations,
                  [(await create_product(client))["sku"] for _ in range(3)])
    snapshots: list[tuple[str, dict[tuple[str, str], tuple[int, ...]]]] = []
    for _ in range(8):
        for _ in range(4):
            await flows.step()
        snapshots.append((stamp(datetime.now(UTC)), await flows.levels()))
    for when, levels in snapshots:
        for (location, sku), expected in levels.items():
            then = await level_then(client, location, sku, when)
            assert tuple(then[k] for k in KNOWN) == expected, (seed, when, location, sku)
        for location in locations:
            rows = await collect(client, "/v1/inventory", {"location_id": location,
                                                           "as_of": when, "limit": 2})
            got = {(x["location_id"], x["sku"]): tuple(x[k] for k in KNOWN) for x in rows}
            # Levels made after the snapshot answer zeros then.
            want = {k: levels.get(k, (0, 0, 0, 0)) for k in got}
            assert got == want, (seed, when, location)
            assert {k for k in levels if k[0] == location} <= set(got)
    for location in locations:
        for sku in flows.skus:
            await assert_on_hand_is_the_ledger_replayed(client, location, sku)
    for location in locations:
        reconcile = (await client.get("/v1/admin/reconcile",
                                      params={"location_id": location})).json()
        assert reconcile["drift"] == [], seed


async def assert_on_hand_is_the_ledger_replayed(client: httpx.AsyncClient, location: str,
                                                sku: str) -> None:
    """At each entry's recorded_at, on_hand is the sum of the deltas recorded by then."""
    entries = await ledger(client, location, sku)
    for entry in entries:
        when = datetime.fromisoformat(entry["recorded_at"])
        by_then = [e for e in entries if datetime.fromisoformat(e["recorded_at"]) <= when]
        replayed = sum(e["delta"] for e in by_then)
        then = await level_then(client, location, sku, stamp(when))
        assert then["on_hand"] == replayed == by_then[-1]["balance_after"], (location, entry)


async def busy_level(client: httpx.AsyncClient) -> tuple[str, str, str]:
    warehouse = (await create_warehouse(client))["code"]
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, warehouse, sku, 40)
    sent = await ship_transfer(client, warehouse, store, (sku, 15))
    await receive_transfer(client, sent["id"], (sku, 10))
    await record_sale(client, store, [line(sku, 3)])
    await reserve(client, store, [hold_line(sku, 2)], ttl_seconds=3600)
    return warehouse, store, sku


async def test_a_level_as_of_says_what_is_known_then_and_nulls_the_rest(
        client: httpx.AsyncClient) -> None:
    warehouse, store, sku = await busy_level(client)
    then = await level_then(client, store, sku, stamp(datetime.now(UTC)))
    assert tuple(then[k] for k in KNOWN) == (7, 2, 5, 5)
    assert all(then[k] is None for k in (*NOT_RECORDED, "lots"))
    assert then["as_of"] is not None
    now = (await client.get(f"/v1/inventory/{store}/{sku}")).json()
    assert now["as_of"] is None and now["version"] is not None and now["lots"] == []


async def test_before_anything_was_recorded_a_level_had_nothing(
        client: httpx.AsyncClient) -> None:
    _, store, sku = await busy_level(client)
    first = datetime.fromisoformat((await ledger(client, store, sku))[0]["recorded_at"])
    then = await level_then(client, store, sku, stamp(first - timedelta(microseconds=1)))
    # The transfer was on its way before the store received anything of it.
    assert tuple(then[k] for k in KNOWN) == (0, 0, 0, 15)
    then = await level_then(client, store, sku, "2001-01-01")
    assert tuple(then[k] for k in KNOWN) == (0, 0, 0, 0)
    assert then["as_of"].startswith("2001-01-01T00:00:00")


async def test_an_instant_after_now_is_answered_as_now(client: httpx.AsyncClient) -> None:
    warehouse, store, sku = await busy_level(client)
    before = datetime.now(UTC)
    then = await level_then(client, store, sku, "2999-01-01T00:00:00Z")
    now = (await client.get(f"/v1/inventory/{store}/{sku}")).json()
    assert tuple(then[k] for k in KNOWN) == tuple(now[k] for k in KNOWN)
    answered = datetime.fromisoformat(then["as_of"])
    assert before <= answered <= datetime.now(UTC)
    rows = await collect(client, "/v1/inventory", {"sku": sku, "as_of": "2999-01-01"})
    assert {x["location_id"]: x["on_hand"] for x in rows} == {store: 7, warehouse: 25}


@pytest.mark.parametrize("remainder", ["lost", "return"])
async def test_a_closed_transfer_s_remainder_is_in_transit_until_the_close_only(
        client: httpx.AsyncClient, remainder: str) -> None:
    warehouse, store, sku = await busy_level(client)  # 15 shipped, 10 received
    (sent,) = {e["reference"] for e in await ledger(client, warehouse, sku)
               if e["type"] == "transfer_out"}
    before = stamp(datetime.now(UTC))
    closed = await client.post(f"/v1/stock-movements/transfers/{sent}/close",
                               json={"remainder": remainder})
    assert closed.status_code == 200, closed.text
    after = stamp(datetime.now(UTC))
    assert (await level_then(client, store, sku, before))["in_transit"] == 5
    assert (await level_then(client, store, sku, after))["in_transit"] == 0
    back = 5 if remainder == "return" else 0
    assert (await level_then(client, warehouse, sku, after))["on_hand"] == 25 + back
    rows = await collect(client, "/v1/inventory", {"sku": sku, "as_of": after})
    now = await collect(client, "/v1/inventory", {"sku": sku})
    assert {(x["location_id"], x["on_hand"], x["in_transit"]) for x in rows} == {
        (x["location_id"], x["on_hand"], x["in_transit"]) for x in now}


async def test_the_list_as_of_without_a_location_answers_every_level_in_scope(
        client: httpx.AsyncClient, database_url: str) -> None:
    warehouse, store, sku = await busy_level(client)
    first = (await ledger(client, store, sku))[0]["recorded_at"]
    rows = await collect(client, "/v1/inventory", {"as_of": first, "sku": sku, "limit": 1})
    assert {x["location_id"]: (x["on_hand"], x["in_transit"]) for x in rows} == {
        warehouse: (25, 0), store: (10, 5)}
    staff = (await insert_api_key(database_url, "store_staff", location_ids=[store])).key
    mine = await send_as(client, staff, "GET", "/v1/inventory",
                         params={"as_of": first, "sku": sku})
    assert mine.status_code == 200, mine.text
    assert [x["location_id"] for x in mine.json()["items"]] == [store]


async def test_the_list_as_of_filters_by_reorder_point_then(client: httpx.AsyncClient) -> None:
    warehouse, store, sku = await busy_level(client)
    assert (await client.put(f"/v1/inventory/{store}/{sku}/settings",
                             json={"reorder_point": 6})).status_code == 200
    first = (await ledger(client, store, sku))[0]["recorded_at"]
    for low, expected in ((True, []), (False, [store])):
        rows = await collect(client, "/v1/inventory", {
            "as_of": first, "sku": sku, "below_reorder_point": str(low).lower()})
        assert [x["location_id"] for x in rows if x["location_id"] == store] == expected
    now = await collect(client, "/v1/inventory", {"sku": sku, "below_reorder_point": "true"})
    assert [x["location_id"] for x in now] == [store]


async def test_the_list_as_of_exports_as_csv_with_the_same_columns(
        client: httpx.AsyncClient) -> None:
    warehouse, store, sku = await busy_level(client)
    when = (await ledger(client, store, sku))[0]["recorded_at"]
    response = await client.get("/v1/inventory", params={"sku": sku, "as_of": when},
                                headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    plain = await client.get("/v1/inventory", params={"sku": sku},
                             headers={"Accept": "text/csv"})
    assert plain.text.splitlines()[0] == response.text.splitlines()[0]
    assert {r["location_id"]: (r["on_hand"], r["version"]) for r in rows} == {
        warehouse: ("25", ""), store: ("10", "")}
    assert all(r["as_of"] for r in rows)


async def test_a_lotted_level_as_of_is_the_sum_of_its_lots_then(
        client: httpx.AsyncClient) -> None:
    store, sku = (await create_store(client))["code"], (await create_product(client))["sku"]
    for lot, units in (("L-1", 5), ("L-2", 7)):
        assert (await client.post("/v1/inventory/update", json={
            "location_id": store, "sku": sku, "delta": units, "reason": "receipt",
            "lot": lot})).status_code == 200
    mid = stamp(datetime.now(UTC))
    await record_sale(client, store, [line(sku, 6)])  # takes from both lots
    assert {e["lot"] for e in await ledger(client, store, sku)} == {"L-1", "L-2"}
    assert (await level_then(client, store, sku, mid))["on_hand"] == 12
    assert (await level_then(client, store, sku, stamp(datetime.now(UTC))))["on_hand"] == 6


async def test_a_key_reads_the_past_only_where_it_reads_the_ledger(
        client: httpx.AsyncClient, database_url: str) -> None:
    warehouse, store, sku = await busy_level(client)
    staff = (await insert_api_key(database_url, "store_staff", location_ids=[store])).key
    partner = (await insert_api_key(database_url, "partner", location_ids=[warehouse])).key
    when = stamp(datetime.now(UTC))
    own = await send_as(client, staff, "GET", f"/v1/inventory/{store}/{sku}",
                        params={"as_of": when})
    assert own.status_code == 200, own.text
    for key in (staff, partner):
        for url, params in ((f"/v1/inventory/{warehouse}/{sku}", {"as_of": when}),
                            ("/v1/inventory", {"as_of": when, "location_id": warehouse})):
            assert_problem(await send_as(client, key, "GET", url, params=params), 403,
                           "forbidden")
    assert_problem(await send_as(client, partner, "GET", "/v1/inventory",
                                 params={"as_of": when}), 403, "forbidden")


async def test_a_bad_as_of_is_a_422_and_an_unknown_level_a_404(
        client: httpx.AsyncClient) -> None:
    _, store, sku = await busy_level(client)
    for url in (f"/v1/inventory/{store}/{sku}", "/v1/inventory"):
        for bad in ("yesterday", "2024-13-01", "2024-01-01T10:00:00"):
            assert_problem(await client.get(url, params={"as_of": bad}), 422,
                           "validation_error")
    for url in (f"/v1/inventory/NOPE-{sku}/{sku}", f"/v1/inventory/{store}/NOPE-{sku}"):
        assert_problem(await client.get(url, params={"as_of": "2024-01-01"}), 404, "not_found")
