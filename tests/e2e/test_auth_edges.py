"""Edges of what a request may be: credential headers sent twice, a body where a route
takes none, codes that read as path segments, and the docs page's own policy."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from stockline.bootstrap import Container
from stockline.config import Settings
from stockline.domain.values import CODE_PATTERN
from stockline.entrypoints.http.app import create_app
from tests.conftest import ADMIN_KEY
from tests.factories import (
    app_of,
    assert_problem,
    create_warehouse,
    hold_line,
    insert_api_key,
    random_code,
    reserve,
    send_raw,
    stocked,
)


@pytest.fixture
async def declared(settings: Settings, container: Container
                   ) -> AsyncIterator[httpx.AsyncClient]:
    """The app without its lean handlers (FastAPI's declared routes alone)."""
    app = create_app(settings.model_copy(update={"lean_routes": False}), container=container)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stockline.test",
            headers={"X-API-Key": ADMIN_KEY}) as client:
        yield client


def _request(client: httpx.AsyncClient, method: str, path: str,
             headers: list[tuple[str, str]], **kwargs: object) -> httpx.Request:
    """A request with exactly ``headers`` (repeats kept), none of the client's defaults."""
    return httpx.Request(method, client.base_url.join(path), headers=headers,
                         **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("twice", [
    [("X-API-Key", ADMIN_KEY), ("X-API-Key", ADMIN_KEY)],
    [("X-API-Key", ADMIN_KEY), ("X-API-Key", "sk_0123456789ab_NOTAKEY")],
    [("Authorization", f"Bearer {ADMIN_KEY}"), ("Authorization", f"Bearer {ADMIN_KEY}")],
])
async def test_a_credential_header_sent_twice_is_a_400_whatever_the_values(
        client: httpx.AsyncClient, twice: list[tuple[str, str]]) -> None:
    code = random_code("W")
    for method, path, body in (("GET", "/v1/products", None),
                               ("POST", "/v1/warehouses", {"code": code})):
        request = _request(client, method, path, twice, json=body)
        problem = assert_problem(await client.send(request), 400, "bad_request")
        assert twice[0][0].lower() in problem["detail"].lower()
    # The refused POST created nothing.
    assert_problem(await client.get(f"/v1/warehouses/{code}"), 404, "not_found")


async def test_one_api_key_and_one_authorization_header_still_authenticate(
        client: httpx.AsyncClient, settings: Settings) -> None:
    staff = await insert_api_key(settings.database_url, "store_staff")
    request = _request(client, "GET", "/v1/products", [("X-API-Key", ADMIN_KEY),
                                                       ("Authorization", f"Bearer {staff.key}")])
    assert (await client.send(request)).status_code == 200


@pytest.mark.parametrize("code", [".", ".."])
async def test_dot_and_dot_dot_are_not_codes(client: httpx.AsyncClient, code: str) -> None:
    for path, body in (("/v1/warehouses", {"code": code}),
                       ("/v1/retail-locations", {"code": code}),
                       ("/v1/products", {"sku": code, "name": "n", "category": "c",
                                         "price": {"amount": "1.00", "currency": "USD"}})):
        assert_problem(await client.post(path, json=body), 422, "validation_error")
    assert_problem(await client.get("/v1/sales", params={"location_id": code}), 422,
                   "validation_error")
    assert_problem(await client.get("/v1/events", params={"location_id": code}), 422,
                   "validation_error")


async def test_codes_that_merely_contain_dots_are_still_codes(
        client: httpx.AsyncClient) -> None:
    for code in (f"...{random_code('W')}", f".{random_code('W')}", f"{random_code('W')}.."):
        warehouse = await create_warehouse(client, code)
        assert warehouse["code"] == code


async def test_dot_segments_in_a_level_path_never_reach_a_level(
        client: httpx.AsyncClient, declared: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    key = [(b"x-api-key", ADMIN_KEY.encode())]
    for sender in (client, declared):  # the lean route and the declared one
        for path in (f"/v1/inventory/../{sku}", f"/v1/inventory/./{sku}",
                     f"/v1/inventory/{store}/..", f"/v1/inventory/{store}/."):
            status, headers = await send_raw(app_of(sender), "GET", path, key)
            assert status in (404, 422), (path, status)
            assert headers[b"content-type"].startswith(b"application/problem+json")
        found, _ = await send_raw(app_of(sender), "GET", f"/v1/inventory/{store}/{sku}", key)
        assert found == 200


def test_the_openapi_pattern_of_a_code_refuses_dot_and_dot_dot() -> None:
    for code in (".", ".."):
        assert re.fullmatch(CODE_PATTERN, code) is None
    for code in ("a", "...", ".a", "a.", "..a", "A-Z_0.9", "x" * 64):
        assert re.fullmatch(CODE_PATTERN, code), code
    assert re.fullmatch(CODE_PATTERN, "x" * 65) is None


async def test_the_documented_code_pattern_is_the_one_enforced(
        client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    sku_param = next(p for p in spec["paths"]["/v1/products/{sku}"]["get"]["parameters"]
                     if p["name"] == "sku")
    assert sku_param["schema"]["pattern"] == CODE_PATTERN


_EXTERNAL = re.compile(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


async def test_the_docs_page_allows_no_other_origin_and_serves_all_it_loads(
        client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs", headers={"X-API-Key": ""})
    assert docs.status_code == 200
    csp = docs.headers["content-security-policy"]
    assert not _EXTERNAL.search(csp), csp
    for directive in csp.split(";"):
        sources = directive.split()[1:]
        assert all(s.startswith("'") or s in ("data:", "blob:") for s in sources), directive
    loaded = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', docs.text)
    assert len(loaded) >= 3, docs.text  # the bundle, its stylesheet, the favicon
    for url in loaded:
        assert url.startswith("/"), url
        asset = await client.get(url, headers={"X-API-Key": ""})
        assert asset.status_code == 200 and asset.content, url
    assert not _EXTERNAL.search(docs.text.replace("http://www.w3.org", "")), docs.text


async def _chunked() -> AsyncIterator[bytes]:
    yield b'{"filter": "x"}'


async def test_a_body_sent_to_a_route_that_takes_none_is_a_400_and_changes_nothing(
        client: httpx.AsyncClient, declared: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    held = await reserve(client, store, [hold_line(sku, 1)])
    release = f"/v1/reservations/{held['id']}/release"
    for sender in (client, declared):  # the lean level route and the declared one
        for method, path in (("GET", f"/v1/inventory/{store}/{sku}"), ("GET", "/v1/products"),
                             ("POST", release), ("GET", "/docs")):
            for body in ({"json": {"limit": 1}}, {"content": b"x"}, {"content": _chunked()}):
                answer = await sender.request(method, path, **body)  # type: ignore[arg-type]
                problem = assert_problem(answer, 400, "bad_request")
                assert "takes no request body" in problem["detail"]
    # The hold is still held: the refused release changed nothing.
    assert (await client.get(f"/v1/reservations/{held['id']}")).json()["status"] == "active"
    # No body, or an empty one, is as before.
    assert (await client.get(f"/v1/inventory/{store}/{sku}",
                             headers={"Content-Length": "0"})).status_code == 200
    assert (await client.post(release)).status_code == 200


async def test_a_body_to_a_route_that_takes_none_is_refused_only_after_authentication(
        client: httpx.AsyncClient) -> None:
    answer = await client.request("DELETE", "/v1/api-keys/key_unknown",
                                  headers={"X-API-Key": "sk_0123456789ab_NOTAKEY"},
                                  json={"reason": "x"})
    assert_problem(answer, 401, "unauthorized")


async def test_routes_that_take_a_body_still_take_it(client: httpx.AsyncClient) -> None:
    code = random_code("W")
    assert (await create_warehouse(client, code))["code"] == code
    token = await client.post("/v1/oauth/token", data={"grant_type": "client_credentials"},
                              headers={"X-API-Key": ""})
    assert token.status_code in (400, 401)  # the form was read: not a "no body" refusal
    assert "takes no request body" not in token.text
