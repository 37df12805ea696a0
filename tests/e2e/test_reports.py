"""Sales by day and location, on both backends: sums, UTC days, scope, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from stockline.config import Settings
from tests.factories import (
    assert_problem,
    insert_api_key,
    line,
    record_sale,
    send_as,
    stocked,
)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _gross(row: dict[str, object], amount: str) -> dict[str, object]:
    """A row without returns: net as gross, and ``total`` (gross by its first name)."""
    money = {"amount": amount, "currency": "USD"}
    return {**row, "net_units": row["units"], "gross": money, "net": money, "total": money}


async def test_sales_are_summed_per_utc_day_location_and_currency(
        client: httpx.AsyncClient) -> None:
    here, (sku,) = await stocked(client, 50)
    there = (await client.post("/v1/retail-locations", json={
        "code": f"{here}-B", "name": "B"})).json()["code"]
    await client.post("/v1/inventory/update", json={"location_id": there, "sku": sku,
                                                    "delta": 50, "reason": "receipt"})
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=3)
    late = day + timedelta(hours=23, minutes=59)  # still that UTC day
    await record_sale(client, here, [line(sku, 2, "10.00")], occurred_at=_iso(day))
    await record_sale(client, here, [line(sku, 1, "5.50")], occurred_at=_iso(late))
    await record_sale(client, here, [line(sku, 1, "1.00")],
                      occurred_at=_iso(day + timedelta(days=1)))
    await record_sale(client, there, [line(sku, 3, "2.00")], occurred_at=_iso(day))
    await record_sale(client, here, [line(sku, 1, "7.00", )],
                      occurred_at=_iso(day - timedelta(seconds=1)))  # before the window
    answer = await client.get("/v1/reports/sales", params={
        "from": _iso(day), "to": _iso(day + timedelta(days=2))})
    assert answer.status_code == 200, answer.text
    rows = [r for r in answer.json()["rows"] if r["location_id"] in (here, there)]
    first, second = day.date().isoformat(), (day + timedelta(days=1)).date().isoformat()
    assert rows == [
        _gross({"day": first, "location_id": here, "sales": 2, "units": 3}, "25.50"),
        _gross({"day": first, "location_id": there, "sales": 1, "units": 3}, "6.00"),
        _gross({"day": second, "location_id": here, "sales": 1, "units": 1}, "1.00"),
    ]
    one = await client.get("/v1/reports/sales", params={
        "from": _iso(day), "to": _iso(day + timedelta(days=2)), "location_id": there})
    assert [r["location_id"] for r in one.json()["rows"]] == [there]
    # Plain dates: the start of that UTC day, for `from` and `to` alike.
    by_dates = await client.get("/v1/reports/sales", params={
        "from": first, "to": (day + timedelta(days=2)).date().isoformat()})
    assert by_dates.status_code == 200, by_dates.text
    assert [r for r in by_dates.json()["rows"] if r["location_id"] in (here, there)] == rows
    one_day = await client.get("/v1/reports/sales", params={"from": first, "to": second})
    assert [r["day"] for r in one_day.json()["rows"] if r["location_id"] == here] == [first]


async def test_plain_dates_are_the_start_of_their_utc_day_on_every_list(
        client: httpx.AsyncClient) -> None:
    here, (sku,) = await stocked(client, 10)
    day = datetime(2026, 11, 1, tzinfo=UTC)
    await record_sale(client, here, [line(sku, 1)], occurred_at=_iso(day))
    await record_sale(client, here, [line(sku, 1)], occurred_at=_iso(day - timedelta(seconds=1)))
    sales = await client.get("/v1/sales", params={"location_id": here, "from": "2026-11-01",
                                                  "to": "2026-11-02"})
    assert [s["occurred_at"] for s in sales.json()["items"]] == ["2026-11-01T00:00:00Z"]
    before = await client.get("/v1/sales", params={"location_id": here, "to": "2026-11-01"})
    assert len(before.json()["items"]) == 1
    for path in ("/v1/sales", "/v1/stock-movements", "/v1/audit"):
        assert (await client.get(path, params={"from": "2026-11-01"})).status_code == 200
        refused = await client.get(path, params={"from": "2026-02-30"})
        assert assert_problem(refused, 422, "validation_error")["errors"][0]["field"] == "from"


async def test_a_scoped_key_sees_only_its_locations(client: httpx.AsyncClient,
                                                    settings: Settings) -> None:
    mine, (sku,) = await stocked(client, 5)
    other, (sku2,) = await stocked(client, 5)
    now = datetime.now(UTC)
    await record_sale(client, mine, [line(sku)])
    await record_sale(client, other, [line(sku2)])
    key = (await insert_api_key(settings.database_url, "store_staff",
                                location_ids=[mine])).key
    window = {"from": _iso(now - timedelta(hours=1)), "to": _iso(now + timedelta(hours=1))}
    seen = await send_as(client, key, "GET", "/v1/reports/sales", params=window)
    assert {r["location_id"] for r in seen.json()["rows"]} == {mine}
    refused = await send_as(client, key, "GET", "/v1/reports/sales",
                            params={**window, "location_id": other})
    assert_problem(refused, 403, "forbidden")
    partner = (await insert_api_key(settings.database_url, "partner")).key
    assert_problem(await send_as(client, partner, "GET", "/v1/reports/sales", params=window),
                   403, "forbidden")


async def test_bad_windows_are_422(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    for params in ({}, {"from": _iso(now)}, {"to": _iso(now)},
                   {"from": _iso(now), "to": _iso(now)},
                   {"from": _iso(now), "to": _iso(now - timedelta(days=1))},
                   {"from": _iso(now), "to": _iso(now + timedelta(days=367))},
                   {"from": "yesterday", "to": _iso(now)},
                   {"from": _iso(now), "to": _iso(now + timedelta(days=1)),
                    "location_id": "no spaces"}):
        assert_problem(await client.get("/v1/reports/sales", params=params), 422,
                       "validation_error")
