"""The audit trail: every write and every refused credential or permission, exactly once.

Each test notes the answers it got (through a response hook on the client: method, path,
status, X-Request-ID), then reads GET /v1/audit from the moment it started: every noted
write and auth failure is there once, with the right who, what and outcome, and nothing
else is. Tests of one session run one at a time, so the window holds only their requests.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from stockline.adapters.tables import audit_log
from stockline.bootstrap import Container
from stockline.config import Settings
from tests.factories import (
    assert_problem,
    create_product,
    insert_api_key,
    line,
    price,
    random_sku,
    record_sale,
    stocked,
    without_credentials,
)

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    request_id: str


class Noted:
    """The answers ``client`` got while noting: the ones the audit trail must hold."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.since = datetime.now(UTC)

    async def hook(self, response: httpx.Response) -> None:
        request = response.request
        if request.method in WRITES or response.status_code in (401, 403):
            self.answers.append(Answer(request.method, request.url.path,
                                       response.status_code, response.headers["X-Request-ID"]))


@pytest.fixture
async def noted(client: httpx.AsyncClient) -> AsyncIterator[Noted]:
    notes = Noted()
    client.event_hooks["response"].append(notes.hook)
    try:
        yield notes
    finally:
        client.event_hooks["response"].remove(notes.hook)


async def audit(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    """Every page of GET /v1/audit (as the admin) with these filters."""
    found: list[dict[str, Any]] = []
    params = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in filters.items()}
    while True:
        response = await client.get("/v1/audit", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["items"])
        if page["next_cursor"] is None:
            return found
        params["cursor"] = page["next_cursor"]


