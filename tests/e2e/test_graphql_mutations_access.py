"""GraphQL writes on access and privacy (API keys, webhooks, a customer's erasure) against
the real app, on both backends: each is its REST route, shows a secret once and keeps it
from caches, replays a key (across protocols too) without the secret, and takes the
route's role."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.test_webhooks import (  # noqa: F401 - hooks: the webhook app fixture
    Hooks,
    WebhookReceiver,
    all_delivered,
    changes,
    hooks,
    place,
)
from tests.factories import (
    as_key,
    create_api_key,
    create_store,
    line,
    random_code,
    record_sale,
    stocked,
)
from tests.graphql_support import PAYLOAD_ERRORS, codes, gql

CREATE_KEY = f"""mutation ($input: CreateApiKeyInput!, $key: String) {{
  createApiKey(input: $input, idempotencyKey: $key) {{
    apiKey {{ id name role locationIds status key }} {PAYLOAD_ERRORS} }} }}"""
REVOKE_KEY = f"""mutation ($id: String!) {{ revokeApiKey(id: $id) {{
  apiKey {{ id status revokedAt }} {PAYLOAD_ERRORS} }} }}"""
CREATE_HOOK = f"""mutation ($input: CreateWebhookInput!, $key: String) {{
  createWebhook(input: $input, idempotencyKey: $key) {{
    webhook {{ id url eventTypes locationIds status secret }} {PAYLOAD_ERRORS} }} }}"""
HOOK_STEP = """mutation ($id: String!) {{ {step}(id: $id) {{
  webhook {{ id status {more} }} {errors} }} }}"""
REDELIVER = f"""mutation ($webhookId: String!, $deliveryId: Int!) {{
  redeliverDelivery(webhookId: $webhookId, deliveryId: $deliveryId) {{
    delivery {{ id webhookId eventId status attempts }} {PAYLOAD_ERRORS} }} }}"""
ERASE = f"""mutation ($ref: String!, $key: String) {{
  eraseCustomer(ref: $ref, idempotencyKey: $key) {{ erased {PAYLOAD_ERRORS} }} }}"""


async def answered(client: httpx.AsyncClient, query: str,
                   variables: dict[str, Any]) -> httpx.Response:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    return response


async def test_a_key_made_over_graphql_works_once_shown_and_replays_without_it(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    idem = random_code("IDEM")
    given = {"name": "till 4", "role": "STORE_STAFF", "locationIds": [store]}
    response = await answered(client, CREATE_KEY, {"input": given, "key": idem})
    assert response.headers["cache-control"] == "no-store"
    made = response.json()["data"]["createApiKey"]
    assert made["userErrors"] == []
    key = made["apiKey"]
    assert (key["name"], key["role"], key["locationIds"], key["status"]) == (
        "till 4", "STORE_STAFF", [store], "ACTIVE")
    assert key["key"] and (await as_key(client, key["key"], "GET",
                                        f"/v1/inventory?location_id={store}")).status_code == 200

    replay = (await gql(client, CREATE_KEY, {"input": given, "key": idem}))["createApiKey"]
    assert replay["apiKey"] == {**key, "key": None}
    rest = await client.post("/v1/api-keys", headers={"Idempotency-Key": idem}, json={
        "name": "till 4", "role": "store_staff", "location_ids": [store]})
    assert rest.status_code == 201 and rest.headers.get("Idempotent-Replayed") == "true"
    assert (rest.json()["id"], rest.json()["key"]) == (key["id"], None)
    listed = (await client.get("/v1/api-keys", params={"limit": 500})).json()["items"]
    assert [k["id"] for k in listed if k["name"] == "till 4" and k["id"] == key["id"]] == [
        key["id"]]

    revoked = (await gql(client, REVOKE_KEY, {"id": key["id"]}))["revokeApiKey"]
    assert revoked["userErrors"] == [] and revoked["apiKey"]["status"] == "REVOKED"
    refused = await as_key(client, key["key"], "GET", f"/v1/inventory?location_id={store}")
    assert refused.status_code == 401
    unknown = (await gql(client, REVOKE_KEY, {"id": "key_nobody"}))["revokeApiKey"]
    assert unknown["apiKey"] is None and codes(unknown) == [("not_found", None)]


async def test_key_refusals_are_the_rest_codes(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    cases = [
        ({"name": "", "role": "PARTNER"}, [("validation_error", "name")]),
        ({"name": "x", "role": "ADMIN", "locationIds": [store]},
         [("validation_error", "locationIds")]),
        ({"name": "x", "role": "PARTNER", "expiresAt": "2001-01-01T00:00:00Z"},
         [("validation_error", "expiresAt")]),
        ({"name": "x", "role": "PARTNER", "locationIds": [random_code("NOWHERE")]},
         [("not_found", None)]),
    ]
    for given, expected in cases:
        payload = (await gql(client, CREATE_KEY, {"input": given}))["createApiKey"]
        assert payload["apiKey"] is None and codes(payload) == expected, (given, payload)
    manager = (await create_api_key(client, "manager"))["key"]
    staff = (await create_api_key(client, "store_staff", location_ids=[store]))["key"]
    for key, document, variables, field in (
            (manager, CREATE_KEY, {"input": {"name": "x", "role": "PARTNER"}}, "createApiKey"),
            (manager, REVOKE_KEY, {"id": "key_nobody"}, "revokeApiKey"),
            (manager, CREATE_HOOK, {"input": {"url": "http://127.0.0.1:9/h",
                                              "eventTypes": ["*"]}}, "createWebhook"),
            (staff, ERASE, {"ref": "someone"}, "eraseCustomer")):
        refused = (await gql(client, document, variables, key=key))[field]
        assert codes(refused) == [("forbidden", None)], field


async def test_webhooks_are_made_redelivered_and_deleted(hooks: Hooks) -> None:  # noqa: F811
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver() as receiver:
        idem = random_code("IDEM")
        given = {"url": receiver.url, "eventTypes": ["inventory.changed"],
                 "locationIds": [store]}
        response = await answered(client, CREATE_HOOK, {"input": given, "key": idem})
        assert response.headers["cache-control"] == "no-store"
        made = response.json()["data"]["createWebhook"]
        assert made["userErrors"] == [] and made["webhook"]["secret"]
        webhook = made["webhook"]
        replay = (await gql(client, CREATE_HOOK, {"input": given, "key": idem}))
        assert replay["createWebhook"]["webhook"] == {**webhook, "secret": None}
        rest = await client.post("/v1/webhooks", headers={"Idempotency-Key": idem}, json={
            "url": receiver.url, "event_types": ["inventory.changed"], "location_ids": [store]})
        assert rest.status_code == 201 and rest.headers.get("Idempotent-Replayed") == "true"
        assert (rest.json()["id"], rest.json()["secret"]) == (webhook["id"], None)

        await changes(client, store, sku, 1)
        (first,) = await all_delivered(client, webhook["id"], 1)
        again = (await gql(client, REDELIVER, {"webhookId": webhook["id"],
                                               "deliveryId": first["id"]}))
        assert again["redeliverDelivery"]["userErrors"] == []
        assert again["redeliverDelivery"]["delivery"]["eventId"] == first["event_id"]
        for variables, expected in (
                ({"webhookId": webhook["id"], "deliveryId": 0}, ("validation_error",
                                                                 "deliveryId")),
                ({"webhookId": "whk_nobody", "deliveryId": first["id"]}, ("not_found", None))):
            refused = (await gql(client, REDELIVER, variables))["redeliverDelivery"]
            assert codes(refused) == [expected]

        resume = HOOK_STEP.format(step="resumeWebhook", more="", errors=PAYLOAD_ERRORS)
        active = (await gql(client, resume, {"id": webhook["id"]}))["resumeWebhook"]
        assert codes(active) == [("invalid_state", None)]
        delete = HOOK_STEP.format(step="deleteWebhook", more="discardedDeliveries",
                                  errors=PAYLOAD_ERRORS)
        deleted = (await gql(client, delete, {"id": webhook["id"]}))["deleteWebhook"]
        assert deleted["userErrors"] == [] and deleted["webhook"]["id"] == webhook["id"]
        gone = (await gql(client, delete, {"id": webhook["id"]}))["deleteWebhook"]
        assert codes(gone) == [("not_found", None)]
    assert (await client.get(f"/v1/webhooks/{webhook['id']}")).status_code == 404


async def test_a_webhook_url_is_checked_before_it_is_made(client: httpx.AsyncClient) -> None:
    for url, expected in (("ftp://example.com/h", ("validation_error", "url")),
                          ("", ("validation_error", "url"))):
        refused = (await gql(client, CREATE_HOOK, {"input": {
            "url": url, "eventTypes": ["*"]}}))["createWebhook"]
        assert refused["webhook"] is None and codes(refused) == [expected], url


async def test_erase_customer_unlinks_its_sales(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=2)
    ref = random_code("CUST")
    sale = await record_sale(client, store, [line(sku)], customer={"ref": ref})
    linked = (await client.get("/v1/sales", params={"customer_ref": ref})).json()["items"]
    assert [s["id"] for s in linked] == [sale["id"]]
    response = await answered(client, ERASE, {"ref": ref, "key": random_code("IDEM")})
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["data"]["eraseCustomer"] == {"erased": True, "userErrors": []}
    assert (await client.get(f"/v1/customers/{ref}")).status_code == 404
    assert (await client.get("/v1/sales", params={"customer_ref": ref})).json()["items"] == []
    assert (await client.get(f"/v1/sales/{sale['id']}")).json()["units"] == 1
    again = (await gql(client, ERASE, {"ref": ref}))["eraseCustomer"]
    assert again == {"erased": True, "userErrors": []}
    for variables, expected in (({"ref": "no spaces"}, ("validation_error", "ref")),
                                ({"ref": "x", "key": "a key"},
                                 ("validation_error", "idempotencyKey"))):
        refused = (await gql(client, ERASE, variables))["eraseCustomer"]
        assert refused == {"erased": False, "userErrors": [
            {**refused["userErrors"][0], "code": expected[0], "field": expected[1]}]}
