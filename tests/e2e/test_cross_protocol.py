"""One concurrency contract across REST, GraphQL and gRPC, on a real ``stockline serve``
(both backends): the same scenario through each protocol expects the same outcome; 150
buyers at once, 50 on each protocol, for 50 units sell exactly 50; a key used on one
protocol and retried on another replays the first answer."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import httpx
import pytest

from stockline.entrypoints.grpc.v1 import common_pb2, inventory_pb2, sales_pb2
from tests.factories import assert_ledger_identity, create_store, level, random_sku, stocked
from tests.grpc_support import GrpcServer, Stubs, detail, reason, rest_client, serving
from tests.grpc_support import stubs as open_stubs

PROTOCOLS = ("rest", "graphql", "grpc")
SALE = """mutation ($input: RecordSaleInput!, $key: String) {
  recordSale(input: $input, idempotencyKey: $key) {
    sale { id units } userErrors { code field message } } }"""
UPDATE = """mutation ($input: UpdateInventoryInput!, $key: String) {
  updateInventory(input: $input, idempotencyKey: $key) {
    level { onHand version } userErrors { code field message } } }"""
SHORT_LINE = re.compile(r"^(?P<sku>\S+): requested (?P<req>\d+), available (?P<avail>\d+)$")


@dataclass(frozen=True)
class Answer:
    """What a write answered, in no protocol's terms."""

    code: str  # "ok" or the REST problem code
    sale_id: str | None = None
    units: int | None = None
    short: tuple[tuple[str, int, int], ...] = ()


class Client(Protocol):
    async def sell(self, store: str, sku: str, quantity: int, *, key: str | None = None,
                   api_key: str | None = None) -> Answer: ...

    async def change(self, store: str, sku: str, delta: int,
                     expected_version: int | None) -> Answer: ...


@dataclass
class Rest:
    http: httpx.AsyncClient

    async def sell(self, store: str, sku: str, quantity: int, *, key: str | None = None,
                   api_key: str | None = None) -> Answer:
        headers = {"Idempotency-Key": key} if key else {}
        if api_key:
            headers["X-API-Key"] = api_key
        answer = await self.http.post("/v1/sales/record", headers=headers,
                                      json={"location_id": store, "lines": [_line(sku, quantity)]})
        body = answer.json()
        if answer.status_code == 201:
            return Answer("ok", body["id"], body["units"])
        return Answer(body["code"], short=tuple(
            (x["sku"], x["requested"], x["available"]) for x in body.get("lines") or ()))

    async def change(self, store: str, sku: str, delta: int,
                     expected_version: int | None) -> Answer:
        answer = await self.http.post("/v1/inventory/update", json={
            "location_id": store, "sku": sku, "delta": delta, "reason": "found",
            "expected_version": expected_version})
        return Answer("ok") if answer.status_code == 200 else Answer(answer.json()["code"])


@dataclass
class GraphQL:
    http: httpx.AsyncClient

    async def ask(self, query: str, variables: dict[str, Any],
                  api_key: str | None) -> dict[str, Any]:
        answer = await self.http.post("/graphql", json={"query": query, "variables": variables},
                                      headers={"X-API-Key": api_key} if api_key else {})
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        assert "errors" not in found, found
        return found["data"]

    async def sell(self, store: str, sku: str, quantity: int, *, key: str | None = None,
                   api_key: str | None = None) -> Answer:
        data = await self.ask(SALE, {"input": {"locationId": store, "lines": [{
            "sku": sku, "quantity": quantity, "unitPrice": {"amount": "2.50",
                                                            "currency": "USD"}}]},
            "key": key}, api_key)
        payload = data["recordSale"]
        if payload["sale"] is not None:
            return Answer("ok", payload["sale"]["id"], payload["sale"]["units"])
        errors = payload["userErrors"]
        short = [SHORT_LINE.match(e["message"]) for e in errors
                 if e["code"] == "insufficient_stock"]
        return Answer(errors[0]["code"], short=tuple(
            (m["sku"], int(m["req"]), int(m["avail"])) for m in short if m))

    async def change(self, store: str, sku: str, delta: int,
                     expected_version: int | None) -> Answer:
        data = await self.ask(UPDATE, {"input": {
            "locationId": store, "sku": sku, "delta": delta, "reason": "FOUND",
            "expectedVersion": expected_version}}, None)
        errors = data["updateInventory"]["userErrors"]
        return Answer(errors[0]["code"]) if errors else Answer("ok")


