"""Catalogue search (``GET /v1/products?q=``), on both backends: words of SKU, name,
category and attribute values, stems, a partial SKU, ranking and its pages, text that a
query parser would choke on, products changed or imported, and products indexed by the
migration that made the index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from stockline.adapters.database import open_database
from stockline.adapters.migrate import alembic_config
from stockline.adapters.queries import Queries
from stockline.adapters.queries.search import search
from stockline.adapters.tables import products
from tests.conftest import Databases
from tests.factories import assert_problem, collect, create_product, random_sku


def word() -> str:
    """A word no other product has (letters only, so no stemmer changes it)."""
    return "zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])


async def found(client: httpx.AsyncClient, q: str, **params: Any) -> list[str]:
    return [p["sku"] for p in await collect(client, "/v1/products", {"q": q, **params})]


async def test_a_word_of_an_attribute_value_finds_the_product_and_stems_match(
        client: httpx.AsyncClient) -> None:
    brand = word()
    sku = (await create_product(client, name=f"{brand} Pegasus", category="footwear",
                                attributes={"type": "running shoe", "size": 42}))["sku"]
    other = (await create_product(client, name=f"{brand} Sandal", category="footwear",
                                  attributes={"type": "sandal"}))["sku"]
    assert await found(client, f"{brand} running shoe") == [sku]
    assert await found(client, f"Running Shoes {brand}") == [sku]
    assert set(await found(client, f"{brand} footwear")) == {sku, other}
    assert await found(client, f"{brand} 42") == [sku]
    assert await found(client, f"{brand} peg") == [sku]  # a word being typed
    assert await found(client, f"{brand} peg ") == [sku]
    assert await found(client, f"peg, {brand}") == []  # a whole word, followed by more
    assert await found(client, f"{brand} tennis") == []


async def test_a_partial_sku_finds_its_products_and_an_sku_prefix_comes_first(
        client: httpx.AsyncClient) -> None:
    stem = word().upper()
    exact = (await create_product(client, f"{stem}-0012", name="Trail runner"))["sku"]
    await create_product(client, f"{stem}-1200", name="Trail runner")
    mention = (await create_product(client, random_sku(),
                                    name=f"Spare laces for {stem}-0012"))["sku"]
    assert await found(client, f"{stem}-00") == [exact, mention]
    hits = await found(client, f"{stem.lower()}-0012")
    assert hits[0] == exact and set(hits) == {exact, mention}


async def test_a_name_match_ranks_above_an_attribute_match(
        client: httpx.AsyncClient) -> None:
    term = word()
    in_attribute = (await create_product(client, random_sku(), name="Plain item",
                                         attributes={"colour": term}))["sku"]
    in_name = (await create_product(client, random_sku(), name=f"{term} item"))["sku"]
    assert await found(client, term) == [in_name, in_attribute]


async def test_pages_of_a_search_follow_each_other_in_rank_order(
        client: httpx.AsyncClient) -> None:
    term = word()
    made = [(await create_product(client, name=f"{term} " + "x" * n))["sku"] for n in range(7)]
    whole = (await client.get("/v1/products", params={"q": term, "limit": 50})).json()
    assert whole["next_cursor"] is None
    paged = await found(client, term, limit=2)
    assert paged == [p["sku"] for p in whole["items"]]
    assert sorted(paged) == sorted(made)


async def test_filters_narrow_a_search(client: httpx.AsyncClient) -> None:
    term = word()
    shoe = (await create_product(client, name=term, category="footwear",
                                 attributes={"color": "red"}))["sku"]
    await create_product(client, name=term, category="apparel", attributes={"color": "red"})
    await create_product(client, name=term, category="footwear", attributes={"color": "blue"})
    assert await found(client, term, category="footwear", **{"attr.color": "red"}) == [shoe]


@pytest.mark.parametrize("typed", [
    '"', "'", "*", "AND", "OR NOT", "(", ")", "a AND (b OR", "NEAR(x y)", "^x", "col:x",
    "-x", "x -y", "&|!", "0:*", "\\", "%", "_", "%_%", "ü", "日本", "a" * 200, " ", "---",
    "x" + " y" * 99, "x:*B", "<->", "²", "x²", "ǅ", "👟", "a\u0301", "١٢"])
async def test_text_a_query_parser_would_choke_on_is_searched_for_its_words(
        client: httpx.AsyncClient, typed: str) -> None:
    response = await client.get("/v1/products", params={"q": typed, "limit": 5})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)


async def test_an_over_long_search_is_a_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/products", params={"q": "a" * 201}), 422,
                   "validation_error")


async def test_quotes_and_operators_around_a_word_still_find_it(
        client: httpx.AsyncClient) -> None:
    term = word()
    sku = (await create_product(client, name=f"{term} jacket"))["sku"]
    for typed in (f'"{term}"', f"{term}*", f"({term} AND jacket)", f"{term}:jacket",
                  f"  {term.upper()}  "):
        assert await found(client, typed) == [sku], typed


async def test_a_renamed_product_is_found_by_its_new_name_only(
        client: httpx.AsyncClient) -> None:
    old, new, kind = word(), word(), word()
    sku = (await create_product(client, name=f"{old} shell"))["sku"]
    response = await client.patch(f"/v1/products/{sku}", json={
        "name": f"{new} shell", "attributes": {"type": kind}})
    assert response.status_code == 200, response.text
    assert await found(client, old) == []
    assert await found(client, new) == [sku]
    assert await found(client, kind) == [sku]


async def test_imported_products_are_found(client: httpx.AsyncClient) -> None:
    term, kind = word(), word()
    skus = [random_sku(), random_sku()]
    text = "sku,name,category,attr.type\n" + "".join(
        f"{sku},{term} ball,balls,{kind} ball\n" for sku in skus)
    response = await client.post("/v1/imports/products", content=text.encode(),
                                 headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert sorted(await found(client, term)) == sorted(skus)
    assert sorted(await found(client, f"{kind} balls")) == sorted(skus)
    again = "sku,name,category\n" + f"{skus[0]},{kind} renamed,balls\n"
    response = await client.post("/v1/imports/products", content=again.encode(),
                                 headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert await found(client, term) == [skus[1]]


async def test_products_made_before_the_index_are_found_once_it_is_made(
        backend: str, databases: Databases) -> None:
    url = await databases.new(backend)
    database = open_database(url)
    try:
        async with database.write.begin() as conn:
            await conn.run_sync(_to("0016-1", down=True))
        term, sku = word(), random_sku()
        now = datetime.now(UTC)
        async with database.write.begin() as conn:
            await conn.execute(insert(products).values(
                sku=sku, name="Old stock", category="misc",
                attributes={"type": f"{term} racket"}, version=1, created_at=now,
                updated_at=now))
        async with database.write.begin() as conn:
            await conn.run_sync(_to("head"))
        page = await Queries(database.read).products(category=None, q=f"{term} rackets",
                                                     attributes={}, limit=5, cursor=None)
        assert [p.sku for p in page.items] == [sku]
    finally:
        await database.dispose()


def _to(revision: str, *, down: bool = False) -> Any:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    return run


async def test_postgresql_searches_through_the_index(backend: str, database_url: str) -> None:
    """The query's expression is the index's, word for word (else a scan of every row)."""
    if backend != "postgres":
        pytest.skip("the GIN index is PostgreSQL's; SQLite searches its FTS5 table")
    database = open_database(database_url)
    try:
        stmt = search("running shoe", postgres=True)
        assert stmt is not None
        async with database.read.connect() as conn:
            await conn.execute(text("SET enable_seqscan = off"))
            compiled = stmt.compile(conn.sync_engine, compile_kwargs={"literal_binds": True})
            plan = (await conn.execute(text(f"EXPLAIN {compiled}"))).scalars().all()
    finally:
        await database.dispose()
    assert any("ix_products_search" in line for line in plan), plan
