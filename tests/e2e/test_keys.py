"""API keys over HTTP, on SQLite and PostgreSQL: create, use, list, revoke."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from stockline.adapters.credentials import hash_secret, split_api_key
from tests.factories import (
    as_key,
    assert_problem,
    collect,
    create_api_key,
    create_store,
    error_fields,
    line,
    random_code,
    without_credentials,
)

KEYS = "/v1/api-keys"
KEY_FORMAT = re.compile(r"^sk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
RECORD = {"id", "prefix", "name", "role", "location_ids", "status", "expires_at",
          "last_used_at", "revoked_at", "rate_limit", "created_by", "created_at"}


def in_future(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def test_a_new_key_is_shown_once_with_its_record(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    name = random_code("POS")
    response = await client.post(KEYS, json={"name": name, "role": "store_staff",
                                             "location_ids": [store],
                                             "expires_at": in_future(days=30)})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert set(created) == RECORD | {"key"}
    match = KEY_FORMAT.fullmatch(created["key"])
    assert match is not None and match.group(1) == created["prefix"]
    assert created["id"].startswith("key_")
    assert (created["name"], created["role"], created["location_ids"], created["status"]) == (
        name, "store_staff", [store], "active")
    assert (created["last_used_at"], created["revoked_at"]) == (None, None)
    assert created["created_by"] == "admin"


async def test_a_key_authenticates_as_x_api_key_and_as_bearer(
        client: httpx.AsyncClient) -> None:
    key = (await create_api_key(client, "partner"))["key"]
    assert (await as_key(client, key, "GET", "/v1/products")).status_code == 200
    assert (await as_key(client, key, "GET", "/v1/products", bearer=True)).status_code == 200


async def test_a_key_acts_with_its_role_only(client: httpx.AsyncClient) -> None:
    partner = (await create_api_key(client, "partner"))["key"]
    store = (await create_store(client))["code"]
    sale = {"location_id": store, "lines": [line("SKU-ANY")]}
    assert_problem(await as_key(client, partner, "POST", "/v1/sales/record", json=sale),
                   403, "forbidden")
    staff = (await create_api_key(client, "store_staff"))["key"]
    for method, url in (("GET", KEYS), ("POST", KEYS)):
        body = {"name": "escalation", "role": "admin"} if method == "POST" else None
        assert_problem(await as_key(client, staff, method, url, json=body), 403, "forbidden")
    manager = (await create_api_key(client, "manager"))["key"]
    assert_problem(await as_key(client, manager, "POST", KEYS,
                                json={"name": "escalation", "role": "admin"}), 403, "forbidden")


async def test_lists_and_lookups_never_show_a_key_or_its_hash(
        client: httpx.AsyncClient) -> None:
    created = await create_api_key(client, "partner")
    _, secret = split_api_key(created["key"]) or ("", "")
    listed = await client.get(KEYS, params={"limit": 500})
    one = await client.get(f"{KEYS}/{created['id']}")
    for response in (listed, one):
        assert response.status_code == 200, response.text
        assert secret not in response.text and hash_secret(secret) not in response.text
        assert "secret" not in response.text and '"key"' not in response.text
    assert one.json() == {k: v for k, v in created.items() if k != "key"}
    assert all(set(item) == RECORD for item in listed.json()["items"])


async def test_a_revoked_key_stops_working_at_once(client: httpx.AsyncClient) -> None:
    created = await create_api_key(client, "partner")
    key = created["key"]
    assert (await as_key(client, key, "GET", "/v1/products")).status_code == 200  # cached now
    revoked = await client.delete(f"{KEYS}/{created['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_at"]
    for bearer in (False, True):
        refused = await as_key(client, key, "GET", "/v1/products", bearer=bearer)
        assert_problem(refused, 401, "unauthorized")
        assert refused.headers["www-authenticate"].startswith("Bearer")
    again = await client.delete(f"{KEYS}/{created['id']}")
    assert again.status_code == 200
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # the first one stands
    assert (await client.get(f"{KEYS}/{created['id']}")).json()["status"] == "revoked"


async def test_an_expired_key_is_refused(client: httpx.AsyncClient) -> None:
    created = await create_api_key(client, "partner", expires_at=in_future(seconds=1.5))
    assert (await as_key(client, created["key"], "GET", "/v1/products")).status_code == 200
    await asyncio.sleep(2.0)
    assert_problem(await as_key(client, created["key"], "GET", "/v1/products"), 401,
                   "unauthorized")
    assert (await client.get(f"{KEYS}/{created['id']}")).json()["status"] == "expired"


async def test_last_used_at_is_set_by_a_use(client: httpx.AsyncClient) -> None:
    created = await create_api_key(client, "partner")
    assert (await client.get(f"{KEYS}/{created['id']}")).json()["last_used_at"] is None
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert (await as_key(client, created["key"], "GET", "/v1/products")).status_code == 200
    used = (await client.get(f"{KEYS}/{created['id']}")).json()["last_used_at"]
    assert used is not None and datetime.fromisoformat(used) >= before


async def test_a_replayed_create_answers_the_record_without_the_key(
        client: httpx.AsyncClient) -> None:
    name = random_code("IDEM")
    body = {"name": name, "role": "partner"}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post(KEYS, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert KEY_FORMAT.fullmatch(first.json()["key"])
    replay = await client.post(KEYS, json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["cache-control"] == "no-store"
    assert replay.json() == {**first.json(), "key": None}
    _, secret = split_api_key(first.json()["key"]) or ("", "")
    assert secret not in replay.text
    assert [k["id"] for k in await collect(client, KEYS) if k["name"] == name] == [
        first.json()["id"]]  # created once
    other = await client.post(KEYS, json={**body, "role": "store_staff"}, headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")
    # The key from the first answer works; the replay did not make another.
    assert (await as_key(client, first.json()["key"], "GET", "/v1/products")).status_code == 200


async def test_lists_filter_by_role_and_revocation_and_page(client: httpx.AsyncClient) -> None:
    mine = [await create_api_key(client, "warehouse_staff") for _ in range(3)]
    await client.delete(f"{KEYS}/{mine[0]['id']}")
    ids = {k["id"] for k in mine}
    staff = await collect(client, KEYS, {"role": "warehouse_staff"}, limit=1)
    assert all(k["role"] == "warehouse_staff" for k in staff)
    assert ids <= {k["id"] for k in staff}
    assert len(staff) == len({k["id"] for k in staff})  # no key twice across pages
    created = [datetime.fromisoformat(k["created_at"]) for k in staff]
    assert created == sorted(created, reverse=True)
    revoked = {k["id"] for k in await collect(client, KEYS, {"revoked": "true"})}
    live = {k["id"] for k in await collect(client, KEYS, {"revoked": "false"})}
    assert mine[0]["id"] in revoked - live
    assert {mine[1]["id"], mine[2]["id"]} <= live - revoked


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "", "role": "partner"}, "name"),
    ({"name": "x" * 201, "role": "partner"}, "name"),
    ({"name": "ok"}, "role"),
    ({"name": "ok", "role": "root"}, "role"),
    ({"name": "ok", "role": "partner", "location_ids": []}, "location_ids"),
    ({"name": "ok", "role": "partner", "location_ids": ["no spaces"]}, "location_ids.0"),
    ({"name": "ok", "role": "admin", "location_ids": ["S-1"]}, "location_ids"),
    ({"name": "ok", "role": "partner", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "ok", "role": "partner", "expires_at": "2099-01-01T00:00:00"}, "expires_at"),
    ({"name": "ok", "role": "partner", "secret_hash": "0" * 64}, "secret_hash"),
    ({"name": "ok", "role": "partner", "prefix": "abc"}, "prefix"),
    ({"name": "ok", "role": "partner", "key": "sk_a_b"}, "key"),
    ({"name": "ok", "role": "partner", "rate_limit": 0}, "rate_limit"),
    ({"name": "ok", "role": "partner", "rate_limit": -1}, "rate_limit"),
    ({"name": "ok", "role": "partner", "rate_limit": 1e9}, "rate_limit"),
    ({"name": "ok", "role": "partner", "rate_limit": "fast"}, "rate_limit"),
])
async def test_bad_keys_are_422(client: httpx.AsyncClient, body: dict[str, Any],
                                field: str) -> None:
    problem = assert_problem(await client.post(KEYS, json=body), 422, "validation_error")
    assert field in error_fields(problem), problem


async def test_a_key_with_its_own_rate_limit_is_held_to_it(client: httpx.AsyncClient) -> None:
    """A key's own limit (1 a second, a bucket of 2 s) wins over its role's (300 a second)."""
    created = await create_api_key(client, "store_staff", rate_limit=1)
    assert created["rate_limit"] == 1.0
    assert (await client.get(f"{KEYS}/{created['id']}")).json()["rate_limit"] == 1.0
    answers = [await as_key(client, created["key"], "GET", "/v1/products")
               for _ in range(4)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert answers[0].headers["RateLimit-Limit"] == "2"
    refused = answers[-1]
    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    other = await create_api_key(client, "store_staff")  # its role's limit
    assert other["rate_limit"] is None
    assert (await as_key(client, other["key"], "GET", "/v1/products")).status_code == 200


async def test_a_key_for_an_unknown_location_is_404(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    missing = random_code("NOPE")
    problem = assert_problem(await client.post(KEYS, json={
        "name": "ok", "role": "store_staff", "location_ids": [store, missing]}), 404,
        "not_found")
    assert (problem["resource"], problem["key"]) == ("location", missing)


async def test_unknown_keys_and_bad_requests(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{KEYS}/key_NOPE"), 404, "not_found")
    assert_problem(await client.delete(f"{KEYS}/key_NOPE"), 404, "not_found")
    assert_problem(await client.get(f"{KEYS}/not-an-id!"), 422, "validation_error")
    assert_problem(await client.get(KEYS, params={"role": "root"}), 422, "validation_error")
    assert_problem(await client.get(KEYS, params={"cursor": "nope"}), 422, "validation_error")
    assert_problem(await client.post(KEYS, content=b"name=x&role=partner", headers={
        "Content-Type": "application/x-www-form-urlencoded"}), 415, "unsupported_media_type")
    for method in ("GET", "POST"):
        assert_problem(await without_credentials(client, method, KEYS,
                                                 json={"name": "x", "role": "admin"}),
                       401, "unauthorized")


async def test_the_routes_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths[KEYS]) == {"get", "post"}
    assert set(paths[KEYS + "/{key_id}"]) == {"get", "delete"}
    created = paths[KEYS]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/ApiKeyCreated")
    assert "Idempotency-Key" in {p["name"] for p in paths[KEYS]["post"]["parameters"]}
