"""Pages of the origins in STOCKLINE_CORS_ORIGINS may call the API from a browser: their
preflights are answered before authentication, and every answer they get (a 401 and a
429 included) lets them read it; a page of any other origin gets no
Access-Control-Allow-Origin, so its browser keeps the answer from it. (A browser doing
all of this: tests/e2e/test_browser.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from stockline.bootstrap import Container
from stockline.config import Settings
from tests.factories import admin_client, assert_problem, insert_api_key, without_credentials

SHOP = "https://shop.example"
OTHER = "https://elsewhere.example"
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "x-api-key, content-type, idempotency-key"}


@pytest.fixture
async def cors_client(settings: Settings, container: Container
                      ) -> AsyncIterator[httpx.AsyncClient]:
    allowed = settings.model_copy(update={"cors_origins": (SHOP, "http://127.0.0.1:5173")})
    async with admin_client(allowed, container) as client:
        yield client


def _exposed(response: httpx.Response) -> set[str]:
    given = response.headers.get("access-control-expose-headers", "")
    return {name.strip().lower() for name in given.split(",") if name.strip()}


def test_the_setting_takes_comma_separated_origins_and_refuses_a_path() -> None:
    assert Settings(cors_origins=f" {SHOP}, http://[::1]:3000 ,").cors_origins == (
        SHOP, "http://[::1]:3000")
    assert Settings().cors_origins == ()
    with pytest.raises(ValueError, match="not an origin"):
        Settings(cors_origins=f"{SHOP}/")


async def test_a_preflight_from_an_allowed_origin_is_answered_before_authentication(
        cors_client: httpx.AsyncClient) -> None:
    response = await without_credentials(cors_client, "OPTIONS", "/v1/sales/record",
                                         {"Origin": SHOP, **PREFLIGHT})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SHOP
    allowed = {h.strip().lower() for h in
               response.headers["access-control-allow-headers"].split(",")}
    assert {"x-api-key", "authorization", "content-type", "idempotency-key",
            "last-event-id"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_an_origin_not_configured_gets_no_allow_origin(
        cors_client: httpx.AsyncClient) -> None:
    preflight = await without_credentials(cors_client, "OPTIONS", "/v1/sales/record",
                                          {"Origin": OTHER, **PREFLIGHT})
    assert_problem(preflight, 400, "bad_request")
    assert "access-control-allow-origin" not in preflight.headers
    read = await cors_client.get("/v1/products", headers={"Origin": OTHER})
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers


async def test_answers_to_an_allowed_origin_expose_what_a_client_needs(
        cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.get("/v1/products", headers={"Origin": SHOP})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "origin" in response.headers["vary"].lower()
    assert {"idempotent-replayed", "x-request-id", "retry-after", "ratelimit-limit",
            "ratelimit-remaining", "ratelimit-reset"} <= _exposed(response)
    assert "ratelimit-limit" in response.headers  # the headers exposed are those sent


async def test_a_401_and_a_429_are_readable_by_an_allowed_page(
        cors_client: httpx.AsyncClient, database_url: str) -> None:
    refused = await without_credentials(cors_client, "GET", "/v1/products",
                                        {"Origin": SHOP})
    assert_problem(refused, 401, "unauthorized")
    assert refused.headers["access-control-allow-origin"] == SHOP
    slow = await insert_api_key(database_url, "manager", rate_limit=0.01)
    answers = [await without_credentials(cors_client, "GET", "/v1/products",
                                         {"Origin": SHOP, "X-API-Key": slow.key})
               for _ in range(3)]
    limited = next(a for a in answers if a.status_code == 429)
    assert_problem(limited, 429, "rate_limited")
    assert limited.headers["access-control-allow-origin"] == SHOP
    assert "retry-after" in _exposed(limited) and "retry-after" in limited.headers


async def test_without_the_setting_no_answer_carries_cors_headers(
        client: httpx.AsyncClient) -> None:
    preflight = await without_credentials(client, "OPTIONS", "/v1/sales/record",
                                          {"Origin": SHOP, **PREFLIGHT})
    assert preflight.status_code in (401, 405), preflight.text
    read = await client.get("/v1/products", headers={"Origin": SHOP})
    assert not [h for h in read.headers if h.lower().startswith("access-control-")]