@dataclass
class Grpc:
    stubs: Stubs
    server: GrpcServer

    async def sell(self, store: str, sku: str, quantity: int, *, key: str | None = None,
                   api_key: str | None = None) -> Answer:
        request = sales_pb2.RecordSaleRequest(
            location_id=store, idempotency_key=key or "", lines=[sales_pb2.SaleLineIn(
                sku=sku, quantity=quantity,
                unit_price=common_pb2.Money(amount="2.50", currency="USD"))])
        try:
            sale = await self.stubs.sales.RecordSale(request,
                                                     metadata=self.server.metadata(api_key))
        except grpc.aio.AioRpcError as error:
            code = reason(error)
            if code != "insufficient_stock":
                return Answer(code)
            lines = detail(error, common_pb2.InsufficientStock).lines
            return Answer(code, short=tuple((x.sku, x.requested, x.available) for x in lines))
        return Answer("ok", sale.id, sale.units)

    async def change(self, store: str, sku: str, delta: int,
                     expected_version: int | None) -> Answer:
        request = inventory_pb2.UpdateInventoryRequest(
            location_id=store, sku=sku, delta=delta, reason="found",
            expected_version=expected_version)
        try:
            await self.stubs.inventory.UpdateInventory(request,
                                                       metadata=self.server.metadata())
        except grpc.aio.AioRpcError as error:
            return Answer(reason(error))
        return Answer("ok")


def _line(sku: str, quantity: int) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity,
            "unit_price": {"amount": "2.50", "currency": "USD"}}


@pytest.fixture(scope="module")
def server(server_database_url: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[GrpcServer]:
    with serving(server_database_url, tmp_path_factory.mktemp("protocols")) as started:
        yield started


@pytest.fixture
async def rest(server: GrpcServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=60)
    async with rest_client(server, timeout=60.0, limits=limits) as client:
        yield client


@pytest.fixture
async def clients(server: GrpcServer, rest: httpx.AsyncClient
                  ) -> AsyncIterator[dict[str, Client]]:
    async with open_stubs(server.target) as opened:
        yield {"rest": Rest(rest), "graphql": GraphQL(rest), "grpc": Grpc(opened, server)}


async def store_key(rest: httpx.AsyncClient, store: str) -> str:
    made = await rest.post("/v1/api-keys", json={"name": "till", "role": "store_staff",
                                                 "location_ids": [store]})
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


# -- one scenario, three protocols -------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_sale_and_a_refused_sale_answer_the_same_on_every_protocol(
        protocol: str, clients: dict[str, Client], rest: httpx.AsyncClient) -> None:
    client = clients[protocol]
    store, (sku,) = await stocked(rest, quantity=3)
    sold = await client.sell(store, sku, 2)
    assert (sold.code, sold.units) == ("ok", 2) and sold.sale_id
    assert (await rest.get(f"/v1/sales/{sold.sale_id}")).json()["units"] == 2
    short = await client.sell(store, sku, 2)
    assert short == Answer("insufficient_stock", short=((sku, 2, 1),))
    assert (await level(rest, store, sku))["on_hand"] == 1
    await assert_ledger_identity(rest, store, sku)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_replayed_key_answers_the_first_sale_and_sells_once(
        protocol: str, clients: dict[str, Client], rest: httpx.AsyncClient) -> None:
    client = clients[protocol]
    store, (sku,) = await stocked(rest, quantity=5)
    key = random_sku()
    first = await client.sell(store, sku, 2, key=key)
    again = await client.sell(store, sku, 2, key=key)
    assert first.code == "ok" and again == first
    assert (await client.sell(store, sku, 3, key=key)).code == "idempotency_key_reused"
    assert (await level(rest, store, sku))["on_hand"] == 3


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_stale_expected_version_is_a_version_conflict_and_changes_nothing(
        protocol: str, clients: dict[str, Client], rest: httpx.AsyncClient) -> None:
    client = clients[protocol]
    store, (sku,) = await stocked(rest, quantity=3)
    current = (await level(rest, store, sku))["version"]
    assert (await client.change(store, sku, 1, current + 3)).code == "version_conflict"
    assert (await level(rest, store, sku))["on_hand"] == 3
    assert (await client.change(store, sku, 1, current)).code == "ok"
    assert (await client.change(store, sku, 1, current)).code == "version_conflict"
    assert (await level(rest, store, sku))["on_hand"] == 4


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_store_key_selling_at_another_store_is_forbidden(
        protocol: str, clients: dict[str, Client], rest: httpx.AsyncClient) -> None:
    client = clients[protocol]
    mine, (sku,) = await stocked(rest, quantity=3)
    other = (await create_store(rest))["code"]
    await rest.post("/v1/inventory/update", json={"location_id": other, "sku": sku,
                                                  "delta": 3, "reason": "receipt"})
    till = await store_key(rest, mine)
    assert (await client.sell(mine, sku, 1, api_key=till)).code == "ok"
    assert (await client.sell(other, sku, 1, api_key=till)) == Answer("forbidden")
    assert (await level(rest, other, sku))["on_hand"] == 3


