"""Customers on sales: kept apart, never in events, the audit trail or sale answers; erased
by pseudonymizing them everywhere, with every sale, total and ledger entry unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from stockline.adapters.database import open_database
from stockline.adapters.tables import audit_log, customers, sales
from stockline.bootstrap import Container
from stockline.config import Settings
from tests.factories import (
    assert_problem,
    event_log,
    insert_api_key,
    ledger,
    level,
    line,
    record_sale,
    send_as,
    stocked,
    without_credentials,
)


def _customer() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    return f"LOYALTY-{tag}", f"jo.{tag}@example.com, +44 20 7946 {tag[:4]}"


async def _rows(url: str, ref_or_pseudonym: str | None, sale_ids: list[str]
                ) -> tuple[list[tuple[str, str | None]], list[str | None]]:
    database = open_database(url)
    try:
        async with database.write.connect() as conn:
            people = [(r.ref, r.contact) for r in (await conn.execute(
                select(customers).where(customers.c.ref == ref_or_pseudonym))).all()]
            refs = [r.customer_ref for r in (await conn.execute(
                select(sales.c.customer_ref).where(sales.c.id.in_(sale_ids))
                .order_by(sales.c.id))).all()]
        return people, refs
    finally:
        await database.dispose()


async def test_a_sale_keeps_its_customer_apart_and_erasure_pseudonymizes_it(
        client: httpx.AsyncClient, container: Container, settings: Settings) -> None:
    since = datetime.now(UTC)
    ref, contact = _customer()
    store, (sku,) = await stocked(client, 10)
    first = await record_sale(client, store, [line(sku, 2, "30.00")],
                              customer={"ref": ref, "contact": "old contact"})
    second = await record_sale(client, store, [line(sku, 1, "30.00")],
                               customer={"ref": ref, "contact": contact})
    other = await record_sale(client, store, [line(sku, 1, "30.00")])
    for sale in (first, second, other):  # the sale's answer says nothing of its customer
        assert "customer" not in sale and "customer_ref" not in sale

    found = (await client.get(f"/v1/customers/{ref}")).json()
    assert (found["ref"], found["contact"], found["sales"]) == (ref, contact, 2)

    before_level = await level(client, store, sku)
    before_ledger = await ledger(client, store, sku)
    before_sales = {s: (await client.get(f"/v1/sales/{s}")).json()
                    for s in (first["id"], second["id"])}

    erased = await client.post(f"/v1/customers/{ref}/erase")
    assert (erased.status_code, erased.content) == (204, b""), erased.text
    assert erased.headers["Cache-Control"] == "no-store"

    assert_problem(await client.get(f"/v1/customers/{ref}"), 404, "not_found")
    again = await client.post(f"/v1/customers/{ref}/erase")  # tells nothing either
    assert (again.status_code, again.content) == (204, b"")
    sale_ids = sorted([first["id"], second["id"]])
    people, refs = await _rows(settings.database_url, ref, sale_ids)
    assert people == []  # the old reference is gone
    assert refs[0] == refs[1] and refs[0] is not None and refs[0].startswith("erased_")
    pseudonymized, _ = await _rows(settings.database_url, refs[0], [])
    assert pseudonymized == [(refs[0], None)]  # the contact is deleted
    # Sales, totals, stock and the ledger are exactly as before.
    assert await level(client, store, sku) == before_level
    assert await ledger(client, store, sku) == before_ledger
    for sale_id, sale in before_sales.items():
        assert (await client.get(f"/v1/sales/{sale_id}")).json() == sale

    # Nothing of the customer in the event log, nor in the audit trail.
    log = str(await event_log(client))
    assert ref not in log and "jo." not in log and "old contact" not in log
    await container.audit.flush()
    database = open_database(settings.database_url)
    try:
        async with database.write.connect() as conn:
            trail = [tuple(r) for r in (await conn.execute(
                select(audit_log).where(audit_log.c.at >= since))).all()]
    finally:
        await database.dispose()
    assert any(row for row in trail if "/v1/customers/{ref}/erase" in str(row))
    assert ref not in str(trail) and contact not in str(trail)


async def test_a_new_sale_after_erasure_starts_a_new_customer(client: httpx.AsyncClient) -> None:
    ref, contact = _customer()
    store, (sku,) = await stocked(client, 5)
    await record_sale(client, store, [line(sku)], customer={"ref": ref, "contact": contact})
    assert (await client.post(f"/v1/customers/{ref}/erase")).status_code == 204
    await record_sale(client, store, [line(sku)], customer={"ref": ref})
    found = (await client.get(f"/v1/customers/{ref}")).json()
    assert (found["sales"], found["contact"]) == (1, None)


async def test_customer_input_is_checked_and_changes_nothing(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, 5)
    before = await level(client, store, sku)
    for customer in ({"ref": "has space"}, {"ref": ""}, {"ref": "x" * 101},
                     {"ref": "erased_01ABC"}, {"ref": "A1", "contact": "x" * 501},
                     {"ref": "A1", "contact": 5}, {"ref": "A1", "email": "a@b.c"},
                     {"contact": "no ref"}, "A1"):
        response = await client.post("/v1/sales/record", json={
            "location_id": store, "lines": [line(sku)], "customer": customer})
        assert response.status_code == 422, (customer, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert await level(client, store, sku) == before
    assert_problem(await client.get("/v1/customers/not%20a%20ref"), 422, "validation_error")


async def test_only_admins_and_managers_read_or_erase_customers(
        client: httpx.AsyncClient, settings: Settings) -> None:
    ref, _ = _customer()
    store, (sku,) = await stocked(client, 5)
    await record_sale(client, store, [line(sku)], customer={"ref": ref})
    for role in ("warehouse_staff", "store_staff", "partner"):
        key = (await insert_api_key(settings.database_url, role)).key
        for method, path in (("GET", f"/v1/customers/{ref}"),
                             ("POST", f"/v1/customers/{ref}/erase")):
            assert_problem(await send_as(client, key, method, path), 403, "forbidden")
    manager = (await insert_api_key(settings.database_url, "manager")).key
    assert (await send_as(client, manager, "GET", f"/v1/customers/{ref}")).status_code == 200
    assert (await send_as(client, manager, "POST",
                          f"/v1/customers/{ref}/erase")).status_code == 204
    refused = await without_credentials(client, "POST", f"/v1/customers/{ref}/erase")
    assert refused.status_code == 401


async def test_a_customers_sales_are_listed_for_roles_that_may_read_customers(
        client: httpx.AsyncClient, settings: Settings) -> None:
    ref, _ = _customer()
    store, (sku,) = await stocked(client, 5)
    mine = [await record_sale(client, store, [line(sku)], customer={"ref": ref})
            for _ in range(2)]
    await record_sale(client, store, [line(sku)])
    listed = (await client.get("/v1/sales", params={"customer_ref": ref})).json()["items"]
    assert sorted(s["id"] for s in listed) == sorted(s["id"] for s in mine)
    staff = (await insert_api_key(settings.database_url, "store_staff",
                                  location_ids=[store])).key
    assert_problem(await send_as(client, staff, "GET", "/v1/sales",
                                 params={"customer_ref": ref}), 403, "forbidden")
    assert (await send_as(client, staff, "GET", "/v1/sales",
                          params={"location_id": store})).status_code == 200
    assert_problem(await client.get("/v1/sales", params={"customer_ref": "a b"}), 422,
                   "validation_error")
    assert (await client.post(f"/v1/customers/{ref}/erase")).status_code == 204
    gone = (await client.get("/v1/sales", params={"customer_ref": ref})).json()["items"]
    assert gone == []
