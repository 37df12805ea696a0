"""The sales report by group_by, gross and net of returns, in local days, on both backends.

The database is shared by the tests of a run: each test makes its own stores, products,
regions and categories (random codes) and reads only their rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import update

from stockline.adapters.tables import locations
from stockline.config import Settings
from tests.e2e.test_csv_export import CSV, table
from tests.e2e.test_reconcile import reconcile
from tests.factories import (
    assert_problem,
    create_product,
    create_store,
    execute_sql,
    insert_api_key,
    line,
    moves,
    random_code,
    receive,
    record_sale,
    return_items,
    send_as,
)

MEASURES = ("sales", "units", "net_units", "gross", "net")


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _at(text: str) -> str:
    """An instant of the tests' calendar, as a sale's occurred_at."""
    return _iso(datetime.fromisoformat(text).astimezone(UTC))


async def _report(client: httpx.AsyncClient, start: str, end: str, **params: Any
                  ) -> list[dict[str, Any]]:
    answer = await client.get("/v1/reports/sales", params={"from": start, "to": end, **params})
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["rows"]
    return rows


def _money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def _brief(rows: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    """Each row's group fields and its sales, units and amounts, shortly."""
    return [(*(r[f] for f in fields), r["sales"], r["units"], r["net_units"],
             r["gross"]["amount"], r["net"]["amount"]) for r in rows]


async def _store(client: httpx.AsyncClient, skus: list[str], **fields: Any) -> str:
    code: str = (await create_store(client, **fields))["code"]
    for sku in skus:
        await receive(client, code, sku, 100)
    return code


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> dict[str, Any]:
    """Two stores of one new region and one of another, two products of two new
    categories, and sales on 2026-10-05 (a Monday) and 2026-10-12 and 2026-11-02."""
    north, south = random_code("N"), random_code("S")
    shoes, socks = random_code("shoes"), random_code("socks")
    x = (await create_product(client, category=shoes))["sku"]
    y = (await create_product(client, category=socks))["sku"]
    a = await _store(client, [x, y], region=north)
    b = await _store(client, [x, y], region=north)
    c = await _store(client, [x, y], region=south)
    await record_sale(client, a, [line(x, 2, "10.00"), line(y, 1, "3.00")],
                      occurred_at=_at("2026-10-05T10:00:00Z"))
    await record_sale(client, a, [line(x, 1, "10.00")], channel="ecommerce",
                      occurred_at=_at("2026-10-12T10:00:00Z"))
    await record_sale(client, b, [line(y, 4, "3.00")], occurred_at=_at("2026-10-12T11:00:00Z"))
    await record_sale(client, c, [line(x, 1, "12.00"), line(x, 1, "8.00")],
                      occurred_at=_at("2026-11-02T09:00:00Z"))
    return {"regions": (north, south), "categories": (shoes, socks), "skus": (x, y),
            "stores": (a, b, c)}


WINDOW = ("2026-10-01", "2026-12-01")


async def test_each_attribute_sums_its_own_groups(client: httpx.AsyncClient,
                                                  shop: dict[str, Any]) -> None:
    (north, south), (shoes, socks), (x, y), (a, b, c) = shop.values()
    by_location = [r for r in await _report(client, *WINDOW, group_by="location")
                   if r["location_id"] in (a, b, c)]
    assert _brief(by_location, "location_id") == sorted([
        (a, 2, 4, 4, "33.00", "33.00"), (b, 1, 4, 4, "12.00", "12.00"),
        (c, 1, 2, 2, "20.00", "20.00")])
    assert set(by_location[0]) == {"location_id", "total", *MEASURES}  # no other group
    by_region = [r for r in await _report(client, *WINDOW, group_by="region")
                 if r["region"] in (north, south)]
    assert _brief(by_region, "region") == sorted([(north, 3, 8, 8, "45.00", "45.00"),
                                                  (south, 1, 2, 2, "20.00", "20.00")])
    by_sku = [r for r in await _report(client, *WINDOW, group_by="sku") if r["sku"] in (x, y)]
    # A sale with two lines of a SKU is one sale of it.
    assert _brief(by_sku, "sku") == sorted([(x, 3, 5, 5, "50.00", "50.00"),
                                            (y, 2, 5, 5, "15.00", "15.00")])
    by_category = [r for r in await _report(client, *WINDOW, group_by="category")
                   if r["category"] in (shoes, socks)]
    assert _brief(by_category, "category") == sorted([(shoes, 3, 5, 5, "50.00", "50.00"),
                                                      (socks, 2, 5, 5, "15.00", "15.00")])
    channels = await _report(client, *WINDOW, group_by="channel", location_id=a)
    assert _brief(channels, "channel") == [("ecommerce", 1, 1, 1, "10.00", "10.00"),
                                           ("pos", 1, 3, 3, "23.00", "23.00")]


