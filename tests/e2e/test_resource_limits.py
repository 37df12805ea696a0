"""Resource limits: oversized, overlong, over-deep and odd-character requests.

Each is refused with a 4xx problem (or, where the text is valid, stored and returned
intact), never a 5xx, and a refusal changes nothing. Against a live server process,
a barrage of such requests leaves its memory bounded. (tests/e2e/test_bad_input.py covers
the single shapes in process; these go further, and over real sockets.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, LiveServer
from tests.factories import (
    assert_problem,
    create_product,
    error_fields,
    execute_sql,
    ledger,
    level,
    line,
    sales_at,
    stocked,
)

JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024


@pytest.fixture
async def live(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=60,
                                 headers={"X-API-Key": ADMIN_KEY}) as client:
        yield client


async def _state(client: httpx.AsyncClient, store: str, sku: str) -> dict[str, Any]:
    return {"level": await level(client, store, sku),
            "ledger": await ledger(client, store, sku),
            "sales": await sales_at(client, store)}


async def _chunks(size: int, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield b'{"location_id": "X", "note": "'
    for _ in range(size // piece):
        yield b"x" * piece
    yield b'"}'


# -- bodies over the limit, over a real socket ----------------------------------------------

@pytest.mark.parametrize("size", [2 * MIB, 64 * MIB], ids=["2MiB", "64MiB"])
async def test_declared_huge_body_is_413_before_it_is_read(live: httpx.AsyncClient,
                                                           size: int) -> None:
    store, (sku,) = await stocked(live, quantity=5)
    before = await _state(live, store, sku)
    body = json.dumps({"location_id": store, "sku": sku, "delta": 1, "reason": "receipt",
                       "note": "x" * size}).encode()
    response = await live.post("/v1/inventory/update", content=body, headers=JSON)
    assert_problem(response, 413, "payload_too_large")
    assert await _state(live, store, sku) == before


async def test_streamed_huge_body_is_413_and_the_server_goes_on(live: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(live, quantity=5)
    before = await _state(live, store, sku)
    try:
        response = await live.post("/v1/inventory/update", content=_chunks(16 * MIB),
                                   headers=JSON)
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered 413 and closed while the client was still sending
    else:
        assert_problem(response, 413, "payload_too_large")
    assert await _state(live, store, sku) == before
    assert (await live.get("/readyz")).status_code == 200


# -- too many lines, too large a page -------------------------------------------------------

async def test_sale_of_ten_thousand_lines_is_422_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    before = await _state(client, store, sku)
    body = {"location_id": store, "lines": [line(sku)] * 10_000}
    response = await client.post("/v1/sales/record", json=body)
    problem = assert_problem(response, 422, "validation_error")
    assert "lines" in error_fields(problem)
    assert len(response.content) < 10_000, "one error for the list, not one per line"
    assert await _state(client, store, sku) == before


async def _list_routes(client: httpx.AsyncClient) -> list[str]:
    spec = (await client.get("/openapi.json")).json()
    return sorted(path for path, item in spec["paths"].items()
                  if any(p["name"] == "limit" for p in item.get("get", {}).get("parameters", [])))


async def test_every_list_refuses_a_page_of_a_million(client: httpx.AsyncClient) -> None:
    paths = await _list_routes(client)
    assert len(paths) >= 15, paths
    for path in paths:
        response = await client.get(path, params={"limit": 1_000_000})
        problem = assert_problem(response, 422, "validation_error")
        assert "limit" in error_fields(problem), (path, problem)


# -- nesting and malformed JSON -------------------------------------------------------------

DEEP = [
    pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="100k-nested-objects"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100k-nested-arrays"),
    pytest.param(b'{"name": "A", "attributes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                 id="deep-array-in-a-field"),
    pytest.param(b'{"name": ' + b"[" * 200_000, id="unclosed-nesting"),
    pytest.param(b'{"name": "\\ud800"}', id="lone-surrogate-escape"),
    pytest.param(b'{"name": 1' + b"0" * 100_000 + b"}", id="100k-digit-number"),
]


@pytest.mark.parametrize("body", DEEP)
async def test_deep_or_malformed_json_is_a_4xx_problem_and_changes_nothing(
        client: httpx.AsyncClient, body: bytes) -> None:
    product = await create_product(client)
    response = await client.patch(f"/v1/products/{product['sku']}", content=body, headers=JSON)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/v1/products/{product['sku']}")).json() == product


async def test_duplicate_keys_take_the_last_value_as_most_parsers_do(
        client: httpx.AsyncClient) -> None:
    """RFC 8259 leaves duplicate names to the parser; orjson keeps the last, as browsers'
    JSON.parse and Python's json do. 10,000 of them cost no more than any 250 kB body."""
    product = await create_product(client)
    body = b'{"name": "A"' + b', "name": "B"' * 10_000 + b', "name": "C"}'
    response = await client.patch(f"/v1/products/{product['sku']}", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "C"


# -- unicode and control characters ---------------------------------------------------------

VALID_TEXT = [
    pytest.param("Café \u00e9t\u00e9 \u00fc\u00df", id="latin"),
    pytest.param("\u202eRTL override\u202c and \u200fmark\u200e", id="rtl-marks"),
    pytest.param("\U0001f600\U0001f469\u200d\U0001f4bb\U0001f1fa\U0001f1f8",
                 id="emoji-zwj-flags"),
    pytest.param("\u4e2d\u6587 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1",
                 id="cjk-arabic-hebrew"),
    pytest.param("e\u0301\u0301\u0301 \ufeff\u200b zero-width", id="combining-bom-zwsp"),
    pytest.param("tab\there\nnew line\r\n", id="whitespace-controls"),
    pytest.param("\U0010fffd" * 200, id="200-astral-chars"),
]


@pytest.mark.parametrize("text", VALID_TEXT)
async def test_unicode_in_names_and_notes_is_stored_and_returned_intact(
        client: httpx.AsyncClient, text: str) -> None:
    product = await create_product(client, name=text, category=text[:100],
                                   attributes={"label": text})
    assert (product["name"], product["attributes"]["label"]) == (text, text)
    read = (await client.get(f"/v1/products/{product['sku']}")).json()
    assert (read["name"], read["category"], read["attributes"]["label"]) == (
        text, text[:100], text)
    store, (sku,) = await stocked(client, quantity=1)
    response = await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "delta": 1, "reason": "found", "note": text})
    assert response.status_code == 200, response.text
    notes = [entry.get("note") for entry in await ledger(client, store, sku)]
    assert text in notes, notes


