"""GraphQL reads over HTTP against the real app, on SQLite and PostgreSQL: nested fields
both ways, Relay paging with REST's cursors, the same scope and refusals as REST (and the
same problem codes), limits, GraphQL over HTTP by GET, and the explorer page."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.factories import (
    as_key,
    assert_problem,
    collect,
    create_api_key,
    create_product,
    create_purchase_order,
    create_store,
    create_supplier,
    line,
    random_code,
    receive,
    record_sale,
    stocked,
    wait_for_log,
    without_credentials,
)

NESTED = """
query ($sku: String!) {
  product(sku: $sku) {
    sku name
    levels { edges { cursor node { locationId available
      location { code name type levels(belowReorderPoint: true) {
        edges { node { sku onHand reorderPoint product { sku } } } } } } } }
  }
}"""


async def gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None,
              *, key: str | None = None) -> dict[str, Any]:
    body = {"query": query, "variables": variables or {}}
    response = (await client.post("/graphql", json=body) if key is None
                else await as_key(client, key, "POST", "/graphql", json=body))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def codes(answer: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in answer.get("errors", [])]


async def test_product_levels_location_and_back_in_one_query(client: httpx.AsyncClient) -> None:
    store, (sku, other) = await stocked(client, quantity=3, skus=2)
    await client.put(f"/v1/inventory/{store}/{other}/settings", json={"reorder_point": 5})
    answer = await gql(client, NESTED, {"sku": sku})
    assert "errors" not in answer, answer
    product = answer["data"]["product"]
    assert product["sku"] == sku
    (edge,) = product["levels"]["edges"]
    level = edge["node"]
    assert level == {**level, "locationId": store, "available": 3}
    assert level["location"]["code"] == store and level["location"]["type"] == "RETAIL"
    low = [e["node"] for e in level["location"]["levels"]["edges"]]
    assert low == [{"sku": other, "onHand": 3, "reorderPoint": 5, "product": {"sku": other}}]


async def test_a_sale_shows_its_lines_products_returns_and_location(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    sale = await record_sale(client, store, [line(sku, 2, "4.50")])
    returned = await client.post(f"/v1/sales/{sale['id']}/returns", json={
        "lines": [{"sku": sku, "quantity": 1}], "restock": True, "reason": "changed_mind"})
    assert returned.status_code == 201, returned.text
    answer = await gql(client, """query ($id: String!) { sale(id: $id) {
        id total { amount currency } location { code }
        lines { sku quantity returnedQuantity unitPrice { amount } product { sku name } }
        returns { reason lines { sku quantity product { sku } } } } }""", {"id": sale["id"]})
    assert "errors" not in answer, answer
    got = answer["data"]["sale"]
    rest = (await client.get(f"/v1/sales/{sale['id']}")).json()
    assert got["total"] == rest["total"] == {"amount": "9.00", "currency": "USD"}
    assert got["location"] == {"code": store}
    assert got["lines"] == [{"sku": sku, "quantity": 2, "returnedQuantity": 1,
                             "unitPrice": {"amount": "4.50"},
                             "product": {"sku": sku, "name": "Test product"}}]
    assert got["returns"] == [{"reason": "CHANGED_MIND",
                               "lines": [{"sku": sku, "quantity": 1, "product": {"sku": sku}}]}]


async def test_paging_walks_the_list_as_rest_does(client: httpx.AsyncClient) -> None:
    store, skus = await stocked(client, quantity=1, skus=7)
    rest = [x["sku"] for x in await collect(client, "/v1/inventory", {"location_id": store})]
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        answer = await gql(client, """query ($loc: String!, $after: String) {
            levels(locationId: $loc, first: 3, after: $after) {
              edges { cursor node { sku } } pageInfo { hasNextPage endCursor } } }""",
                           {"loc": store, "after": after})
        page = answer["data"]["levels"]
        seen += [e["node"]["sku"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert seen == rest == sorted(skus)
    assert pages == 3
    # an edge's cursor resumes after its node, in GraphQL and in REST alike
    first = await gql(client, "query ($l: String) { levels(locationId: $l, first: 2) { "
                      "edges { cursor } } }", {"l": store})
    cursor = first["data"]["levels"]["edges"][0]["cursor"]
    rest_after = (await client.get("/v1/inventory", params={
        "location_id": store, "cursor": cursor})).json()["items"]
    assert [x["sku"] for x in rest_after] == sorted(skus)[1:]


async def test_a_store_key_reads_neither_another_stores_sales_nor_its_ledger(
        client: httpx.AsyncClient) -> None:
    home, (sku,) = await stocked(client, quantity=5)
    away, (far_sku,) = await stocked(client, quantity=5)
    mine = await record_sale(client, home, [line(sku)])
    theirs = await record_sale(client, away, [line(far_sku)])
    key = (await create_api_key(client, "store_staff", location_ids=[home]))["key"]
    refused = await gql(client, 'query ($l: String!) { sales(locationId: $l) { edges { '
                        'node { id } } } }', {"l": away}, key=key)
    assert codes(refused) == ["forbidden"] and refused["data"] is None
    refused = await gql(client, 'query ($id: String!) { sale(id: $id) { id } }',
                        {"id": theirs["id"]}, key=key)
    assert codes(refused) == ["forbidden"]
    refused = await gql(client, 'query ($l: String!) { ledger(locationId: $l) { edges { '
                        'node { id } } } }', {"l": away}, key=key)
    assert codes(refused) == ["forbidden"]
    # without a filter, the list keeps to the key's store; nested under another store too
    answer = await gql(client, "{ sales(first: 500) { edges { node { id locationId } } } }",
                       key=key)
    assert {e["node"]["locationId"] for e in answer["data"]["sales"]["edges"]} == {home}
    assert mine["id"] in {e["node"]["id"] for e in answer["data"]["sales"]["edges"]}
    nested = await gql(client, 'query ($l: String!) { location(code: $l) { code sales { '
                       'edges { node { id } } } } }', {"l": away}, key=key)
    assert codes(nested) == ["forbidden"]
    assert nested["data"]["location"] is None or nested["data"]["location"]["sales"] is None


async def test_a_partner_key_reads_no_levels_of_another_location(
        client: httpx.AsyncClient) -> None:
    home, (sku,) = await stocked(client, quantity=2)
    away = (await create_store(client))["code"]
    await receive(client, away, sku, 4)
    key = (await create_api_key(client, "partner", location_ids=[home]))["key"]
    rest = await as_key(client, key, "GET", "/v1/inventory", params={"location_id": away})
    assert_problem(rest, 403, "forbidden")
    refused = await gql(client, 'query ($l: String!) { levels(locationId: $l) { edges { '
                        'node { sku } } } }', {"l": away}, key=key)
    assert codes(refused) == ["forbidden"]
    refused = await gql(client, 'query ($l: String!, $s: String!) { level(locationId: $l, '
                        'sku: $s) { onHand } }', {"l": away, "s": sku}, key=key)
    assert codes(refused) == ["forbidden"]
    answer = await gql(client, 'query ($s: String!) { product(sku: $s) { levels { edges { '
                       'node { locationId onHand } } } } }', {"s": sku}, key=key)
    assert answer["data"]["product"]["levels"]["edges"] == [
        {"node": {"locationId": home, "onHand": 2}}]


async def test_without_a_valid_credential_graphql_answers_401(
        client: httpx.AsyncClient) -> None:
    body = {"query": "{ products { edges { node { sku } } } }"}
    for headers in ({}, {"X-API-Key": "sk_wrong"}, {"Authorization": "Basic eDp5"}):
        response = await without_credentials(client, "POST", "/graphql", headers, json=body)
        assert_problem(response, 401, "unauthorized")
    response = await without_credentials(client, "GET", "/graphql",
                                         params={"query": "{ products { edges { cursor } } }"},
                                         headers={"Accept": "text/html"})
    assert_problem(response, 401, "unauthorized")


async def test_bad_input_is_a_graphql_error_with_the_rest_code(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    cases = {
        '{ product(sku: "not a code") { sku } }': "validation_error",
        '{ levels(first: 0) { edges { cursor } } }': "validation_error",
        '{ levels(first: 501) { edges { cursor } } }': "validation_error",
        '{ levels(after: "garbage") { edges { cursor } } }': "validation_error",
        '{ sales(from: "2024-01-01T00:00:00") { edges { cursor } } }': "validation_error",
        '{ events(types: ["no.such.type"]) { hasNextPage } }': "validation_error",
        '{ level(locationId: "' + store + '", sku: "' + random_code("NO") + '") { sku } }':
            "not_found",
        '{ nosuchfield }': "validation_error",
        '{ products { edges { node { sku ': "validation_error",
    }
    for query, code in cases.items():
        answer = await gql(client, query)
        assert codes(answer) == [code], (query, answer)
        assert answer["errors"][0]["message"], answer
    texts = [{"category": "a\x00b"}, {"q": "x" * 201},
             {"attributes": [{"name": 'size"]', "value": "42"}]},
             {"attributes": [{"name": "size", "value": "\x00"}]}]
    for variables in texts:
        answer = await gql(client, "query ($category: String, $q: String, $attributes: "
                           "[AttributeFilter!]) { products(category: $category, q: $q, "
                           "attributes: $attributes) { edges { cursor } } }", variables)
        assert codes(answer) == ["validation_error"], (variables, answer)
    level = await gql(client, "query ($l: String!, $s: String!) { level(locationId: $l, "
                      "sku: $s) { onHand } }", {"l": store, "s": sku})
    assert level == {"data": {"level": {"onHand": 1}}}
    # a wrong JSON body is the transport's refusal, as REST's
    response = await client.post("/graphql", content=b"{nope",
                                 headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "bad_request")


async def test_too_deep_or_too_costly_a_query_is_refused_before_it_runs(
        client: httpx.AsyncClient) -> None:
    deep = "{ products(first: 1) { edges { node { " + (
        "levels(first: 1) { edges { node { product { " * 4) + (
        "sku" + " } } } }" * 4 + " } } } }")
    answer = await gql(client, deep)
    assert codes(answer) == ["validation_error"] and answer["data"] is None
    assert answer["errors"][0]["extensions"]["maxDepth"] == 15
    costly = ("{ products(first: 500) { edges { node { levels(first: 500) { edges { node { "
              "sku } } } } } } }")
    answer = await gql(client, costly)
    assert codes(answer) == ["validation_error"]
    assert answer["errors"][0]["extensions"]["cost"] > answer["errors"][0]["extensions"][
        "maxCost"]
    # a variable's value counts as given
    answer = await gql(client, "query ($n: Int) { products(first: $n) { edges { node { "
                       "levels(first: $n) { edges { node { sku } } } } } } }", {"n": 500})
    assert codes(answer) == ["validation_error"]
    answer = await gql(client, "query ($n: Int) { products(first: $n) { edges { node { "
                       "levels(first: $n) { edges { node { sku } } } } } } }", {"n": 5})
    assert "errors" not in answer, answer


async def test_queries_by_get_follow_graphql_over_http(client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    response = await client.get("/graphql", params={
        "query": "query ($s: String!) { product(sku: $s) { sku } }",
        "variables": json.dumps({"s": sku})})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"product": {"sku": sku}}}
    response = await client.get("/graphql", params={"query": "mutation { x }"})
    assert_problem(response, 405, "method_not_allowed")
    response = await client.get("/graphql", params={"query": ""},
                                headers={"Accept": "application/json"})
    assert response.status_code == 400


async def test_the_explorer_page_loads_only_this_servers_assets(
        client: httpx.AsyncClient) -> None:
    page = await without_credentials(client, "GET", "/graphql",
                                     headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "GraphiQL" in page.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text), page.text
    for asset in re.findall(r"""(?:src|href)="(/graphql/assets/[^"]+)\"""", page.text):
        response = await without_credentials(client, "GET", asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000
    introspection = await gql(client, "{ __schema { queryType { name } subscriptionType { "
                              "name } } }")
    assert introspection["data"]["__schema"] == {"queryType": {"name": "Query"},
                                                 "subscriptionType": {"name": "Subscription"}}


@pytest.mark.parametrize("field", ["transfers", "holds", "suppliers", "purchaseOrders",
                                   "ledger", "locations(type: WAREHOUSE)", "products"])
async def test_every_list_is_a_connection(client: httpx.AsyncClient, field: str) -> None:
    answer = await gql(client, "{ " + field + " { edges { cursor } pageInfo { hasNextPage "
                       "hasPreviousPage startCursor endCursor } } }")
    assert "errors" not in answer, answer


async def test_documents_show_what_rest_shows_with_their_nested_objects(
        client: httpx.AsyncClient) -> None:
    origin, (sku,) = await stocked(client, quantity=9)
    destination = (await create_store(client))["code"]
    transfer = (await client.post("/v1/stock-movements/transfer", json={
        "from_location_id": origin, "to_location_id": destination,
        "lines": [{"sku": sku, "quantity": 2}]})).json()
    hold = (await client.post("/v1/reservations", json={
        "location_id": origin, "lines": [{"sku": sku, "quantity": 1}]})).json()
    supplier = await create_supplier(client, products={sku: "3.25"})
    order = await create_purchase_order(client, supplier["code"], destination, {sku: 5})
    answer = await gql(client, """query ($t: String!, $h: String!, $s: String!, $o: String!,
                                        $loc: String!) {
        transfer(id: $t) { status fromLocation { code } toLocation { code }
                           lines { quantity product { sku } } }
        hold(id: $h) { status location { code } lines { quantity product { sku } } }
        supplier(id: $s) { code products { cost { amount } product { sku } } }
        purchaseOrder(id: $o) { status location { code } lines { outstanding product { sku } } }
        transfers(locationId: $loc) { edges { node { id } } }
        holds(locationId: $loc) { edges { node { id } } }
        purchaseOrders(supplierId: $s) { edges { node { id } } }
    }""", {"t": transfer["id"], "h": hold["id"], "s": supplier["code"], "o": order["id"],
           "loc": origin})
    assert "errors" not in answer, answer
    data = answer["data"]
    assert data["transfer"] == {"status": "IN_TRANSIT", "fromLocation": {"code": origin},
                                "toLocation": {"code": destination},
                                "lines": [{"quantity": 2, "product": {"sku": sku}}]}
    assert data["hold"] == {"status": "ACTIVE", "location": {"code": origin},
                            "lines": [{"quantity": 1, "product": {"sku": sku}}]}
    assert data["supplier"] == {"code": supplier["code"], "products": [
        {"cost": {"amount": "3.25"}, "product": {"sku": sku}}]}
    assert data["purchaseOrder"] == {"status": "ORDERED", "location": {"code": destination},
                                     "lines": [{"outstanding": 5, "product": {"sku": sku}}]}
    assert [e["node"]["id"] for e in data["transfers"]["edges"]] == [transfer["id"]]
    assert [e["node"]["id"] for e in data["holds"]["edges"]] == [hold["id"]]
    assert [e["node"]["id"] for e in data["purchaseOrders"]["edges"]] == [order["id"]]


async def test_the_event_log_is_the_rest_list(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=4)
    await record_sale(client, store, [line(sku)])
    rest = await wait_for_log(client, 3, location_id=store)
    answer = await gql(client, """query ($l: [String!]) { events(locationIds: $l, first: 2) {
        edges { cursor node { id type locationId sku data } } hasNextPage endCursor } }""",
                       {"l": [store]})
    page = answer["data"]["events"]
    assert [e["node"]["id"] for e in page["edges"]] == [e["id"] for e in rest[:2]]
    assert page["edges"][0]["node"]["data"] == rest[0]["data"]
    assert page["hasNextPage"] and page["endCursor"] == str(rest[1]["id"])
    rest_next = (await client.get("/v1/events", params={
        "location_id": store, "cursor": page["endCursor"]})).json()["items"]
    answer = await gql(client, """query ($l: [String!], $a: String) { events(locationIds: $l,
        after: $a) { edges { node { id } } } }""", {"l": [store], "a": page["endCursor"]})
    assert [e["node"]["id"] for e in answer["data"]["events"]["edges"]] == [
        e["id"] for e in rest_next]