def by_request(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ids = [e["request_id"] for e in entries]
    assert len(ids) == len(set(ids)), "a request recorded twice"
    return dict(zip(ids, entries, strict=True))


async def test_every_write_and_auth_failure_appears_once_with_who_what_and_outcome(
        client: httpx.AsyncClient, settings: Settings, noted: Noted) -> None:
    staff = await insert_api_key(settings.database_url, "store_staff")
    slow = await insert_api_key(settings.database_url, "manager", rate_limit=0.5)
    secret_name = f"secret-name-{uuid.uuid4().hex}"
    store, (sku,) = await stocked(client, quantity=5)
    product = await create_product(client, name=secret_name)
    duplicate = await client.post("/v1/products", json={
        "sku": product["sku"], "name": secret_name, "category": "c", "price": price()})
    assert_problem(duplicate, 409, "already_exists")
    assert (await client.patch(f"/v1/products/{product['sku']}",
                               json={"name": "renamed"})).status_code == 200
    assert (await client.put(f"/v1/inventory/{store}/{sku}/settings",
                             json={"reorder_point": 1})).status_code == 200
    await record_sale(client, store, [line(sku)])
    short = await client.post("/v1/sales/record",
                              json={"location_id": store, "lines": [line(sku, 99)]})
    assert_problem(short, 409, "insufficient_stock")
    unknown = await client.delete("/v1/webhooks/wh_unknown")
    assert unknown.status_code == 404
    invalid = await client.post("/v1/products", json={"sku": "not valid!"})
    assert_problem(invalid, 422, "validation_error")
    denied = await client.post("/v1/products", headers={"X-API-Key": staff.key}, json={
        "sku": random_sku(), "name": "n", "category": "c", "price": price()})
    assert_problem(denied, 403, "forbidden")
    assert (await client.get("/v1/audit", headers={"X-API-Key": staff.key})).status_code == 403
    anonymous = await without_credentials(client, "POST", "/v1/products", json={"sku": "x"})
    assert_problem(anonymous, 401, "unauthorized")
    forged = "sk_0123456789ab_FORGEDSECRETVALUE"
    bad_key = await without_credentials(client, "GET", "/v1/products",
                                        headers={"X-API-Key": forged})
    assert_problem(bad_key, 401, "unauthorized")
    limited = [await client.post("/v1/warehouses", headers={"X-API-Key": slow.key},
                                 json={"code": ""}) for _ in range(2)]
    assert [r.status_code for r in limited] == [422, 429]
    # Reads that succeed are not audited.
    assert (await client.get("/v1/products", params={"limit": 1})).status_code == 200
    assert (await client.get("/v1/products", params={"limit": 1},
                             headers={"X-API-Key": staff.key})).status_code == 200

    entries = by_request(await audit(client, **{"from": noted.since}))
    assert set(entries) == {a.request_id for a in noted.answers}
    for answer in noted.answers:
        entry = entries[answer.request_id]
        assert (entry["method"], entry["path"], entry["status"]) == (
            answer.method, answer.path, answer.status), entry
        assert entry["ip"] == "127.0.0.1"
        assert not any(secret_name in str(v) or "FORGEDSECRET" in str(v)
                       for v in entry.values()), entry

    def who(response: httpx.Response) -> tuple[Any, ...]:
        e = entries[response.headers["X-Request-ID"]]
        return e["principal_id"], e["principal_name"], e["role"], e["outcome"], e["route"]

    assert who(duplicate) == ("admin", "admin", "admin", "refused", "/v1/products")
    assert who(short) == ("admin", "admin", "admin", "refused", "/v1/sales/record")
    assert who(unknown) == ("admin", "admin", "admin", "refused", "/v1/webhooks/{webhook_id}")
    assert who(invalid)[3] == "refused"
    assert who(denied) == (staff.id, "test store_staff key", "store_staff", "denied",
                           "/v1/products")
    assert who(anonymous) == (None, None, None, "auth_failed", None)
    assert who(bad_key) == (None, None, None, "auth_failed", None)
    assert "not valid" in entries[bad_key.headers["X-Request-ID"]]["detail"]
    assert [who(r)[3] for r in limited] == ["refused", "refused"]
    assert entries[limited[1].headers["X-Request-ID"]]["status"] == 429
    successes = [e for e in entries.values() if e["outcome"] == "success"]
    assert {(e["method"], e["route"]) for e in successes} >= {
        ("PATCH", "/v1/products/{sku}"), ("PUT", "/v1/inventory/{location_id}/{sku}/settings"),
        ("POST", "/v1/sales/record"), ("POST", "/v1/inventory/update")}
    assert all(200 <= e["status"] < 300 for e in successes)


async def test_the_audit_trail_is_filtered_and_paged_newest_first(
        client: httpx.AsyncClient, settings: Settings, noted: Noted) -> None:
    manager = await insert_api_key(settings.database_url, "manager")
    headers = {"X-API-Key": manager.key}
    skus = [random_sku() for _ in range(3)]
    for sku in skus:
        await create_product(client, sku=sku)
        response = await client.patch(f"/v1/products/{sku}", json={"name": "n"},
                                      headers=headers)
        assert response.status_code == 200
    refused = await client.patch(f"/v1/products/{random_sku()}", json={"name": "n"},
                                 headers=headers)
    assert refused.status_code == 404
    mine = await audit(client, principal_id=manager.id)
    assert [e["request_id"] for e in mine] == [a.request_id for a in reversed(noted.answers)
                                               if a.method == "PATCH"]
    assert [e["id"] for e in mine] == sorted((e["id"] for e in mine), reverse=True)
    assert [e["outcome"] for e in mine] == ["refused", "success", "success", "success"]

    assert [e["request_id"] for e in await audit(client, principal_id=manager.id,
                                                 outcome="refused")] == [
        refused.headers["X-Request-ID"]]
    posts = await audit(client, method="POST", **{"from": noted.since})
    assert {e["path"] for e in posts} == {"/v1/products"} and len(posts) == 3
    paged: list[dict[str, Any]] = []
    response = await client.get("/v1/audit", params={"principal_id": manager.id, "limit": 3})
    paged += response.json()["items"]
    assert len(paged) == 3 and response.json()["next_cursor"]
    response = await client.get("/v1/audit", params={
        "principal_id": manager.id, "limit": 3, "cursor": response.json()["next_cursor"]})
    paged += response.json()["items"]
    assert paged == mine and response.json()["next_cursor"] is None
    assert await audit(client, principal_id=manager.id, to=noted.since) == []
    bad = await client.get("/v1/audit", params={"outcome": "maybe"})
    assert_problem(bad, 422, "validation_error")


@pytest.mark.parametrize("role", ["manager", "warehouse_staff", "store_staff", "partner"])
async def test_only_admins_read_the_audit_trail(client: httpx.AsyncClient,
                                                settings: Settings, role: str) -> None:
    key = await insert_api_key(settings.database_url, role)
    response = await client.get("/v1/audit", headers={"X-API-Key": key.key})
    assert_problem(response, 403, "forbidden")
    anonymous = await without_credentials(client, "GET", "/v1/audit")
    assert_problem(anonymous, 401, "unauthorized")


async def test_audit_rows_are_append_only(client: httpx.AsyncClient,
                                          container: Container) -> None:
    await create_product(client)
    response = await client.get("/v1/audit", params={"method": "POST", "limit": 1})
    assert response.status_code == 200 and response.json()["items"]
    engine = container.database.write
    for statement in (update(audit_log).values(outcome="success"), delete(audit_log)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(statement)