BAD_TEXT = [
    pytest.param({"name": "A\x00B"}, "name", id="nul-in-name"),
    pytest.param({"name": "x" * 201}, "name", id="name-201-chars"),
    pytest.param({"name": "\U0001f600" * 201}, "name", id="name-201-emoji"),
    pytest.param({"name": "x" * 500_000}, "name", id="name-half-a-mib"),
    pytest.param({"category": "\x00"}, "category", id="nul-category"),
    pytest.param({"attributes": {"k": "A\x00"}}, "attributes", id="nul-in-attribute"),
    pytest.param({"attributes": {"\u202ek": "v"}}, "attributes", id="rtl-mark-in-attribute-key"),
    pytest.param({"attributes": {"k": "x" * 201}}, "attributes", id="attribute-201-chars"),
]


@pytest.mark.parametrize(("change", "field"), BAD_TEXT)
async def test_bad_text_is_422_and_changes_nothing(client: httpx.AsyncClient,
                                                   change: dict[str, Any], field: str) -> None:
    product = await create_product(client)
    response = await client.patch(f"/v1/products/{product['sku']}", json=change)
    problem = assert_problem(response, 422, "validation_error")
    assert any(f == field or f.startswith(field + ".") for f in error_fields(problem)), problem
    assert (await client.get(f"/v1/products/{product['sku']}")).json() == product


