"""A nested GraphQL page costs a constant number of SQL statements, whatever its size: the
data loaders read each nested field of a page in one statement, not one per row.

Statements are counted on the app's own engines (a SQLAlchemy ``before_cursor_execute``
listener) while the request runs; the relay and the hub run in the same process and poll
their own tables, so only statements that read the tables a query reads are counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from stockline.bootstrap import Container
from tests.factories import (
    create_product,
    create_store,
    line,
    random_code,
    receive,
    record_sale,
)

READ_TABLES = re.compile(r"\b(products|locations|inventory_levels|inventory_lots|sales|"
                         r"sale_lines|sale_returns|sale_return_lines)\b")

PRODUCTS = """
query ($n: Int!, $category: String!) {
  products(first: $n, category: $category) {
    edges { node { sku
      levels(first: 5) { edges { node { locationId available lots { lot onHand }
        location { name onHandUnits levels(first: 3) { edges { node { sku
          product { name } } } } } } } } } }
  }
}"""

SALES = """
query ($n: Int!, $store: String!) {
  sales(first: $n, locationId: $store) {
    edges { node { id location { name } lines { sku product { name category } }
      returns { id lines { product { sku } } } } }
  }
}"""


@contextmanager
def counted(container: Container) -> Iterator[list[str]]:
    """The statements that read the catalogue, stock or sales while the block runs."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and READ_TABLES.search(statement):
            seen.append(statement)

    # PostgreSQL reads on the writer's engine (its listeners hear them), SQLite on its own
    database = container.database
    engines = [database.write.sync_engine] + (
        [database.read.sync_engine] if database.read.pool is not database.write.pool else [])
    for engine in engines:
        event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", note)


def cold(container: Container) -> None:
    """The read cache forgets its products: each page is counted as a first read."""
    if container.cached.local is not None:
        container.cached.local.clear()


async def run(client: httpx.AsyncClient, query: str, variables: dict[str, Any]
              ) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert "errors" not in answer, answer
    return answer


async def test_a_nested_page_of_products_costs_the_same_statements_for_2_or_12(
        client: httpx.AsyncClient, container: Container) -> None:
    category = random_code("CAT")
    stores = [(await create_store(client))["code"] for _ in range(2)]
    for _ in range(12):
        sku = (await create_product(client, category=category))["sku"]
        await receive(client, stores[1], sku, 3)
        lotted = await client.post("/v1/inventory/update", json={
            "location_id": stores[0], "sku": sku, "delta": 3, "reason": "receipt",
            "lot": "L1"})
        assert lotted.status_code == 200, lotted.text

    counts = {}
    for n in (2, 12):
        cold(container)
        with counted(container) as statements:
            answer = await run(client, PRODUCTS, {"n": n, "category": category})
        edges = answer["data"]["products"]["edges"]
        assert len(edges) == n
        assert all(len(e["node"]["levels"]["edges"]) == 2 for e in edges)
        lots = [level["node"]["lots"] for e in edges for level in e["node"]["levels"]["edges"]]
        assert sorted(lots, key=len) == [[]] * n + [[{"lot": "L1", "onHand": 3}]] * n, lots
        counts[n] = len(statements)
    assert counts[2] == counts[12], counts
    # products, their levels, the lots, the locations and their units (two), the
    # locations' levels and those levels' products: one statement each
    assert counts[12] <= 7, counts


async def test_a_page_of_sales_with_lines_products_and_returns_costs_the_same_for_2_or_12(
        client: httpx.AsyncClient, container: Container) -> None:
    store = (await create_store(client))["code"]
    skus = [(await create_product(client))["sku"] for _ in range(3)]
    for sku in skus:
        await receive(client, store, sku, 50)
    for i in range(12):
        sale = await record_sale(client, store, [line(sku) for sku in skus[: 1 + i % 3]])
        if i % 4 == 3:  # the newest (i = 11) among them: both pages show returns
            answer = await client.post(f"/v1/sales/{sale['id']}/returns", json={
                "lines": [{"sku": skus[0], "quantity": 1}], "restock": True,
                "reason": "other"})
            assert answer.status_code == 201, answer.text

    counts = {}
    for n in (2, 12):
        cold(container)
        with counted(container) as statements:
            answer = await run(client, SALES, {"n": n, "store": store})
        assert len(answer["data"]["sales"]["edges"]) == n
        counts[n] = len(statements)
    assert counts[2] == counts[12], counts
    assert counts[12] <= 7, counts