async def test_periods_and_combinations(client: httpx.AsyncClient,
                                        shop: dict[str, Any]) -> None:
    (north, _), (shoes, _), (x, _), (a, _, _) = shop.values()
    weeks = await _report(client, *WINDOW, group_by="week", location_id=a)
    assert _brief(weeks, "week") == [("2026-10-05", 1, 3, 3, "23.00", "23.00"),
                                     ("2026-10-12", 1, 1, 1, "10.00", "10.00")]
    months = [r for r in await _report(client, *WINDOW, group_by="month,region")
              if r["region"] == north]
    assert _brief(months, "month", "region") == [("2026-10", north, 3, 8, 8, "45.00", "45.00")]
    # Repeated and comma-separated alike; the order asked makes no difference.
    mixed = [r for r in await _report(client, *WINDOW, group_by=["category,sku", "month"])
             if r["category"] == shoes]
    assert _brief(mixed, "month", "sku", "category") == [
        ("2026-10", x, shoes, 2, 3, 3, "30.00", "30.00"),
        ("2026-11", x, shoes, 1, 2, 2, "20.00", "20.00")]
    assert set(mixed[0]) == {"month", "sku", "category", "total", *MEASURES}
    everything = await _report(client, *WINDOW, location_id=a, group_by=[
        "day,week,month,location,region,channel,sku,category"])
    assert [(r["day"], r["week"], r["month"], r["channel"], r["sku"], r["units"])
            for r in everything if r["sku"] == x] == [
        ("2026-10-05", "2026-10-05", "2026-10", "pos", x, 2),
        ("2026-10-12", "2026-10-12", "2026-10", "ecommerce", x, 1)]