BAD_CODES = [
    pytest.param("SKU\u202e1", id="rtl-override"),
    pytest.param("SKU\u200b", id="zero-width-space"),
    pytest.param("\U0001f600", id="emoji"),
    pytest.param("\uff33\uff2b\uff35", id="fullwidth-letters"),
    pytest.param("A\x7f", id="delete"),
    pytest.param("A\x1b[31m", id="ansi-escape"),
    pytest.param("x" * 10_000, id="10k-chars"),
]


@pytest.mark.parametrize("code", BAD_CODES)
async def test_odd_characters_in_codes_are_422_everywhere(client: httpx.AsyncClient,
                                                          code: str) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    before = await _state(client, store, sku)
    for method, path, body in [
        ("POST", "/v1/products", {"sku": code, "name": "N", "category": "c",
                                  "price": {"amount": "1.00", "currency": "USD"}}),
        ("POST", "/v1/retail-locations", {"code": code, "name": "N", "region": "r"}),
        ("POST", "/v1/sales/record", {"location_id": store, "lines": [line(code)]}),
        ("POST", "/v1/inventory/update", {"location_id": code, "sku": sku, "delta": 1,
                                          "reason": "receipt"}),
    ]:
        response = await client.request(method, path, json=body)
        assert_problem(response, 422, "validation_error")
    for params in ({"sku": code}, {"location_id": code}):
        response = await client.get("/v1/inventory", params=params)
        assert_problem(response, 422, "validation_error")
    response = await client.get("/v1/products", params={"q": code[:100], "category": code[:100]})
    assert response.status_code in (200, 422), response.text
    assert await _state(client, store, sku) == before


@pytest.mark.parametrize("value", [
    pytest.param("A\x00B", id="nul"),
    pytest.param("\u202e\u200f", id="rtl-marks"),
    pytest.param("\U0001f600" * 50, id="emoji"),
    pytest.param("x" * 5000, id="5000-chars"),
    pytest.param("%00%ff%fe", id="percent-garbage"),
])
async def test_odd_query_values_never_get_a_5xx(client: httpx.AsyncClient, value: str) -> None:
    for path in await _list_routes(client):
        for name in ("q", "category", "sku", "location_id", "region", "cursor", "limit",
                     "from", "types"):
            response = await client.get(path, params={name: value})
            assert response.status_code in (200, 422), (path, name, response.text[:300])
            if response.status_code == 422:
                assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("header", [
    pytest.param(("X-Request-ID", b"\xff\xfe-id"), id="request-id-binary"),
    pytest.param(("X-Request-ID", "x" * 8000), id="request-id-8000"),
    pytest.param(("Idempotency-Key", "\u202ekey".encode()), id="idempotency-key-rtl"),
    pytest.param(("Last-Event-ID", "\U0001f600".encode()), id="last-event-id-emoji"),
    pytest.param(("Accept", "\x01/\x02"), id="accept-controls"),
    pytest.param(("Content-Type", "application/json; charset=\U0001f600".encode()),
                 id="content-type-emoji-charset"),
    pytest.param(("X-API-Key", "\u00e9".encode()), id="api-key-utf8"),
])
async def test_odd_header_values_are_a_4xx_problem_or_ignored(
        live: httpx.AsyncClient, header: tuple[str, str | bytes]) -> None:
    """Over a real socket, where the bytes reach the server as sent."""
    store, (sku,) = await stocked(live, quantity=3)
    before = await _state(live, store, sku)
    name, value = header
    response = await live.post("/v1/sales/record", headers={name: value},  # type: ignore[dict-item]
                               json={"location_id": store, "lines": [line(sku)]})
    assert response.status_code < 500, response.text
    assert await _state(live, store, sku) == before or response.status_code < 300
    if response.headers["content-type"].startswith("text/plain"):
        # A control character is not allowed in a header value (RFC 9110 5.5): uvicorn's
        # HTTP parser refuses the request before the app sees it, with its own plain 400.
        assert (response.status_code, response.text) == (400, "Invalid HTTP request received.")
        return
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    request_id = response.headers["X-Request-ID"]
    assert request_id.isascii() and len(request_id) <= 128


