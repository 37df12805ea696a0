"""The lean routes (one level, a sale) answer exactly what the declared routes answer.

Every request is sent twice, to the app with its lean handlers and to the same app with
them off (``lean_routes=False``: FastAPI's handler alone), on the same container and
database, and the two answers are compared: status, media type, body, and the headers a
client reads. Both backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from stockline.bootstrap import Container
from stockline.config import Settings
from stockline.domain.model import Level
from stockline.entrypoints.http.app import create_app
from tests.conftest import ADMIN_KEY
from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    create_product,
    create_store,
    insert_api_key,
    line,
    random_code,
    receive,
    send_as,
    stocked,
)

COMPARED_HEADERS = ("content-type", "idempotent-replayed", "www-authenticate", "cache-control",
                    "x-content-type-options", "content-security-policy")
# Stamped on each answer anew: the sale's id and times.
VOLATILE = ("id", "occurred_at", "recorded_at", "created_at")


@pytest.fixture
async def full(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The app without its lean handlers, on the same container."""
    app = create_app(settings.model_copy(update={"lean_routes": False}), container=container)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=transport, base_url="http://stockline.test",
            headers={"X-API-Key": ADMIN_KEY}) as client:
        yield client


class CountingHotReads:
    """The container's hot reads, counting the lookups that reach them."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    async def level(self, location_id: str, sku: str) -> Level | None:
        self.calls += 1
        found: Level | None = await self.inner.level(location_id, sku)
        return found

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
def counted(container: Container) -> Any:
    original = container.hot
    counter = CountingHotReads(original)
    container.hot = container.cached.hot = counter
    yield counter
    container.hot = container.cached.hot = original


def comparable(response: httpx.Response, *, volatile: tuple[str, ...] = ()) -> dict[str, Any]:
    body: Any = response.json() if response.content else None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in volatile}
        body.pop("instance", None)  # a problem's instance names the request id
    return {"status": response.status_code, "body": body,
            "headers": {h: response.headers.get(h) for h in COMPARED_HEADERS}}


async def both(client: httpx.AsyncClient, full: httpx.AsyncClient, method: str, url: str,
               key: str | None = ADMIN_KEY, **kwargs: Any) -> tuple[httpx.Response,
                                                                     httpx.Response]:
    lean_answer = await send_as(client, key, method, url, **kwargs)
    full_answer = await send_as(full, key, method, url, **kwargs)
    return lean_answer, full_answer


async def test_one_level_is_answered_by_the_lean_handler_as_the_route_answers_it(
        client: httpx.AsyncClient, full: httpx.AsyncClient, counted: CountingHotReads) -> None:
    store, (sku,) = await stocked(client, quantity=7)
    lean_answer, full_answer = await both(client, full, "GET", f"/v1/inventory/{store}/{sku}")
    assert lean_answer.status_code == 200, lean_answer.text
    assert lean_answer.json()["on_hand"] == 7
    assert lean_answer.json()["lots"] == []
    assert comparable(lean_answer) == comparable(full_answer)
    # the lean handler read the level; the full route found it in the read cache
    assert counted.calls == 1


@pytest.mark.parametrize("case", ["never stocked", "unknown location", "unknown sku",
                                  "bad code", "lotted", "no key", "foreign location",
                                  "as of", "as of a date", "as of the future", "bad as of",
                                  "misspelt as of", "as of, foreign location"])
async def test_every_other_level_request_gets_the_declared_routes_answer(
        client: httpx.AsyncClient, full: httpx.AsyncClient, database_url: str,
        case: str) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    now = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"
    other_store = (await create_store(client))["code"]
    new_sku = (await create_product(client))["sku"]
    key: str | None = ADMIN_KEY
    url = {"never stocked": f"/v1/inventory/{store}/{new_sku}",
           "unknown location": f"/v1/inventory/{random_code('NOPE')}/{sku}",
           "unknown sku": f"/v1/inventory/{store}/{random_code('NOPE')}",
           "bad code": f"/v1/inventory/{store}/no%20spaces",
           "lotted": f"/v1/inventory/{other_store}/{sku}",
           "no key": f"/v1/inventory/{store}/{sku}",
           "foreign location": f"/v1/inventory/{other_store}/{sku}",
           "as of": f"/v1/inventory/{store}/{sku}?as_of={now}",
           "as of a date": f"/v1/inventory/{store}/{sku}?as_of=2024-01-01",
           "as of the future": f"/v1/inventory/{store}/{sku}?as_of=2999-01-01",
           "bad as of": f"/v1/inventory/{store}/{sku}?as_of=2024-01-01T10:00:00",
           "misspelt as of": f"/v1/inventory/{store}/{sku}?asof=2024-01-01",
           "as of, foreign location": f"/v1/inventory/{other_store}/{sku}?as_of={now}",
           }[case]
    if case == "lotted":
        assert (await client.post("/v1/inventory/update", json={
            "location_id": other_store, "sku": sku, "delta": 4, "reason": "receipt",
            "lot": "L-1"})).status_code == 200
    if case == "no key":
        key = None
    if case == "foreign location":
        # a partner sees the availability of its own locations only
        key = (await insert_api_key(database_url, "partner", location_ids=[store])).key
    if case == "as of, foreign location":
        # store staff see today's stock everywhere, the past where they read the ledger
        key = (await insert_api_key(database_url, "store_staff", location_ids=[store])).key
    lean_answer, full_answer = await both(client, full, "GET", url, key)
    # "now" is a moment later for the second request
    volatile = ("as_of",) if case == "as of the future" else ()
    assert comparable(lean_answer, volatile=volatile) == comparable(full_answer,
                                                                   volatile=volatile)
    expected = {"never stocked": 200, "unknown location": 404, "unknown sku": 404,
                "bad code": 422, "lotted": 200, "no key": 401, "foreign location": 403,
                "as of": 200, "as of a date": 200, "as of the future": 200,
                "bad as of": 422, "misspelt as of": 422, "as of, foreign location": 403}
    assert lean_answer.status_code == expected[case], lean_answer.text


async def test_a_sale_through_the_lean_handler_is_the_sale_the_route_records(
        client: httpx.AsyncClient, full: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    body = {"location_id": store, "lines": [line(sku, 2)], "external_ref": "POS-1"}
    lean_answer, full_answer = await both(client, full, "POST", "/v1/sales/record", json=body)
    assert lean_answer.status_code == 201, lean_answer.text
    assert comparable(lean_answer, volatile=VOLATILE) == comparable(full_answer,
                                                                    volatile=VOLATILE)
    current = await assert_ledger_identity(client, store, sku)
    assert current["on_hand"] == 6


async def test_a_retry_is_replayed_whichever_handler_answers_it(
        client: httpx.AsyncClient, full: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    body = {"location_id": store, "lines": [line(sku, 1)]}
    headers = {"Idempotency-Key": random_code("IDEM")}
    first = await client.post("/v1/sales/record", json=body, headers=headers)
    again_full = await full.post("/v1/sales/record", json=body, headers=headers)
    again_lean = await client.post("/v1/sales/record", json=body, headers=headers)
    assert first.status_code == 201, first.text
    for again in (again_full, again_lean):
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
    changed = await client.post("/v1/sales/record", headers=headers,
                                json={**body, "lines": [line(sku, 2)]})
    changed_full = await full.post("/v1/sales/record", headers=headers,
                                   json={**body, "lines": [line(sku, 2)]})
    assert comparable(changed) == comparable(changed_full)
    assert changed.status_code == 422
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 9


SALE_CASES: dict[str, dict[str, Any]] = {
    "short": {"quantity": 50},
    "unknown sku": {"sku": "NOPE-SKU"},
    "unknown field": {"extra": {"on_hand": 5}},
    "no lines": {"lines": []},
    "bad json": {"content": b'{"location_id": ', "content_type": "application/json"},
    "text body": {"content": b"location_id=x", "content_type": "text/plain"},
    "bad idempotency key": {"headers": {"Idempotency-Key": "has spaces"}},
    "too many lines": {"lines_count": 501},
    "no key": {"key": None},
    "foreign location": {"foreign": True},
}


@pytest.mark.parametrize("case", list(SALE_CASES))
async def test_every_refused_sale_gets_the_declared_routes_answer_and_changes_nothing(
        client: httpx.AsyncClient, full: httpx.AsyncClient, database_url: str,
        case: str) -> None:
    spec = SALE_CASES[case]
    store, (sku,) = await stocked(client, quantity=10)
    the_sku = spec.get("sku", sku)
    lines = [line(the_sku, spec.get("quantity", 1))] * spec.get("lines_count", 1)
    body: dict[str, Any] = {"location_id": store, "lines": spec.get("lines", lines),
                            **spec.get("extra", {})}
    kwargs: dict[str, Any] = {"headers": dict(spec.get("headers", {}))}
    if "content" in spec:
        kwargs["content"] = spec["content"]
        kwargs["headers"]["Content-Type"] = spec["content_type"]
    else:
        kwargs["json"] = body
    key = spec.get("key", ADMIN_KEY)
    if spec.get("foreign"):
        other = (await create_store(client))["code"]
        await receive(client, other, sku, 5)
        key = (await insert_api_key(database_url, "store_staff", location_ids=[other])).key
    lean_answer, full_answer = await both(client, full, "POST", "/v1/sales/record", key,
                                          **kwargs)
    assert comparable(lean_answer) == comparable(full_answer)
    assert 400 <= lean_answer.status_code < 500, lean_answer.text
    current = await assert_ledger_identity(client, store, sku)
    assert current["on_hand"] == 10


# Query strings the declared routes check before anything else (neither route declares a
# query parameter). Each is sent on the lean path and on the declared one.
QUERIES = {"nul value": "x=%00", "nul name": "%00=1", "undeclared": "x=1",
           "repeated": "x=1&x=2", "nul beside a plain one": "x=1&y=a%00b",
           "empty": "", "bare question mark": "&"}
REFUSED_QUERIES = {"nul value", "nul name", "undeclared", "repeated",
                   "nul beside a plain one"}
# No parameter at all: the plain case.
PLAIN_QUERIES = {"empty", "bare question mark"}


@pytest.mark.parametrize("case", list(QUERIES))
async def test_a_query_on_one_level_gets_the_declared_routes_answer(
        client: httpx.AsyncClient, full: httpx.AsyncClient, case: str) -> None:
    store, (sku,) = await stocked(client, quantity=7)
    url = f"/v1/inventory/{store}/{sku}?{QUERIES[case]}"
    lean_answer, full_answer = await both(client, full, "GET", url)
    assert comparable(lean_answer) == comparable(full_answer)
    if case in REFUSED_QUERIES:
        assert_problem(lean_answer, 422, "validation_error")
    elif case in PLAIN_QUERIES:
        assert lean_answer.status_code == 200, lean_answer.text
    else:
        assert lean_answer.status_code in (200, 422), lean_answer.text


@pytest.mark.parametrize("case", list(QUERIES))
async def test_a_query_on_a_sale_gets_the_declared_routes_answer(
        client: httpx.AsyncClient, full: httpx.AsyncClient, case: str) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    url = f"/v1/sales/record?{QUERIES[case]}"
    body = {"location_id": store, "lines": [line(sku, 1)]}
    lean_answer, full_answer = await both(client, full, "POST", url, json=body)
    assert comparable(lean_answer, volatile=VOLATILE) == comparable(full_answer,
                                                                    volatile=VOLATILE)
    current = await assert_ledger_identity(client, store, sku)
    if case in REFUSED_QUERIES:
        assert_problem(lean_answer, 422, "validation_error")
    elif case in PLAIN_QUERIES:
        assert lean_answer.status_code == 201, lean_answer.text
    assert lean_answer.status_code in (201, 422), lean_answer.text
    sold = 2 if lean_answer.status_code == 201 else 0  # a refusal on both paths sells none
    assert current["on_hand"] == 10 - sold


@pytest.mark.parametrize("case", ["role without the permission", "foreign location",
                                  "bad body", "bad idempotency key"])
async def test_a_bad_query_is_refused_in_the_declared_routes_order(
        client: httpx.AsyncClient, full: httpx.AsyncClient, database_url: str,
        case: str) -> None:
    """The route's access rule comes before its query check, the query check before the
    body's fields: whichever refusal the declared route gives first, the lean one gives."""
    store, (sku,) = await stocked(client, quantity=10)
    key: str | None = ADMIN_KEY
    body: dict[str, Any] = {"location_id": store, "lines": [line(sku, 1)]}
    headers: dict[str, str] = {}
    if case == "role without the permission":
        key = (await insert_api_key(database_url, "partner")).key
    if case == "foreign location":
        other = (await create_store(client))["code"]
        key = (await insert_api_key(database_url, "store_staff", location_ids=[other])).key
    if case == "bad body":
        body["lines"] = []
    if case == "bad idempotency key":
        headers["Idempotency-Key"] = "has spaces"
    lean_answer, full_answer = await both(client, full, "POST", "/v1/sales/record?x=%00", key,
                                          json=body, headers=headers)
    assert comparable(lean_answer) == comparable(full_answer)
    expected = 403 if case == "role without the permission" else 422
    assert lean_answer.status_code == expected, lean_answer.text
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 10
    level_answers = await both(client, full, "GET", f"/v1/inventory/{store}/{sku}?x=%00", key)
    assert comparable(level_answers[0]) == comparable(level_answers[1])
