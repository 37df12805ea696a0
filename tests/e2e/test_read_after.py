"""Read-your-writes over HTTP, on both backends: a write's answer carries its commit's
position (PostgreSQL), a read may send it back, and a malformed one is refused. (Reads
served by a real replica: test_read_replica.py.)"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from stockline.bootstrap import Container
from stockline.config import Settings
from tests.factories import admin_client, assert_problem

LSN = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
READS = ["/v1/products", "/v1/inventory", "/v1/sales", "/v1/stock-movements", "/v1/events",
         "/v1/reports/sales?group_by=day&from=2026-01-01&to=2026-02-01",
         "/v1/stock-movements/transfers", "/v1/reservations", "/v1/purchase-orders"]


async def product(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.post("/v1/products", json={
        "sku": f"RA{time.monotonic_ns()}", "name": "Read after", "category": "read-after",
        "price": {"amount": "1.00", "currency": "USD"}})
    assert response.status_code == 201, response.text
    return response


async def test_a_write_answers_with_its_position_on_postgresql_alone(
        client: httpx.AsyncClient, backend: str) -> None:
    first = (await product(client)).headers.get("Stockline-Position")
    second = (await product(client)).headers.get("Stockline-Position")
    if backend == "sqlite":
        assert first is None and second is None
        return
    assert first is not None and second is not None
    assert LSN.fullmatch(first) and LSN.fullmatch(second)
    hi, lo = (int(part, 16) for part in first.split("/"))
    hi2, lo2 = (int(part, 16) for part in second.split("/"))
    assert (hi2, lo2) > (hi, lo)  # the later commit lies further on


async def test_reads_and_refusals_carry_no_position(client: httpx.AsyncClient) -> None:
    assert "Stockline-Position" not in (await client.get("/v1/products")).headers
    refused = await client.post("/v1/products", json={"sku": "bad sku!"})
    assert refused.status_code == 422
    assert "Stockline-Position" not in refused.headers


@pytest.mark.parametrize("path", ["/v1/products", "/v1/stock-movements",
                                  "/v1/reports/sales?group_by=day"])
@pytest.mark.parametrize("token", ["yesterday", "0/", "1/2/3", "0/123456789", "-1/0"])
async def test_a_malformed_read_after_is_a_400(client: httpx.AsyncClient, path: str,
                                               token: str) -> None:
    refused = await client.get(path, headers={"Stockline-Read-After": token})
    assert_problem(refused, 400, "bad_request")
    assert "Stockline-Read-After" in refused.json()["detail"]


async def test_a_read_after_the_callers_write_sees_it(client: httpx.AsyncClient,
                                                      backend: str) -> None:
    written = await product(client)
    token = written.headers.get("Stockline-Position", "0/0")
    for path in READS:
        response = await client.get(path, headers={"Stockline-Read-After": token})
        assert response.status_code == 200, (path, response.text)
    listed = await client.get("/v1/products?category=read-after&limit=500",
                              headers={"Stockline-Read-After": token})
    assert written.json()["sku"] in {p["sku"] for p in listed.json()["items"]}


QUERY = "query { products(first: 1) { edges { node { sku } } } }"
MUTATION = """mutation($input: CreateProductInput!) {
  createProduct(input: $input) { product { sku } userErrors { code } } }"""


async def test_a_graphql_mutation_answers_with_its_position_and_a_query_does_not(
        client: httpx.AsyncClient, backend: str) -> None:
    sku = f"RG{time.monotonic_ns()}"
    mutated = await client.post("/graphql", json={"query": MUTATION, "variables": {"input": {
        "sku": sku, "name": "Read after", "category": "read-after",
        "price": {"amount": "1.00", "currency": "USD"}}}})
    assert mutated.status_code == 200 and not mutated.json().get("errors"), mutated.text
    assert mutated.json()["data"]["createProduct"]["product"]["sku"] == sku
    queried = await client.post("/graphql", json={"query": QUERY})
    assert queried.status_code == 200 and not queried.json().get("errors"), queried.text
    assert "Stockline-Position" not in queried.headers
    token = mutated.headers.get("Stockline-Position")
    assert (token is not None) == (backend == "postgres")
    after = await client.post("/graphql", json={"query": QUERY},
                              headers={"Stockline-Read-After": token or "0/0"})
    assert after.status_code == 200 and not after.json().get("errors")
    refused = await client.post("/graphql", json={"query": QUERY},
                                headers={"Stockline-Read-After": "soon"})
    assert_problem(refused, 400, "bad_request")


@pytest.fixture
async def cors_client(settings: Settings, container: Container
                      ) -> AsyncIterator[httpx.AsyncClient]:
    allowed = settings.model_copy(update={"cors_origins": ("https://shop.example",)})
    async with admin_client(allowed, container) as client:
        yield client


async def test_pages_of_other_origins_may_send_the_token_and_read_the_position(
        cors_client: httpx.AsyncClient, backend: str) -> None:
    preflight = await cors_client.options("/v1/products", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key, stockline-read-after"})
    assert preflight.status_code == 200, preflight.text
    assert "stockline-read-after" in preflight.headers["access-control-allow-headers"].lower()
    written = await cors_client.post("/v1/products", headers={"Origin": "https://shop.example"},
                                     json={"sku": f"RC{time.monotonic_ns()}", "name": "x",
                                           "category": "read-after",
                                           "price": {"amount": "1.00", "currency": "USD"}})
    exposed = written.headers["access-control-expose-headers"].lower()
    assert "stockline-position" in exposed