# -- memory of a server under a barrage ------------------------------------------------------

def _rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process and its children, in KiB."""
    pids = [pid, *[int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]]
    rss = hwm = 0
    for p in pids:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{p}/status").read_text()
                      .splitlines() if ":" in line)
        rss += int(fields["VmRSS"].split()[0])
        hwm += int(fields["VmHWM"].split()[0])
    return rss, hwm


RSS_GROWTH_BOUND_MIB = 100  # measured: 19-27 MiB after 500 such requests


@pytest.mark.backend_agnostic  # the memory of the server process under bad bodies
async def test_memory_stays_bounded_under_large_and_bad_requests(
        live: httpx.AsyncClient, live_server: LiveServer,
        record_property: pytest.RecordProperty) -> None:
    store, (sku,) = await stocked(live, quantity=5)
    bad_sale = json.dumps({"location_id": store, "lines": [line(sku)] * 10_000}).encode()
    huge = b'{"note": "' + b"x" * (8 * MIB) + b'"}'
    deep = b"[" * 100_000 + b"]" * 100_000
    objects = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    near_limit = json.dumps({"location_id": store, "sku": sku, "delta": 1, "reason": "receipt",
                             "note": "y" * (MIB - 1024)}).encode()
    for _ in range(3):  # warm up: caches, pools, the first allocations of each path
        await live.post("/v1/sales/record", content=bad_sale, headers=JSON)
    baseline, _ = _rss_kib(live_server.process.pid)

    async def barrage(i: int) -> None:
        for body, path in ((bad_sale, "/v1/sales/record"), (huge, "/v1/inventory/update"),
                           (deep, "/v1/sales/record"), (objects, "/v1/products"),
                           (near_limit, "/v1/inventory/update")):
            response = await live.post(path, content=body, headers={
                **JSON, "Idempotency-Key": f"rss-{i}-{path}-{len(body)}"})
            assert 400 <= response.status_code < 500, (path, response.status_code)

    for _ in range(5):
        await asyncio.gather(*(barrage(i) for i in range(20)))
    rss, hwm = _rss_kib(live_server.process.pid)
    assert (await live.get("/readyz")).status_code == 200
    grown = (rss - baseline) / 1024
    record_property("rss_kib", {"baseline": baseline, "after": rss, "peak": hwm})
    assert grown < RSS_GROWTH_BOUND_MIB, (baseline, rss, hwm)
    assert (await live.get(f"/v1/inventory/{store}/{sku}")).json()["on_hand"] == 5


# -- found by the fuzzer (tests/e2e/test_fuzz.py) ---------------------------------------------

@pytest.mark.parametrize(("path", "name", "value"), [
    ("/v1/sales", "to", "0.5"),
    ("/v1/sales", "from", "1700000000"),
    ("/v1/audit", "to", "0.5"),
    ("/v1/stock-movements", "from", "1e9"),
])
async def test_a_number_is_not_a_time_in_a_query(client: httpx.AsyncClient, path: str,
                                                 name: str, value: str) -> None:
    response = await client.get(path, params={name: value})
    assert name in error_fields(assert_problem(response, 422, "validation_error"))


async def test_a_number_is_not_a_date_or_time_in_a_body(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    before = await _state(client, store, sku)
    response = await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "delta": 1, "reason": "receipt", "lot": "L1",
        "expires_on": 0})
    assert "expires_on" in error_fields(assert_problem(response, 422, "validation_error"))
    response = await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku)], "occurred_at": 1_700_000_000})
    assert "occurred_at" in error_fields(assert_problem(response, 422, "validation_error"))
    assert await _state(client, store, sku) == before


@pytest.mark.parametrize("value", [1e19, -1e19, 1e300])
async def test_attribute_number_past_1e18_is_422(client: httpx.AsyncClient,
                                                 value: float) -> None:
    """jsonb writes numbers without an exponent: 1e300 came back as a 301-digit integer,
    and the next change of the product failed on PostgreSQL (500)."""
    product = await create_product(client)
    response = await client.patch(f"/v1/products/{product['sku']}",
                                  json={"attributes": {"weight": value}})
    fields = error_fields(assert_problem(response, 422, "validation_error"))
    assert all(f.startswith("attributes.weight") for f in fields), fields
    assert (await client.get(f"/v1/products/{product['sku']}")).json() == product


async def test_attribute_numbers_up_to_1e18_come_back_equal(client: httpx.AsyncClient) -> None:
    values = {"big": 1e18, "small": -1e18, "tiny": 1.5e-7, "plain": 0.1}
    product = await create_product(client, attributes=values)
    renamed = await client.patch(f"/v1/products/{product['sku']}", json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    read = (await client.get(f"/v1/products/{product['sku']}")).json()
    assert read["attributes"] == values


async def test_a_product_stored_with_a_huge_number_still_reads_and_changes(
        client: httpx.AsyncClient, database_url: str) -> None:
    """Stored before attribute numbers were bounded (straight in the table here): on
    PostgreSQL 1e300 comes back from jsonb as a 301-digit integer; it reads as the float."""
    from sqlalchemy import update

    from stockline.adapters.tables import products

    product = await create_product(client, attributes={"size": "42"})
    await execute_sql(database_url, update(products).where(products.c.sku == product["sku"])
                      .values(attributes={"size": "42", "weight": 1e300}))
    read = await client.get(f"/v1/products/{product['sku']}")
    assert read.status_code == 200, read.text
    assert read.json()["attributes"]["weight"] == 1e300
    renamed = await client.patch(f"/v1/products/{product['sku']}", json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["attributes"] == {"size": "42", "weight": 1e300}


async def test_a_garbage_cursor_is_422_even_on_an_empty_filter(client: httpx.AsyncClient) -> None:
    """?status=deleted lists nothing, and used to skip the cursor check on its way."""
    response = await client.get("/v1/webhooks", params={"status": "deleted", "cursor": "junk"})
    assert "cursor" in error_fields(assert_problem(response, 422, "validation_error"))


@pytest.mark.parametrize("query", ["cursor=junk&cursor=", "limit=abc&limit=5",
                                   "sku=A&sku=B", "from=2024-01-01T00:00:00Z&from=x"])
async def test_a_one_value_parameter_sent_twice_is_422(client: httpx.AsyncClient,
                                                       query: str) -> None:
    """FastAPI keeps the last value and never looks at the others."""
    name = query.split("=")[0]
    response = await client.get(f"/v1/stock-movements?{query}")
    assert name in error_fields(assert_problem(response, 422, "validation_error"))


async def test_a_list_parameter_may_be_repeated(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events?types=sale.recorded&types=inventory.changed")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("url", ["/v1/audit?principal_id=a%00b", "/v1/products?q=x%00",
                                 "/v1/sales?external_ref=%00", "/v1/audit?pa%00th=x"])
async def test_a_nul_in_a_query_value_is_422_not_a_database_error(client: httpx.AsyncClient,
                                                                  url: str) -> None:
    """Found by schemathesis: PostgreSQL refuses NUL in text, and the query was a 500."""
    response = await client.get(url)
    assert_problem(response, 422, "validation_error")


async def test_event_filters_take_100_values_a_parameter_and_100_parameters(
        client: httpx.AsyncClient) -> None:
    """What the OpenAPI document says, exactly: each value at most 100 codes, comma-separated
    (blanks allowed), and the parameter at most 100 times."""
    hundred = ",".join(f"L{n}" for n in range(100))
    ok = await client.get("/v1/events", params=[("location_id", hundred)] * 5)
    assert ok.status_code == 200, ok.text
    too_many = await client.get("/v1/events", params={"location_id": hundred + ",L100"})
    assert "location_id" in error_fields(assert_problem(too_many, 422, "validation_error"))
    repeated = await client.get("/v1/events", params=[("location_id", "L1")] * 101)
    assert "location_id" in error_fields(assert_problem(repeated, 422, "validation_error"))
