"""stockline.client's bulk methods against a real server, on SQLite and PostgreSQL: a batch
of level changes answered item by item (and replayed under its key), CSV files imported,
and list routes exported as CSV across pages."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockline.client import (
    AsyncClient,
    Client,
    InsufficientStock,
    InventoryChange,
    NotFound,
    ValidationFailed,
)
from tests.conftest import LiveServer
from tests.factories import random_code, random_location, random_sku


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.base_url, api_key=live_server.admin_key) as client:
        yield client


def stocked(api: Client, quantity: int) -> tuple[str, str]:
    """A new store holding ``quantity`` of a new product."""
    store, sku = random_location(), random_sku()
    api.create_product(sku, "Yoga mat", "fitness")
    api.create_location(store, "Store")
    api.update_inventory(store, sku, delta=quantity, reason="receipt")
    return store, sku


def products_csv(category: str, skus: list[str], name: str = "Grip") -> bytes:
    rows = "".join(f"{sku},{name} {n},{category}\n" for n, sku in enumerate(skus))
    return f"sku,name,category\n{rows}".encode()


async def test_a_batch_answers_each_item_and_its_replay_applies_nothing(
        api: Client, live_server: LiveServer) -> None:
    store, sku = stocked(api, 10)
    items = [InventoryChange(location_id=store, sku=sku, delta=5, reason="receipt"),
             InventoryChange(location_id=store, sku=sku, delta=-50, reason="damage"),
             InventoryChange(location_id=store, sku=random_sku(), delta=-1, reason="loss"),
             {"location_id": store, "sku": sku, "quantity": 12, "reason": "count"}]
    batch = api.update_inventory_batch(items, idempotency_key=random_code("erp-sync"))
    assert [(r.index, r.status, r.ok) for r in batch] == [
        (0, 200, True), (1, 409, False), (2, 404, False), (3, 200, True)]
    assert [r.level and r.level.on_hand for r in batch] == [15, None, None, 12]
    short, missing = batch.results[1].problem, batch.results[2].problem
    assert isinstance(short, InsufficientStock) and short.lines[0].available == 15
    assert isinstance(missing, NotFound) and batch.refused == batch.results[1:3]
    moved = len(list(api.movements(location_id=store, sku=sku)))

    key = random_code("erp-sync")
    first = api.update_inventory_batch(items[:1], idempotency_key=key)
    async with AsyncClient(live_server.base_url, api_key=live_server.admin_key) as other:
        again = await other.update_inventory_batch(items[:1], idempotency_key=key)
    assert [(r.status, r.level) for r in again] == [(r.status, r.level) for r in first]
    assert first.results[0].level is not None and first.results[0].level.on_hand == 17
    assert api.level(store, sku).on_hand == 17  # applied once, under the key
    assert len(list(api.movements(location_id=store, sku=sku))) == moved + 1


def test_a_products_file_imports_once_then_changes_nothing(api: Client,
                                                           tmp_path: Path) -> None:
    category = random_code("mats").lower()
    skus = [random_sku() for _ in range(3)]
    path = tmp_path / "products.csv"
    path.write_bytes(products_csv(category, skus))
    checked = api.import_csv("products", path, dry_run=True)
    assert (checked.rows, checked.created, checked.dry_run) == (3, 3, True)
    with pytest.raises(NotFound):
        api.get_product(skus[0])  # a dry run writes nothing
    first = api.import_csv("products", str(path))
    assert (first.kind, first.rows, first.created, first.unchanged) == ("products", 3, 3, 0)
    with path.open("rb") as file:
        again = api.import_csv("products", file)
    assert (again.rows, again.created, again.updated, again.unchanged) == (3, 0, 0, 3)
    assert {p.sku for p in api.products(category=category)} == set(skus)


async def test_a_bad_row_is_refused_with_its_line_and_nothing_changes(
        live_server: LiveServer) -> None:
    category = random_code("mats").lower()
    good, bad = random_sku(), "not a code"
    async with AsyncClient(live_server.base_url, api_key=live_server.admin_key) as api:
        with pytest.raises(ValidationFailed) as refused:
            await api.import_csv("products", products_csv(category, [good, bad]))
        assert [(e.line, e.field) for e in refused.value.errors] == [(3, "sku")]
        assert refused.value.errors[0].message
        assert [p async for p in api.products(category=category)] == []


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


async def test_a_list_is_exported_as_csv_across_its_pages(api: Client, tmp_path: Path,
                                                          live_server: LiveServer) -> None:
    category = random_code("mats").lower()
    skus = {random_sku() for _ in range(5)}
    api.import_csv("products", products_csv(category, sorted(skus)))
    api.update_product(sorted(skus)[0], name='Grip "pro",\nwide')  # quoted, on two lines
    path = tmp_path / "products.csv"
    rows = api.export_csv("/v1/products", {"category": category, "limit": 2}, into=path)
    exported = csv_rows(path.read_bytes())
    assert rows == len(exported) == 5
    assert {r["sku"] for r in exported} == skus and {r["category"] for r in exported} == {
        category}
    assert 'Grip "pro",\nwide' in {r["name"] for r in exported}

    async with AsyncClient(live_server.base_url, api_key=live_server.admin_key) as other:
        chunks = [c async for c in other.export_chunks("/v1/products",
                                                       {"category": category})]
    assert csv_rows(b"".join(chunks)) == exported
    sink = io.BytesIO()
    assert api.export_csv("/v1/products", {"category": random_code("none")}, into=sink) == 0
    assert csv_rows(sink.getvalue()) == [] and sink.getvalue().startswith(b"sku,")
    with pytest.raises(ValidationFailed):
        list(api.export_chunks("/v1/products", {"no_such_filter": "x"}))