# -- the hot SKU ---------------------------------------------------------------------------------

async def test_150_buyers_on_three_protocols_for_50_units_sell_exactly_50(
        clients: dict[str, Client], rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=50)
    buyers = [clients[p].sell(store, sku, 1) for _ in range(50) for p in PROTOCOLS]
    answers = await asyncio.gather(*buyers)
    by_protocol = {p: [a.code for a in answers[n::3]] for n, p in enumerate(PROTOCOLS)}
    assert sum(a.code == "ok" for a in answers) == 50, by_protocol
    assert {a.code for a in answers} == {"ok", "insufficient_stock"}
    assert len({a.sale_id for a in answers if a.sale_id}) == 50
    found = await assert_ledger_identity(rest, store, sku)  # on_hand = received - sold
    assert (found["on_hand"], found["available"]) == (0, 0)
    sold = (await rest.get("/v1/sales", params={"location_id": store, "limit": 100})).json()
    assert sum(s["units"] for s in sold["items"]) == 50
    report = (await rest.get("/v1/admin/reconcile", params={"location_id": store})).json()
    assert report["drift"] == [], report


# -- a key across protocols ---------------------------------------------------------------------

@pytest.mark.parametrize(("first", "retried"), [("rest", "grpc"), ("grpc", "graphql"),
                                                ("graphql", "rest")])
async def test_a_key_retried_over_another_protocol_replays_the_first_answer(
        first: str, retried: str, clients: dict[str, Client], rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    key = random_sku()
    sold = await clients[first].sell(store, sku, 2, key=key)
    assert sold.code == "ok"
    assert await clients[retried].sell(store, sku, 2, key=key) == sold
    short_key = random_sku()
    short = await clients[first].sell(store, sku, 2, key=short_key)
    assert short == Answer("insufficient_stock", short=((sku, 2, 1),))
    await rest.post("/v1/inventory/update", json={"location_id": store, "sku": sku,
                                                  "delta": 5, "reason": "receipt"})
    assert await clients[retried].sell(store, sku, 2, key=short_key) == short
    assert (await level(rest, store, sku))["on_hand"] == 6