async def test_a_week_across_two_months_is_one_week_in_two_months(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    store = await _store(client, [sku])
    for when in ("2026-11-29T23:00:00Z", "2026-11-30T01:00:00Z", "2026-12-01T10:00:00Z"):
        await record_sale(client, store, [line(sku)], occurred_at=_at(when))
    window = ("2026-11-01", "2026-12-08")
    rows = await _report(client, *window, location_id=store, group_by="day,week,month")
    assert [(r["day"], r["week"], r["month"]) for r in rows] == [
        ("2026-11-29", "2026-11-23", "2026-11"), ("2026-11-30", "2026-11-30", "2026-11"),
        ("2026-12-01", "2026-11-30", "2026-12")]
    both = await _report(client, *window, location_id=store, group_by=["week", "month"])
    assert [(r["week"], r["month"], r["sales"]) for r in both] == [
        ("2026-11-23", "2026-11", 1), ("2026-11-30", "2026-11", 1), ("2026-11-30", "2026-12", 1)]


async def test_returns_count_in_their_period_against_the_sale_s_own_groups(
        client: httpx.AsyncClient, settings: Settings) -> None:
    region = random_code("R")
    x, y = (await create_product(client))["sku"], (await create_product(client))["sku"]
    store = await _store(client, [x, y], region=region)
    elsewhere = await _store(client, [], region=random_code("R"))
    sold_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    sale = await record_sale(client, store, [line(x, 3, "10.00"), line(x, 1, "20.00"),
                                             line(y, 2, "5.00")], occurred_at=_iso(sold_at))
    # X is back at another store (its average price: 12.50), Y at the sale's own.
    await return_items(client, sale["id"], moves((x, 2)), location_id=elsewhere)
    back = await return_items(client, sale["id"], moves((y, 1)), restock=False)
    returned_on = datetime.fromisoformat(back["created_at"]).date().isoformat()
    window = (_iso(sold_at - timedelta(hours=1)), _iso(datetime.now(UTC) + timedelta(hours=1)))
    by_sku = await _report(client, *window, location_id=store, group_by="sku")
    assert _brief(by_sku, "sku") == sorted([(x, 1, 4, 2, "50.00", "25.00"),
                                            (y, 1, 2, 1, "10.00", "5.00")])
    by_day = await _report(client, *window, location_id=store, group_by="day,region")
    assert _brief(by_day, "day", "region") == [
        (sold_at.date().isoformat(), region, 1, 6, 6, "60.00", "60.00"),
        (returned_on, region, 0, 0, -3, "0.00", "-30.00")]
    # The store that took a return back sells nothing by it.
    assert await _report(client, *window, location_id=elsewhere) == []
    # Returns after the window are not in it: the sale's days alone, net as gross.
    before = await _report(client, window[0], _iso(sold_at + timedelta(days=1)),
                           location_id=store)
    assert _brief(before, "day") == [(sold_at.date().isoformat(), 1, 6, 6, "60.00", "60.00")]
    staff = (await insert_api_key(settings.database_url, "store_staff",
                                  location_ids=[elsewhere])).key
    seen = await send_as(client, staff, "GET", "/v1/reports/sales",
                         params={"from": window[0], "to": window[1], "group_by": "sku"})
    assert seen.json()["rows"] == []  # the return it took counts for the sale's store
    assert (await reconcile(client, store))["drift"] == []


async def test_days_are_the_local_days_of_each_store_across_midnight_and_dst(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    york = await _store(client, [sku], time_zone="America/New_York")
    kolkata = await _store(client, [sku], time_zone="Asia/Kolkata")
    utc = await _store(client, [sku])
    times = {york: ["2026-03-07T23:59:00-05:00", "2026-03-08T00:00:00-05:00",  # spring
                    "2026-03-08T23:59:00-04:00", "2026-03-09T00:00:00-04:00",  # forward
                    "2026-11-01T00:30:00-04:00", "2026-11-01T23:30:00-05:00"],  # back
             kolkata: ["2026-03-08T23:59:00+05:30", "2026-03-09T00:00:00+05:30"],
             utc: ["2026-03-08T23:59:00Z", "2026-03-09T00:00:00Z"]}
    for store, stamps in times.items():
        for stamp in stamps:
            await record_sale(client, store, [line(sku)], occurred_at=_at(stamp))
    window = ("2026-03-01", "2026-12-01")
    days = [(r["location_id"], r["day"], r["sales"])
            for r in await _report(client, *window, group_by="day,location")
            if r["location_id"] in times]
    assert sorted(days) == sorted([
        (york, "2026-03-07", 1), (york, "2026-03-08", 2), (york, "2026-03-09", 1),
        (york, "2026-11-01", 2), (kolkata, "2026-03-08", 1), (kolkata, "2026-03-09", 1),
        (utc, "2026-03-08", 1), (utc, "2026-03-09", 1)])
    weeks = await _report(client, *window, group_by="week", location_id=york)
    assert [(r["week"], r["sales"]) for r in weeks] == [
        ("2026-03-02", 3), ("2026-03-09", 1), ("2026-10-26", 2)]
    month = await _report(client, "2026-02-01", "2026-03-08", group_by="month",
                          location_id=kolkata)
    assert month == []  # its sale of 03-08 23:59 local is 18:29 UTC: after the window


async def test_hours_are_the_local_hours_of_each_store_across_dst(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    york = await _store(client, [sku], time_zone="America/New_York")
    kolkata = await _store(client, [sku], time_zone="Asia/Kolkata")
    utc = await _store(client, [sku])
    times = {york: ["2026-03-08T01:30:00-05:00", "2026-03-08T01:59:00-05:00",
                    "2026-03-08T03:00:00-04:00",  # the clock went forward at 02:00
                    "2026-11-01T01:10:00-04:00", "2026-11-01T01:50:00-05:00"],  # and back
             kolkata: ["2026-03-08T23:59:00+05:30", "2026-03-09T00:00:00+05:30"],
             utc: ["2026-03-08T23:59:00Z", "2026-03-09T00:00:00Z"]}
    for store, stamps in times.items():
        for n, stamp in enumerate(stamps):
            await record_sale(client, store, [line(sku, 1, f"{n + 1}.00")],
                              occurred_at=_at(stamp))
    window = ("2026-03-01", "2026-12-01")
    hours = [(r["location_id"], r["hour"], r["sales"], r["gross"]["amount"])
             for r in await _report(client, *window, group_by="hour,location")
             if r["location_id"] in times]
    assert hours == sorted([
        (york, "2026-03-08T01:00", 2, "3.00"), (york, "2026-03-08T03:00", 1, "3.00"),
        (york, "2026-11-01T01:00", 2, "9.00"),  # the hour the clock repeats is one hour
        (kolkata, "2026-03-08T23:00", 1, "1.00"), (kolkata, "2026-03-09T00:00", 1, "2.00"),
        (utc, "2026-03-08T23:00", 1, "1.00"), (utc, "2026-03-09T00:00", 1, "2.00")],
        key=lambda r: (r[1], r[0]))
    periods = await _report(client, *window, location_id=york,
                            group_by="hour,day,week,month")
    assert [(r["hour"], r["day"], r["week"], r["month"], r["sales"]) for r in periods] == [
        ("2026-03-08T01:00", "2026-03-08", "2026-03-02", "2026-03", 2),
        ("2026-03-08T03:00", "2026-03-08", "2026-03-02", "2026-03", 1),
        ("2026-11-01T01:00", "2026-11-01", "2026-10-26", "2026-11", 2)]
    # A day's hours add up to the day, on the rollup's path as on the sales tables'.
    days = await _report(client, *window, location_id=york, group_by="day")
    assert [(r["day"], r["sales"], r["gross"]) for r in days] == [
        ("2026-03-08", 3, _money("6.00")), ("2026-11-01", 2, _money("9.00"))]


async def test_today_s_hours_of_a_store_key_are_its_own(client: httpx.AsyncClient,
                                                         settings: Settings) -> None:
    sku = (await create_product(client))["sku"]
    mine, theirs = await _store(client, [sku]), await _store(client, [sku])
    now = datetime.now(UTC).replace(microsecond=0)
    for store in (mine, theirs):
        await record_sale(client, store, [line(sku, 2, "5.00")], occurred_at=_iso(now))
    staff = (await insert_api_key(settings.database_url, "store_staff",
                                  location_ids=[mine])).key
    window = {"from": _iso(now - timedelta(hours=1)), "to": _iso(now + timedelta(hours=1)),
              "group_by": "hour"}
    seen = await send_as(client, staff, "GET", "/v1/reports/sales", params=window)
    assert seen.status_code == 200, seen.text
    assert [(r["hour"], r["units"]) for r in seen.json()["rows"]] == [
        (now.strftime("%Y-%m-%dT%H:00"), 2)]


async def test_a_return_falls_on_the_local_day_of_the_sale_s_store(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    zone = "Pacific/Kiritimati"  # UTC+14: its day is a UTC day ahead much of the time
    store = await _store(client, [sku], time_zone=zone)
    sale = await record_sale(client, store, [line(sku, 2)])
    back = await return_items(client, sale["id"], moves((sku, 1)))
    now = datetime.now(UTC)
    rows = await _report(client, _iso(now - timedelta(hours=1)), _iso(now + timedelta(hours=1)),
                         location_id=store, group_by="day")
    sold_on = datetime.fromisoformat(sale["created_at"]).astimezone(ZoneInfo(zone)).date()
    back_on = datetime.fromisoformat(back["created_at"]).astimezone(ZoneInfo(zone)).date()
    expected: dict[str, list[int]] = {}
    for day, units, net in ((sold_on, 2, 2), (back_on, 0, -1)):
        got = expected.setdefault(day.isoformat(), [0, 0])
        got[0], got[1] = got[0] + units, got[1] + net
    assert {r["day"]: [r["units"], r["net_units"]] for r in rows} == expected


async def test_each_currency_has_its_own_row(client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    store = await _store(client, [sku])
    await record_sale(client, store, [line(sku, 1, "2.00")], occurred_at=_at("2026-10-02T10:00Z"))
    await record_sale(client, store, [{"sku": sku, "quantity": 2,
                                       "unit_price": _money("3.3333", "EUR")}],
                      occurred_at=_at("2026-10-02T11:00Z"))
    rows = await _report(client, *WINDOW, location_id=store, group_by="location")
    assert [(r["gross"], r["net"], r["total"]) for r in rows] == [
        (_money("6.6666", "EUR"), _money("6.6666", "EUR"), _money("6.6666", "EUR")),
        (_money("2.00"), _money("2.00"), _money("2.00"))]


async def test_csv_has_one_row_per_group(client: httpx.AsyncClient,
                                         shop: dict[str, Any]) -> None:
    (north, _), _, _, (a, _, _) = shop.values()
    answer = await client.get("/v1/reports/sales", headers=CSV, params={
        "from": WINDOW[0], "to": WINDOW[1], "group_by": "month,region", "location_id": a})
    header, rows = table(answer)
    assert header == ["hour", "day", "week", "month", "location_id", "region", "channel",
                      "sku", "category", "sales", "units", "net_units", "gross_amount",
                      "gross_currency", "net_amount", "net_currency", "total_amount",
                      "total_currency"]
    assert [(r["month"], r["region"], r["day"], r["sales"], r["units"], r["net_amount"])
            for r in rows] == [("2026-10", north, "", "2", "4", "33.00")]


async def test_a_scoped_key_sums_only_its_stores(client: httpx.AsyncClient,
                                                 shop: dict[str, Any],
                                                 settings: Settings) -> None:
    (north, _), _, _, (a, b, _) = shop.values()
    key = (await insert_api_key(settings.database_url, "store_staff", location_ids=[a])).key
    seen = await send_as(client, key, "GET", "/v1/reports/sales", params={
        "from": WINDOW[0], "to": WINDOW[1], "group_by": "region"})
    assert _brief(seen.json()["rows"], "region") == [(north, 2, 4, 4, "33.00", "33.00")]
    refused = await send_as(client, key, "GET", "/v1/reports/sales", params={
        "from": WINDOW[0], "to": WINDOW[1], "group_by": "region", "location_id": b})
    assert_problem(refused, 403, "forbidden")


@pytest.mark.parametrize("group_by", ["year", "day,year", "day;week", "Day", "sku,,,x",
                                      "hour,day,week,month,location,region,channel,sku,category,"
                                      "day"])
async def test_a_group_by_of_no_group_is_422(client: httpx.AsyncClient, group_by: str) -> None:
    refused = await client.get("/v1/reports/sales", params={
        "from": WINDOW[0], "to": WINDOW[1], "group_by": group_by})
    field = assert_problem(refused, 422, "validation_error")["errors"][0]["field"]
    assert field.startswith("group_by")


async def test_blank_or_repeated_groups_are_taken_as_named(client: httpx.AsyncClient,
                                                           shop: dict[str, Any]) -> None:
    a = shop["stores"][0]
    plain = await _report(client, *WINDOW, location_id=a)
    for given in ("", " , ", ["day", "location,day"], "location, day"):
        assert await _report(client, *WINDOW, location_id=a, group_by=given) == plain
    assert [set(r) - {"total", *MEASURES} for r in plain] == [{"day", "location_id"}] * 2


async def test_locations_keep_their_time_zone(client: httpx.AsyncClient) -> None:
    made = await create_store(client, time_zone="Europe/Paris")
    assert made["time_zone"] == "Europe/Paris"
    got = await client.get(f"/v1/retail-locations/{made['code']}")
    assert got.json()["time_zone"] == "Europe/Paris"
    plain = await create_store(client)
    assert plain["time_zone"] is None
    warehouse = await client.post("/v1/warehouses", json={
        "code": random_code("WH"), "name": "W", "time_zone": "Asia/Kolkata"})
    assert warehouse.status_code == 201, warehouse.text
    assert warehouse.json()["time_zone"] == "Asia/Kolkata"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Pariss", "../etc/passwd",
                                  "", 5, "Europe/Paris\u0000"])
async def test_a_time_zone_the_database_does_not_know_is_422_and_creates_nothing(
        client: httpx.AsyncClient, zone: Any) -> None:
    code = random_code("TZ")
    refused = await client.post("/v1/retail-locations", json={
        "code": code, "name": "Nowhere", "time_zone": zone})
    assert assert_problem(refused, 422, "validation_error")["errors"][0]["field"] == "time_zone"
    assert_problem(await client.get(f"/v1/retail-locations/{code}"), 404, "not_found")


async def test_a_location_moves_to_another_time_zone_or_none(client: httpx.AsyncClient) -> None:
    store = (await create_store(client, time_zone="Europe/Paris"))["code"]
    moved = await client.patch(f"/v1/retail-locations/{store}",
                               json={"time_zone": "America/Chicago"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["time_zone"] == "America/Chicago"
    refused = await client.patch(f"/v1/retail-locations/{store}",
                                 json={"time_zone": "Europe/Pariss"})
    assert assert_problem(refused, 422, "validation_error")["errors"][0]["field"] == "time_zone"
    got = await client.get(f"/v1/retail-locations/{store}")
    assert got.json()["time_zone"] == "America/Chicago"
    cleared = await client.patch(f"/v1/retail-locations/{store}", json={"time_zone": None})
    assert cleared.json()["time_zone"] is None


async def test_a_sale_of_two_skus_of_one_category_is_one_sale_of_it(
        client: httpx.AsyncClient) -> None:
    category = random_code("cat")
    x = (await create_product(client, category=category))["sku"]
    y = (await create_product(client, category=category))["sku"]
    store = await _store(client, [x, y], region=None)
    await record_sale(client, store, [line(x, 1, "4.00"), line(y, 2, "1.00"), line(x, 1, "2.00")],
                      occurred_at=_at("2026-10-20T12:00:00Z"))
    by_category = await _report(client, *WINDOW, location_id=store, group_by="category")
    assert _brief(by_category, "category") == [(category, 1, 4, 4, "8.00", "8.00")]
    by_sku = await _report(client, *WINDOW, location_id=store, group_by="sku")
    assert _brief(by_sku, "sku") == sorted([(x, 1, 2, 2, "6.00", "6.00"),
                                            (y, 1, 2, 2, "2.00", "2.00")])
    by_region = await _report(client, *WINDOW, location_id=store, group_by="region")
    assert [(r["region"], r["units"]) for r in by_region] == [(None, 4)]  # a store of none


async def test_a_stored_zone_the_time_zone_database_no_longer_knows_keeps_utc_days(
        client: httpx.AsyncClient, settings: Settings) -> None:
    sku = (await create_product(client))["sku"]
    store = await _store(client, [sku], time_zone="Europe/Paris")
    await record_sale(client, store, [line(sku)], occurred_at=_at("2026-10-20T23:30:00Z"))
    await execute_sql(settings.database_url, update(locations).where(
        locations.c.code == store).values(time_zone="Atlantis/Lost_City"))
    rows = await _report(client, *WINDOW, location_id=store, group_by="day")
    assert [(r["day"], r["sales"]) for r in rows] == [("2026-10-20", 1)]  # Paris: 10-21
