"""CSV imports on both backends: created, then unchanged; every bad row named; dry runs;
counts through the ledger; scope; content type, encoding and header checks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from stockline.config import Settings
from tests.factories import (
    app_of,
    assert_problem,
    create_product,
    create_store,
    event_log,
    insert_api_key,
    ledger,
    level,
    random_code,
    random_location,
    random_sku,
    receive,
    send_as,
    send_raw,
    wait_for_log,
)

CSV = {"Content-Type": "text/csv"}


async def _import(client: httpx.AsyncClient, kind: str, text: str | bytes,
                  **params: Any) -> httpx.Response:
    body = text.encode() if isinstance(text, str) else text
    return await client.post(f"/v1/imports/{kind}", content=body, headers=CSV, params=params)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _last_event_id(client: httpx.AsyncClient) -> int:
    events = await event_log(client)
    return int(events[-1]["id"]) if events else 0


async def test_products_import_then_the_same_file_again_changes_nothing(
        client: httpx.AsyncClient) -> None:
    a, b = random_sku(), random_sku()
    text = ("sku,name,category,price_amount,price_currency,attr.size,attr.color\n"
            f'{a},"Runner, ""fast""\nsecond line",footwear,89.99,USD,42,black\n'
            f"{b},Sock,apparel,,,,\n")
    first = _ok(await _import(client, "products", text))
    assert first == {"kind": "products", "rows": 2, "created": 2, "updated": 0,
                     "unchanged": 0, "dry_run": False}
    made = (await client.get(f"/v1/products/{a}")).json()
    assert made["name"] == 'Runner, "fast"\nsecond line'
    assert made["attributes"] == {"size": "42", "color": "black"}
    assert made["price"] == {"amount": "89.99", "currency": "USD"}
    assert (await client.get(f"/v1/products/{b}")).json()["price"] is None
    await wait_for_log(client, 1, types="product.changed", sku=a)
    await wait_for_log(client, 1, types="product.changed", sku=b)
    mark = await _last_event_id(client)

    again = _ok(await _import(client, "products", text))
    assert again == {"kind": "products", "rows": 2, "created": 0, "updated": 0,
                     "unchanged": 2, "dry_run": False}
    assert (await client.get(f"/v1/products/{a}")).json()["version"] == 1
    # A write after the import: once its event is in the log, the import's would be too.
    await client.patch(f"/v1/products/{b}", json={"name": "Sock 2"})
    after = await wait_for_log(client, 1, after=mark, types="product.changed")
    assert [e["sku"] for e in after] == [b]


async def test_a_changed_row_updates_only_what_the_file_has_columns_for(
        client: httpx.AsyncClient) -> None:
    sku = random_sku()
    _ok(await _import(client, "products", "sku,name,category,attr.size,attr.color\n"
                                          f"{sku},Boot,footwear,42,black\n"))
    answer = _ok(await _import(client, "products", f"sku,name,category,attr.color\n"
                                                   f"{sku},Boot II,footwear,\n"))
    assert (answer["created"], answer["updated"], answer["unchanged"]) == (0, 1, 0)
    product = (await client.get(f"/v1/products/{sku}")).json()
    assert product["name"] == "Boot II"
    assert product["attributes"] == {"size": "42"}  # color emptied, size not spoken of
    assert product["version"] == 2


async def test_every_bad_row_is_listed_with_its_line_and_nothing_changes(
        client: httpx.AsyncClient) -> None:
    good, also_good = random_sku(), random_sku()
    text = ("sku,name,category,price_amount,price_currency\n"          # line 1
            f'{good},"two\nlines",footwear,10.00,USD\n'                # lines 2-3
            f"{random_sku()},Bad price,footwear,ten,USD\n"             # line 4
            f"not a sku!,Bad sku,footwear,,\n"                         # line 5
            f"{also_good},Fine,footwear,,\n"                           # line 6
            f"{good},Again,footwear,,\n"                               # line 7: duplicate
            f"{random_sku()},,footwear,,\n")                           # line 8: no name
    problem = assert_problem(await _import(client, "products", text), 422,
                             "validation_error")
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (4, "price_amount"), (5, "sku"), (7, "sku"), (8, "name")]
    assert all(e["message"] for e in problem["errors"])
    for sku in (good, also_good):
        assert (await client.get(f"/v1/products/{sku}")).status_code == 404


async def test_a_dry_run_counts_what_would_happen_and_writes_nothing(
        client: httpx.AsyncClient) -> None:
    known = (await create_product(client))["sku"]
    new = random_sku()
    text = f"sku,name,category\n{known},Renamed,test\n{new},New,test\n"
    answer = _ok(await _import(client, "products", text, dry_run="true"))
    assert answer == {"kind": "products", "rows": 2, "created": 1, "updated": 1,
                      "unchanged": 0, "dry_run": True}
    assert (await client.get(f"/v1/products/{new}")).status_code == 404
    assert (await client.get(f"/v1/products/{known}")).json()["name"] != "Renamed"
    bad = assert_problem(await _import(client, "products", "sku,name,category\nx y,,\n",
                                       dry_run="true"), 422, "validation_error")
    assert {e["line"] for e in bad["errors"]} == {2}


async def test_locations_and_suppliers_import_and_update(client: httpx.AsyncClient) -> None:
    store, warehouse = random_location(), random_code("WH")
    text = ("type,code,name,region,address,latitude,longitude,capacity,operating_hours.mon\n"
            f"store,{store},Store,north,1 Main St,48.85,2.35,,09:00-18:00\n"
            f"warehouse,{warehouse},Depot,,,,,5000,\n")
    assert _ok(await _import(client, "locations", text))["created"] == 2
    got = (await client.get(f"/v1/retail-locations/{store}")).json()
    assert (got["region"], got["latitude"], got["operating_hours"]) == (
        "north", 48.85, {"mon": "09:00-18:00"})
    assert (await client.get(f"/v1/warehouses/{warehouse}")).json()["capacity"] == 5000
    assert _ok(await _import(client, "locations", text))["unchanged"] == 2
    moved = text.replace("Depot", "Depot 2")
    assert _ok(await _import(client, "locations", moved))["updated"] == 1
    assert (await client.get(f"/v1/warehouses/{warehouse}")).json()["name"] == "Depot 2"
    retyped = f"type,code,name\nwarehouse,{store},Store\n"
    problem = assert_problem(await _import(client, "locations", retyped), 422,
                             "validation_error")
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [(2, "type")]

    code = random_code("SUP")
    await _time_zones_import(client, store)
    suppliers = ("code,name,lead_time_days,contact.email\n"
                 f"{code},Acme,7,orders@acme.test\n")
    assert _ok(await _import(client, "suppliers", suppliers))["created"] == 1
    assert _ok(await _import(client, "suppliers", suppliers))["unchanged"] == 1
    assert _ok(await _import(client, "suppliers", suppliers.replace(",7,", ",9,")))[
        "updated"] == 1
    got = (await client.get(f"/v1/suppliers/{code}")).json()
    assert (got["lead_time_days"], got["contact"]["email"]) == (9, "orders@acme.test")
    bad = assert_problem(await _import(client, "suppliers",
                                       f"code,name,lead_time_days\n{code},Acme,-1\n"),
                         422, "validation_error")
    assert [(e["line"], e["field"]) for e in bad["errors"]] == [(2, "lead_time_days")]


async def _time_zones_import(client: httpx.AsyncClient, store: str) -> None:
    """A store's time zone (the days of its sales report) comes in a column of its own; an
    unknown zone is refused on its line, an empty cell clears it."""
    zoned = f"type,code,name,time_zone\nstore,{store},Store,Europe/Paris\n"
    assert _ok(await _import(client, "locations", zoned))["updated"] == 1
    assert (await client.get(f"/v1/retail-locations/{store}")).json()["time_zone"] == (
        "Europe/Paris")
    bad = assert_problem(await _import(client, "locations", zoned.replace(
        "Europe/Paris", "Mars/Olympus")), 422, "validation_error")
    assert [(e["line"], e["field"]) for e in bad["errors"]] == [(2, "time_zone")]
    cleared = f"type,code,name,time_zone\nstore,{store},Store,\n"
    assert _ok(await _import(client, "locations", cleared))["updated"] == 1
    assert (await client.get(f"/v1/retail-locations/{store}")).json()["time_zone"] is None


async def test_levels_are_counts_with_ledger_entries_and_a_second_import_adds_none(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    stocked, fresh = (await create_product(client))["sku"], (await create_product(client))["sku"]
    await receive(client, store, stocked, 10)
    text = ("location_id,sku,on_hand,reorder_point\n"
            f"{store},{stocked},7,3\n"
            f"{store},{fresh},4,\n")
    answer = _ok(await _import(client, "levels", text))
    assert (answer["created"], answer["updated"], answer["unchanged"]) == (1, 1, 0)
    assert ((await level(client, store, stocked))["on_hand"],
            (await level(client, store, stocked))["reorder_point"]) == (7, 3)
    assert (await level(client, store, fresh))["on_hand"] == 4
    entries = await ledger(client, store, stocked)
    assert [(e["type"], e["delta"], e["balance_after"]) for e in entries] == [
        ("receipt", 10, 10), ("count", -3, 7)]
    assert [(e["type"], e["delta"]) for e in await ledger(client, store, fresh)] == [
        ("count", 4)]

    await wait_for_log(client, 1, types="inventory.changed", location_id=store, sku=fresh)
    mark = await _last_event_id(client)
    again = _ok(await _import(client, "levels", text))
    assert again["unchanged"] == 2
    assert len(await ledger(client, store, stocked)) == 2
    assert len(await ledger(client, store, fresh)) == 1
    await receive(client, store, fresh, 1)  # once its event is in the log, any import's is
    after = await wait_for_log(client, 1, after=mark, location_id=store)
    assert [(e["type"], e["sku"]) for e in after] == [("inventory.changed", fresh)]

    unknown = (f"location_id,sku,on_hand\n{store},{random_sku()},1\n"
               f"{random_location()},{stocked},1\n{store},{stocked},-1\n")
    problem = assert_problem(await _import(client, "levels", unknown), 422,
                             "validation_error")
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (2, "sku"), (3, "location_id"), (4, "on_hand")]
    assert (await level(client, store, stocked))["on_hand"] == 7


async def test_a_count_below_what_is_reserved_is_refused_on_its_line(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, store, sku, 5)
    hold = await client.post("/v1/reservations", json={
        "location_id": store, "lines": [{"sku": sku, "quantity": 3}]})
    assert hold.status_code == 201, hold.text
    problem = assert_problem(await _import(client, "levels",
                                           f"location_id,sku,on_hand\n{store},{sku},2\n"),
                             422, "validation_error")
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [(2, "on_hand")]


async def test_a_key_limited_to_a_store_imports_only_its_own_levels(
        client: httpx.AsyncClient, settings: Settings) -> None:
    mine, other = (await create_store(client))["code"], (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    key = (await insert_api_key(settings.database_url, "store_staff",
                                location_ids=[mine])).key

    async def send(kind: str, text: str) -> httpx.Response:
        return await send_as(client, key, "POST", f"/v1/imports/{kind}",
                             content=text.encode(), headers=CSV)

    theirs = await send("levels", f"location_id,sku,on_hand\n{mine},{sku},1\n"
                                  f"{other},{sku},1\n")
    assert_problem(theirs, 403, "forbidden")
    assert (await level(client, mine, sku))["on_hand"] == 0
    _ok(await send("levels", f"location_id,sku,on_hand\n{mine},{sku},1\n"))
    assert (await level(client, mine, sku))["on_hand"] == 1
    assert_problem(await send("levels", f"location_id,sku,on_hand,reorder_point\n"
                                        f"{mine},{sku},1,2\n"), 403, "forbidden")
    assert_problem(await send("products", f"sku,name,category\n{random_sku()},X,y\n"),
                   403, "forbidden")


async def test_the_body_must_be_utf8_csv_of_a_known_kind_with_known_columns(
        client: httpx.AsyncClient) -> None:
    sku = random_sku()
    good = f"sku,name,category\n{sku},Name,cat\n"
    assert_problem(await client.post("/v1/imports/products", content=good.encode(),
                                     headers={"Content-Type": "application/json"}),
                   415, "unsupported_media_type")
    assert_problem(await _import(client, "widgets", good), 422, "validation_error")
    latin = assert_problem(await _import(client, "products", "sku,name,category\n"
                                         f"{sku},Caf\xe9,food\n".encode("latin-1")),
                           422, "validation_error")
    assert [(e["line"], e["field"]) for e in latin["errors"]] == [(2, "file")]
    missing = assert_problem(await _import(client, "products", f"sku,name\n{sku},Name\n"),
                             422, "validation_error")
    assert [(e["line"], e["field"]) for e in missing["errors"]] == [(1, "category")]
    extra = assert_problem(await _import(client, "products",
                                         f"sku,name,category,colour\n{sku},N,c,red\n"),
                           422, "validation_error")
    assert [(e["line"], e["field"]) for e in extra["errors"]] == [(1, "colour")]
    quote = assert_problem(await _import(client, "products",
                                         f'sku,name,category\n{sku},"open,cat\n'),
                           422, "validation_error")
    assert quote["errors"][0]["field"] == "file"
    empty = assert_problem(await _import(client, "products", ""), 422, "validation_error")
    assert empty["errors"][0]["line"] == 1
    bom = _ok(await _import(client, "products", b"\xef\xbb\xbf" + good.encode()))
    assert bom["created"] == 1


async def test_an_idempotency_key_replays_the_first_answer(client: httpx.AsyncClient) -> None:
    text = f"sku,name,category\n{random_sku()},Name,cat\n"
    headers = {**CSV, "Idempotency-Key": random_code("IMP")}
    first = await client.post("/v1/imports/products", content=text.encode(), headers=headers)
    second = await client.post("/v1/imports/products", content=text.encode(), headers=headers)
    assert first.json()["created"] == 1
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/v1/imports/products", content=text.encode(), headers=headers,
                              params={"dry_run": "true"})
    assert_problem(other, 422, "idempotency_key_reused")


async def test_a_row_is_refused_by_the_same_rule_and_words_as_the_json_body(
        client: httpx.AsyncClient) -> None:
    sku = random_sku()
    json_answer = assert_problem(await client.post("/v1/products", json={
        "sku": sku, "name": "N" * 201, "category": "c",
        "price": {"amount": "1.00", "currency": "usd"}}), 422, "validation_error")
    csv_answer = assert_problem(await _import(
        client, "products", "sku,name,category,price_amount,price_currency\n"
                            f"{sku},{'N' * 201},c,1.00,usd\n"), 422, "validation_error")
    by_field = {e["field"]: e["message"] for e in json_answer["errors"]}
    assert {e["field"]: e["message"] for e in csv_answer["errors"]} == {
        "name": by_field["name"], "price_currency": by_field["price.currency"]}


async def test_a_file_may_be_larger_than_other_bodies_up_to_its_own_limit(
        client: httpx.AsyncClient, settings: Settings) -> None:
    rows = settings.max_body_bytes // 200 + 100
    text = "sku,name,category\n" + "".join(f"{random_sku()},{'N' * 180},big\n"
                                           for _ in range(rows))
    assert len(text) > settings.max_body_bytes
    assert _ok(await _import(client, "products", text))["created"] == rows
    over = str(settings.import_max_body_bytes + 1).encode()
    status, _ = await send_raw(app_of(client), "POST", "/v1/imports/products", [
        (b"x-api-key", client.headers["X-API-Key"].encode()), (b"content-type", b"text/csv"),
        (b"content-length", over)])
    assert status == 413
    status, _ = await send_raw(app_of(client), "POST", "/v1/products", [
        (b"x-api-key", client.headers["X-API-Key"].encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(settings.max_body_bytes + 1).encode())])
    assert status == 413


async def test_two_imports_of_the_same_new_products_at_once_create_each_once(
        client: httpx.AsyncClient) -> None:
    skus = [random_sku() for _ in range(50)]
    text = "sku,name,category\n" + "".join(f"{sku},Name,race\n" for sku in skus)
    answers = await asyncio.gather(*(_import(client, "products", text) for _ in range(2)))
    created = [_ok(answer)["created"] for answer in answers]
    assert sorted(created) == [0, 50]
    for sku in skus[:3]:
        assert (await client.get(f"/v1/products/{sku}")).json()["version"] == 1
