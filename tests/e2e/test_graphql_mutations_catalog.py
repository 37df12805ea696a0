"""GraphQL writes on the catalogue (products, warehouses, stores, suppliers) against the
real app, on both backends: each is its REST route (the same answer, the same codes in
``userErrors``), takes ``expectedVersion`` where REST does, replays an idempotency key
whichever protocol used it first, and keeps the route's permission."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import (
    create_api_key,
    create_product,
    create_store,
    create_warehouse,
    random_code,
    random_sku,
)
from tests.graphql_support import PAYLOAD_ERRORS, codes, gql

PRODUCT = f"""mutation ($sku: String!, $input: UpdateProductInput!, $key: String) {{
  updateProduct(sku: $sku, input: $input, idempotencyKey: $key) {{
    product {{ sku name category attributes price {{ amount currency }} status version }}
    {PAYLOAD_ERRORS} }} }}"""
LOCATION_FIELDS = ("location { code type name region address latitude capacity "
                   "operatingHours status }")
CREATE_STORE = f"""mutation ($input: CreateRetailLocationInput!) {{
  createRetailLocation(input: $input) {{ {LOCATION_FIELDS} {PAYLOAD_ERRORS} }} }}"""
CREATE_WAREHOUSE = f"""mutation ($input: CreateWarehouseInput!) {{
  createWarehouse(input: $input) {{ {LOCATION_FIELDS} {PAYLOAD_ERRORS} }} }}"""
UPDATE_STORE = f"""mutation ($code: String!, $input: UpdateRetailLocationInput!) {{
  updateRetailLocation(code: $code, input: $input) {{ {LOCATION_FIELDS} {PAYLOAD_ERRORS} }} }}"""
UPDATE_WAREHOUSE = f"""mutation ($code: String!, $input: UpdateWarehouseInput!) {{
  updateWarehouse(code: $code, input: $input) {{ {LOCATION_FIELDS} {PAYLOAD_ERRORS} }} }}"""
SUPPLIER_FIELDS = ("supplier { code name status leadTimeDays contact { name email } "
                   "products { sku cost { amount } product { name } } }")
CREATE_SUPPLIER = f"""mutation ($input: CreateSupplierInput!, $key: String) {{
  createSupplier(input: $input, idempotencyKey: $key) {{ {SUPPLIER_FIELDS} {PAYLOAD_ERRORS} }} }}"""
UPDATE_SUPPLIER = f"""mutation ($code: String!, $input: UpdateSupplierInput!) {{
  updateSupplier(code: $code, input: $input) {{ {SUPPLIER_FIELDS} {PAYLOAD_ERRORS} }} }}"""


async def update_product(client: httpx.AsyncClient, sku: str, given: dict[str, Any],
                         key: str | None = None) -> dict[str, Any]:
    data = await gql(client, PRODUCT, {"sku": sku, "input": given, "key": key})
    payload: dict[str, Any] = data["updateProduct"]
    return payload


async def test_update_product_changes_only_what_is_given_at_the_version_expected(
        client: httpx.AsyncClient) -> None:
    made = await create_product(client, attributes={"size": "42", "color": "red"})
    sku, version = made["sku"], made["version"]
    changed = await update_product(client, sku, {
        "name": "Renamed", "attributes": {"color": None, "fit": "wide"},
        "price": {"amount": "12.50", "currency": "USD"}, "expectedVersion": version})
    assert changed["userErrors"] == []
    assert changed["product"] == {
        "sku": sku, "name": "Renamed", "category": made["category"],
        "attributes": {"size": "42", "fit": "wide"},
        "price": {"amount": "12.50", "currency": "USD"}, "status": "ACTIVE",
        "version": version + 1}
    rest = (await client.get(f"/v1/products/{sku}")).json()
    assert (rest["name"], rest["version"], rest["attributes"]) == (
        "Renamed", version + 1, {"size": "42", "fit": "wide"})

    stale = await update_product(client, sku, {"name": "Again", "expectedVersion": version})
    assert stale["product"] is None and codes(stale) == [("version_conflict", None)]
    assert (await client.get(f"/v1/products/{sku}")).json() == rest


async def test_update_product_refusals_are_the_rest_codes(client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    cases = [
        (sku, {"price": {"amount": "ten", "currency": "USD"}},
         [("validation_error", "price.amount")]),
        (sku, {}, [("validation_error", "input")]),
        (random_sku(), {"name": "Nobody"}, [("not_found", None)]),
        ("not a code", {"name": "x"}, [("validation_error", "sku")]),
    ]
    for given_sku, given, expected in cases:
        payload = await update_product(client, given_sku, given)
        assert payload["product"] is None and codes(payload) == expected, (given, payload)
    rest = await client.patch(f"/v1/products/{sku}", json={})
    assert rest.status_code == 422


async def test_a_discontinued_product_refuses_receipts_as_over_rest(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    gone = await update_product(client, sku, {"status": "DISCONTINUED"})
    assert gone["product"]["status"] == "DISCONTINUED"
    receipt = await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "delta": 1, "reason": "receipt"})
    assert receipt.status_code == 409 and receipt.json()["code"] == "product_discontinued"


async def test_a_key_used_over_graphql_replays_over_rest_and_applies_once(
        client: httpx.AsyncClient) -> None:
    made = await create_product(client)
    sku, key = made["sku"], random_code("KEY")
    first = await update_product(client, sku, {"name": "Once", "category": "c2"}, key=key)
    again = await update_product(client, sku, {"name": "Once", "category": "c2"}, key=key)
    assert again == first and first["product"]["version"] == made["version"] + 1
    rest = await client.patch(f"/v1/products/{sku}", headers={"Idempotency-Key": key},
                              json={"name": "Once", "category": "c2"})
    assert rest.status_code == 200 and rest.headers.get("Idempotent-Replayed") == "true"
    assert rest.json()["version"] == made["version"] + 1
    reused = await update_product(client, sku, {"name": "Other"}, key=key)
    assert codes(reused) == [("idempotency_key_reused", None)]
    assert (await client.get(f"/v1/products/{sku}")).json()["version"] == made["version"] + 1


async def test_locations_are_created_changed_cleared_and_closed(
        client: httpx.AsyncClient) -> None:
    code = random_code("ST")
    made = (await gql(client, CREATE_STORE, {"input": {
        "code": code, "name": "Harbour", "region": "north", "address": "1 Quay",
        "operatingHours": {"mon": "09:00-17:00"}}}))["createRetailLocation"]
    assert made["userErrors"] == []
    assert made["location"] == {"code": code, "type": "RETAIL", "name": "Harbour",
                                "region": "north", "address": "1 Quay", "latitude": None,
                                "capacity": None, "operatingHours": {"mon": "09:00-17:00"},
                                "status": "ACTIVE"}
    twice = (await gql(client, CREATE_STORE, {"input": {"code": code, "name": "x"}}))
    assert codes(twice["createRetailLocation"]) == [("already_exists", None)]

    # address: null clears it; the fields left out stay as they are
    cleared = (await gql(client, UPDATE_STORE, {"code": code, "input": {
        "address": None, "capacity": 40}}))["updateRetailLocation"]
    assert cleared["userErrors"] == []
    assert (cleared["location"]["address"], cleared["location"]["name"],
            cleared["location"]["capacity"], cleared["location"]["region"]) == (
        None, "Harbour", 40, "north")
    rest = (await client.get(f"/v1/retail-locations/{code}")).json()
    assert (rest["address"], rest["capacity"]) == (None, 40)

    closed = (await gql(client, UPDATE_STORE, {"code": code, "input": {"status": "CLOSED"}}))
    assert closed["updateRetailLocation"]["location"]["status"] == "CLOSED"
    sku = (await create_product(client))["sku"]
    refused = await client.post("/v1/inventory/update", json={
        "location_id": code, "sku": sku, "delta": 1, "reason": "receipt"})
    assert refused.status_code == 409 and refused.json()["code"] == "location_closed"


async def test_location_refusals_are_the_rest_codes(client: httpx.AsyncClient) -> None:
    warehouse = (await create_warehouse(client))["code"]
    made = (await gql(client, CREATE_WAREHOUSE, {"input": {
        "code": random_code("WH"), "name": "Depot", "latitude": 48.5}}))["createWarehouse"]
    assert made["userErrors"] == [] and made["location"]["type"] == "WAREHOUSE"
    cases = [
        (UPDATE_WAREHOUSE, "updateWarehouse", {"code": warehouse,
                                               "input": {"latitude": 200.0}},
         [("validation_error", "latitude")]),
        (UPDATE_WAREHOUSE, "updateWarehouse", {"code": warehouse, "input": {"name": None}},
         [("validation_error", "input")]),  # nothing sent: null does not clear a name
        (UPDATE_WAREHOUSE, "updateWarehouse", {"code": random_code("WH"),
                                               "input": {"name": "x"}},
         [("not_found", None)]),
        (UPDATE_STORE, "updateRetailLocation", {"code": warehouse, "input": {"name": "x"}},
         [("not_found", None)]),  # a warehouse is not a store, as over REST
        (CREATE_WAREHOUSE, "createWarehouse", {"input": {"code": "no spaces", "name": "x"}},
         [("validation_error", "code")]),
    ]
    for document, field, variables, expected in cases:
        payload = (await gql(client, document, variables))[field]
        assert payload["location"] is None and codes(payload) == expected, (variables,
                                                                            payload)
    rest = await client.patch(f"/v1/retail-locations/{warehouse}", json={"name": "x"})
    assert rest.status_code == 404


async def test_suppliers_are_created_and_changed(client: httpx.AsyncClient) -> None:
    product = await create_product(client)
    code, key = random_code("SUP"), random_code("KEY")
    given = {"code": code, "name": "Acme", "leadTimeDays": 5,
             "contact": {"name": "Ann", "email": "ann@example.com"},
             "products": [{"sku": product["sku"],
                           "cost": {"amount": "3.10", "currency": "USD"}}]}
    made = (await gql(client, CREATE_SUPPLIER, {"input": given, "key": key}))
    assert made["createSupplier"]["userErrors"] == []
    assert made["createSupplier"]["supplier"] == {
        "code": code, "name": "Acme", "status": "ACTIVE", "leadTimeDays": 5,
        "contact": {"name": "Ann", "email": "ann@example.com"},
        "products": [{"sku": product["sku"], "cost": {"amount": "3.10"},
                      "product": {"name": product["name"]}}]}
    assert await gql(client, CREATE_SUPPLIER, {"input": given, "key": key}) == made

    changed = (await gql(client, UPDATE_SUPPLIER, {"code": code, "input": {
        "leadTimeDays": None, "contact": {"phone": "+100"}, "status": "CLOSED"}}))
    supplier = changed["updateSupplier"]["supplier"]
    assert (supplier["leadTimeDays"], supplier["contact"], supplier["status"],
            supplier["name"]) == (None, {"name": None, "email": None}, "CLOSED", "Acme")
    rest = (await client.get(f"/v1/suppliers/{code}")).json()
    assert (rest["lead_time_days"], rest["contact"]["phone"]) == (None, "+100")

    unknown = (await gql(client, CREATE_SUPPLIER, {"input": {
        **given, "code": random_code("SUP"),
        "products": [{"sku": random_sku(), "cost": {"amount": "1", "currency": "USD"}}]}}))
    assert codes(unknown["createSupplier"]) == [("not_found", None)]
    bad = (await gql(client, UPDATE_SUPPLIER, {"code": code, "input": {"leadTimeDays": -1}}))
    assert codes(bad["updateSupplier"]) == [("validation_error", "leadTimeDays")]


async def test_catalogue_writes_keep_the_rest_routes_roles(client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    store = (await create_store(client))["code"]
    staff = (await create_api_key(client, "store_staff", location_ids=[store]))["key"]
    manager = (await create_api_key(client, "manager"))["key"]
    for key, expected in ((staff, [("forbidden", None)]), (manager, [])):
        product = (await gql(client, PRODUCT, {"sku": sku, "input": {"name": "By key"}},
                             key=key))["updateProduct"]
        assert codes(product) == expected
        place = (await gql(client, UPDATE_STORE, {"code": store, "input": {"capacity": 9}},
                           key=key))["updateRetailLocation"]
        assert codes(place) == expected
        supplier = (await gql(client, CREATE_SUPPLIER, {"input": {
            "code": random_code("SUP"), "name": "S"}}, key=key))["createSupplier"]
        assert codes(supplier) == expected
