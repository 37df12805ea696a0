"""CSV out, on both backends: every list route answers ``Accept: text/csv`` with every
matching row (all pages, from the route's own code: same filters, same scope), a header of
the JSON field names, money and nested objects as columns, formulas escaped."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from stockline.adapters.tables import inventory_levels, products
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from tests.factories import (
    admin_client,
    app_of,
    assert_problem,
    collect,
    create_product,
    create_store,
    execute_sql,
    insert_api_key,
    level,
    line,
    random_code,
    receive,
    record_sale,
    send_as,
    stocked,
    wait_for_log,
)

CSV = {"Accept": "text/csv"}
LEVEL_COLUMNS = ["location_id", "sku", "on_hand", "reserved", "available", "in_transit",
                 "incoming", "reorder_point", "reorder_quantity", "safety_stock", "version",
                 "updated_at", "as_of"]


def table(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV answer."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def as_cells(item: dict[str, Any]) -> dict[str, str]:
    """A JSON item of a list as its CSV row should spell it (no nested objects)."""
    return {k: "" if v is None else str(v) for k, v in item.items()}


async def seeded_levels(database_url: str, client: httpx.AsyncClient,
                        count: int) -> tuple[str, list[str]]:
    """A new store with ``count`` levels (reorder point = index), planted in one statement
    each for products and levels: zero on hand, so the ledger identity holds."""
    store = (await create_store(client))["code"]
    prefix, now = random_code("CSV"), datetime.now(UTC)
    skus = [f"{prefix}-{i:05d}" for i in range(count)]
    await execute_sql(
        database_url,
        insert(products).values([
            {"sku": sku, "name": f"Item {sku}", "category": "csv", "attributes": {},
             "price_amount": 100_000, "price_currency": "USD", "version": 1,
             "created_at": now, "updated_at": now} for sku in skus]),
        insert(inventory_levels).values([
            {"location_id": store, "sku": sku, "on_hand": 0, "reserved": 0, "in_transit": 0,
             "reorder_point": i, "version": 0, "updated_at": now}
            for i, sku in enumerate(skus)]))
    return store, skus


async def test_an_inventory_export_has_every_level_of_every_page(
        client: httpx.AsyncClient, settings: Settings) -> None:
    store, skus = await seeded_levels(settings.database_url, client, 1_200)
    answer = await client.get("/v1/inventory", params={"location_id": store}, headers=CSV)
    header, rows = table(answer)
    assert answer.headers["content-disposition"] == 'attachment; filename="inventory.csv"'
    assert header == LEVEL_COLUMNS
    assert [r["sku"] for r in rows] == skus  # pages of 50, 500, 500, 150, in order
    assert [r["reorder_point"] for r in rows] == [str(i) for i in range(1_200)]
    as_json = await collect(client, "/v1/inventory", {"location_id": store})
    assert rows == [as_cells(item) for item in as_json]


async def test_a_page_size_the_client_gives_is_kept_and_every_page_followed(
        client: httpx.AsyncClient) -> None:
    store, skus = await stocked(client, 4, skus=7)
    header, rows = table(await client.get(
        "/v1/inventory", params={"location_id": store, "limit": 2}, headers=CSV))
    assert sorted(r["sku"] for r in rows) == sorted(skus)
    assert {r["on_hand"] for r in rows} == {"4"}


async def test_a_sales_export_has_money_as_amount_and_currency_columns(
        client: httpx.AsyncClient) -> None:
    store, (a, b) = await stocked(client, 20, skus=2)
    first = await record_sale(client, store, [line(a, 2, "10.50"), line(b, 1, "3.25")])
    second = await record_sale(client, store, [line(a, 1, "99.99")], channel="ecommerce")
    header, rows = table(await client.get("/v1/sales", params={"location_id": store},
                                          headers=CSV))
    assert {"total_amount", "total_currency", "lines"} <= set(header)
    assert "total" not in header
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {first["id"], second["id"]}
    assert (by_id[first["id"]]["total_amount"], by_id[first["id"]]["total_currency"]) == (
        "24.25", "USD")
    assert json.loads(by_id[first["id"]]["lines"]) == first["lines"]  # a list: JSON text
    assert by_id[second["id"]]["channel"] == "ecommerce"

    _, filtered = table(await client.get(
        "/v1/sales", params={"location_id": store, "channel": "ecommerce"}, headers=CSV))
    assert [r["id"] for r in filtered] == [second["id"]]


async def test_a_ledger_export_follows_its_filters_and_keeps_negative_deltas_as_numbers(
        client: httpx.AsyncClient) -> None:
    store, (sku, other) = await stocked(client, 10, skus=2)
    await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "delta": -3, "reason": "damage"})
    header, rows = table(await client.get(
        "/v1/stock-movements", params={"location_id": store, "sku": sku}, headers=CSV))
    assert header[:3] == ["id", "location_id", "sku"]
    assert {r["sku"] for r in rows} == {sku}  # the other SKU's receipt is filtered out
    assert [(r["delta"], r["balance_after"], r["type"]) for r in rows] == [
        ("10", "10", "receipt"), ("-3", "7", "damage")]
    _, damage = table(await client.get(
        "/v1/stock-movements", params={"location_id": store, "type": "damage"}, headers=CSV))
    assert [(r["sku"], r["delta"]) for r in damage] == [(sku, "-3")]


async def test_a_sales_report_export_has_its_rows(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, 10)
    day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(
        days=2)
    await record_sale(client, store, [line(sku, 2, "4.00")], occurred_at=day.isoformat())
    await record_sale(client, store, [line(sku, 1, "4.00")], occurred_at=day.isoformat())
    window = {"from": (day - timedelta(days=1)).isoformat(),
              "to": (day + timedelta(days=1)).isoformat(), "location_id": store}
    answer = await client.get("/v1/reports/sales", params=window, headers=CSV)
    header, rows = table(answer)
    assert answer.headers["content-disposition"] == 'attachment; filename="reports-sales.csv"'
    # A column for every group the report can sum by: empty where it does not (here
    # the default, day and location).
    assert header == ["hour", "day", "week", "month", "location_id", "region", "channel",
                      "sku", "category", "sales", "units", "net_units", "gross_amount",
                      "gross_currency", "net_amount", "net_currency", "total_amount",
                      "total_currency"]
    money = {f"{name}_{part}": value for name in ("gross", "net", "total")
             for part, value in (("amount", "12.00"), ("currency", "USD"))}
    assert rows == [{**dict.fromkeys(header, ""), "day": day.date().isoformat(),
                     "location_id": store, "sales": "2", "units": "3", "net_units": "3",
                     **money}]


async def test_an_empty_export_is_its_header_row(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    answer = await client.get("/v1/inventory", params={"location_id": store}, headers=CSV)
    assert table(answer) == (LEVEL_COLUMNS, [])
    assert answer.text == ",".join(LEVEL_COLUMNS) + "\r\n"
    window = {"from": "2001-01-01T00:00:00Z", "to": "2001-01-02T00:00:00Z"}
    header, rows = table(await client.get("/v1/reports/sales", params=window, headers=CSV))
    assert (len(header), rows) == (18, [])


async def test_a_key_limited_to_some_locations_exports_only_theirs(
        client: httpx.AsyncClient, settings: Settings) -> None:
    mine, (sku,) = await stocked(client, 5)
    theirs = (await create_store(client))["code"]
    await receive(client, theirs, sku, 5)
    partner = await insert_api_key(settings.database_url, "partner", location_ids=[mine])
    _, levels = table(await send_as(client, partner.key, "GET", "/v1/inventory",
                                    params={"sku": sku}, headers=CSV))
    assert [(r["location_id"], r["sku"]) for r in levels] == [(mine, sku)]
    staff = await insert_api_key(settings.database_url, "store_staff", location_ids=[mine])
    _, entries = table(await send_as(client, staff.key, "GET", "/v1/stock-movements",
                                     params={"sku": sku}, headers=CSV))
    assert [(r["location_id"], r["delta"]) for r in entries] == [(mine, "5")]
    refused = await send_as(client, staff.key, "GET", "/v1/stock-movements",
                            params={"location_id": theirs}, headers=CSV)
    assert_problem(refused, 403, "forbidden")


async def test_text_that_would_run_as_a_formula_is_escaped(client: httpx.AsyncClient) -> None:
    category = random_code("cat")
    names = ["=HYPERLINK(\"http://x\")", "+SUM(A1)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)",
             "\tTAB", "plain", "-12.50"]
    for name in names:
        await create_product(client, name=name, category=category,
                             attributes={"note": "=1+1"})
    header, rows = table(await client.get("/v1/products", params={"category": category},
                                          headers=CSV))
    assert {"price_amount", "price_currency", "attributes"} <= set(header)
    cells = sorted(r["name"] for r in rows)
    assert cells == sorted(["'=HYPERLINK(\"http://x\")", "'+SUM(A1)",
                            "'-2+3+cmd|' /C calc'!A0", "'@SUM(1)", "'\tTAB", "plain",
                            "-12.50"])
    assert {r["price_amount"] for r in rows} == {"10.00"}
    assert {r["attributes"] for r in rows} == {'{"note":"=1+1"}'}  # JSON text: starts with {


async def test_an_event_log_export_starts_after_and_follows_the_cursor(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, 30)
    after = (await wait_for_log(client, 1, location_id=store))[-1]["id"]  # the receipt
    for _ in range(5):
        await record_sale(client, store, [line(sku)])
    sold = await wait_for_log(client, 5, location_id=store, types="sale.recorded")
    params = {"location_id": store, "after": after, "types": "sale.recorded", "limit": 2}
    header, rows = table(await client.get("/v1/events", params=params, headers=CSV))
    assert header == ["id", "type", "occurred_at", "location_id", "sku", "data"]
    assert [int(r["id"]) for r in rows] == [e["id"] for e in sold]  # 3 pages of 2
    assert {r["type"] for r in rows} == {"sale.recorded"}
    assert [json.loads(r["data"]) for r in rows] == [e["data"] for e in sold]


@pytest.mark.parametrize(("accept", "csv_out"), [
    ("text/csv", True), ("text/csv;q=0.9, application/json;q=0.5", True), ("text/*", True),
    ("*/*", False), ("application/json, text/csv;q=0.5", False), ("text/csv;q=0, */*", False),
    ("not a media type", False), (None, False)])
async def test_csv_is_answered_only_when_the_request_prefers_it(
        client: httpx.AsyncClient, accept: str | None, csv_out: bool) -> None:
    headers = {} if accept is None else {"Accept": accept}
    # A category of no product: a CSV answer is every matching row of the shared database
    answer = await client.get("/v1/products", params={"limit": 1, "category": "none-such"},
                              headers=headers)
    assert answer.status_code == 200
    media = answer.headers["content-type"]
    assert media == ("text/csv; charset=utf-8" if csv_out else "application/json"), media


async def test_a_route_that_answers_one_object_refuses_a_request_for_csv_only(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, 5)
    one = f"/v1/inventory/{store}/{sku}"  # a lean route: it must not answer JSON anyway
    assert_problem(await client.get(one, headers=CSV), 406, "not_acceptable")
    either = await client.get(one, headers={"Accept": "text/csv, application/json;q=0.1"})
    assert either.status_code == 200 and either.json()["on_hand"] == 5
    sale = await client.post("/v1/sales/record", headers=CSV, json={
        "location_id": store, "lines": [line(sku)]})
    assert_problem(sale, 406, "not_acceptable")
    assert (await level(client, store, sku))["on_hand"] == 5  # nothing was sold


async def test_an_export_the_route_refuses_is_its_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/inventory", params={"limit": 9_999}, headers=CSV),
                   422, "validation_error")
    assert_problem(await client.get("/v1/inventory", params={"location_type": "moon"},
                                    headers=CSV), 422, "validation_error")


async def test_every_list_declares_csv_in_the_openapi_document(
        client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/v1/inventory", "/v1/sales", "/v1/stock-movements", "/v1/products",
                 "/v1/warehouses", "/v1/retail-locations", "/v1/reports/sales", "/v1/events"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert list(content) == ["application/json", "text/csv"], path
    one = paths["/v1/inventory/{location_id}/{sku}"]["get"]["responses"]["200"]["content"]
    assert "text/csv" not in one


async def test_each_page_is_read_after_the_one_before_went_out(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Streamed: a level written once the first chunk is out is in a later page, which an
    export that read every page before answering could not show."""
    store, skus = await seeded_levels(settings.database_url, client, 1_100)
    late = (await create_product(client, sku=skus[0][:-5] + "ZZZZZ"))["sku"]
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            if not chunks:
                await receive(client, store, late, 1)
            chunks.append(message["body"])

    requested = asyncio.Event()

    async def receive_request() -> dict[str, Any]:
        if requested.is_set():  # then the client stays connected: wait as a server does
            await asyncio.Event().wait()
        requested.set()
        return {"type": "http.request", "body": b"", "more_body": False}

    key = settings.admin_key.get_secret_value().encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/v1/inventory",
             "raw_path": b"/v1/inventory", "query_string": f"location_id={store}".encode(),
             "root_path": "", "client": ("127.0.0.1", 1234), "server": ("stockline.test", 80),
             "headers": [(b"host", b"stockline.test"), (b"x-api-key", key),
                         (b"accept", b"text/csv")]}
    await app_of(client)(scope, receive_request, send)
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode(), newline="")))
    assert len(chunks) >= 3  # one chunk a page
    assert [r[1] for r in rows[1:]] == [*skus, late]


async def test_each_further_500_rows_take_a_token_of_the_callers_rate_limit(
        settings: Settings) -> None:
    """A key whose bucket holds 3 requests (0.05 a second, over 60 s): an export of 1,200
    rows takes all three (the request, then one for each further 500 rows), so the next
    request waits ~20 s."""
    slow = settings.model_copy(update={"rate_limit_burst_seconds": 60.0})
    container = bootstrap(slow)
    await container.start(events=False, jobs=False)  # the session's relay goes on alone
    try:
        async with admin_client(slow, container) as client:
            store, skus = await seeded_levels(slow.database_url, client, 1_200)
            manager = await insert_api_key(slow.database_url, "manager", rate_limit=0.05)
            headers = {"X-API-Key": manager.key, **CSV}
            exported = await client.get("/v1/inventory", params={"location_id": store},
                                        headers=headers)
            assert len(table(exported)[1]) == 1_200
            assert exported.headers["RateLimit-Limit"] == "3"
            after = await client.get("/v1/inventory", params={"location_id": store, "limit": 1},
                                     headers={"X-API-Key": manager.key})
            assert_problem(after, 429, "rate_limited")
    finally:
        await container.close()
