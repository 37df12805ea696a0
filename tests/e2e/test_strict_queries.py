"""Every route refuses a query parameter it does not declare, naming it: a misspelt filter
is a 422, never a list that looks filtered. Routes declare their parameters once (their
signature); the OpenAPI document lists the same. Both backends.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from stockline.entrypoints.http.app import create_app
from tests.conftest import LiveServer
from tests.factories import assert_problem, line, stocked

# A value that fits any path parameter's pattern: the refusal comes before the lookup.
PATH_VALUE = "X1"


def _unknown(problem: dict[str, Any], name: str) -> str:
    """The message naming ``name`` as an unknown parameter."""
    errors = [e for e in problem["errors"] if e["field"] == name]
    assert errors, problem
    assert errors[0]["location"] == "query"
    message: str = errors[0]["message"]
    assert message.startswith("unknown query parameter; this operation takes: "), message
    return message


def _get_operations() -> list[tuple[str, list[str]]]:
    spec = create_app().openapi()
    return [(path, [p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"])
            for path, item in spec["paths"].items() if "get" in item]


def _fill(template: str) -> str:
    return re.sub(r"\{[^}]+\}", PATH_VALUE, template)


async def test_a_filter_the_inventory_list_does_not_have_is_refused_by_name(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/inventory", params={"category": "footwear"})
    message = _unknown(assert_problem(response, 422, "validation_error"), "category")
    for declared in ("sku", "location_id", "location_type", "below_reorder_point", "as_of",
                     "limit", "cursor"):
        assert declared in message


async def test_a_misspelt_as_of_on_one_level_is_refused(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    for path in (f"/v1/inventory/{store}/{sku}", "/v1/reports/inventory-value"):
        response = await client.get(path, params={"asof": "2026-11-01T00:00:00Z"})
        message = _unknown(assert_problem(response, 422, "validation_error"), "asof")
        assert "as_of" in message.split("takes:")[-1]


async def test_each_unknown_parameter_is_named_beside_declared_ones(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/sales?limit=5&colour=red&sizes=4")
    problem = assert_problem(response, 422, "validation_error")
    assert sorted(e["field"] for e in problem["errors"]) == ["colour", "sizes"]


@pytest.mark.parametrize(("path", "declared"), _get_operations())
async def test_every_get_route_refuses_an_undeclared_parameter(
        client: httpx.AsyncClient, path: str, declared: list[str]) -> None:
    url = _fill(path)
    response = await client.get(url, params={"bogus": "1"})
    message = _unknown(assert_problem(response, 422, "validation_error"), "bogus")
    listed = message.split("takes: ", 1)[1].split(", ")
    by_name = [n for n in listed if not n.endswith("<name>")]  # attr.<name>: a family
    assert by_name == (declared or ["no query parameters"])


async def test_declared_parameters_still_work(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=4)
    response = await client.get("/v1/inventory", params={"location_id": store, "sku": sku,
                                                         "limit": 5})
    assert response.status_code == 200, response.text
    assert [i["sku"] for i in response.json()["items"]] == [sku]
    for url in ("/v1/products?category=x&q=y&attr.size=42&limit=3",
                "/v1/events?after=0&types=sale.recorded&types=inventory.changed&limit=1",
                f"/v1/sales?from=2026-11-01&to=2026-11-02T00:00:00Z&location_id={store}",
                "/v1/stock-movements?type=receipt&limit=1"):
        assert (await client.get(url)).status_code == 200, url


async def test_the_docs_pages_are_not_operations(client: httpx.AsyncClient) -> None:
    """Swagger UI's OAuth2 redirect page is sent whatever a provider adds to its URL."""
    response = await client.get("/docs/oauth2-redirect?code=abc&state=xyz")
    assert response.status_code == 200, response.text


async def test_attribute_filters_are_a_declared_family(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/products", params={"attrs.size": "42"})
    message = _unknown(assert_problem(response, 422, "validation_error"), "attrs.size")
    assert message.endswith("attr.<name>")
    response = await client.get("/v1/products", params={"attr.shoe size": "42"})
    assert_problem(response, 422, "validation_error")


async def test_the_lean_level_read_refuses_an_undeclared_parameter(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    response = await client.get(f"/v1/inventory/{store}/{sku}?x=1")
    _unknown(assert_problem(response, 422, "validation_error"), "x")


async def test_the_lean_sale_refuses_an_undeclared_parameter_and_sells_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    response = await client.post("/v1/sales/record?x=1",
                                 json={"location_id": store, "lines": [line(sku, 1)]})
    _unknown(assert_problem(response, 422, "validation_error"), "x")
    level = (await client.get(f"/v1/inventory/{store}/{sku}")).json()
    assert level["on_hand"] == 3


async def test_the_websocket_refuses_an_undeclared_parameter_at_the_handshake(
        live_server: LiveServer) -> None:
    url = live_server.base_url.replace("http://", "ws://") + "/v1/events/ws"
    with pytest.raises(InvalidStatus) as denied:
        async with websockets.connect(url + "?bogus=1",
                                      additional_headers={"X-API-Key": live_server.admin_key}):
            pass  # pragma: no cover - the handshake is refused
    response = denied.value.response
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "api_key" in _unknown(json.loads(response.body), "bogus")
    async with websockets.connect(f"{url}?api_key={live_server.admin_key}") as socket:
        await socket.send(json.dumps({"action": "unsubscribe"}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "unsubscribed"}
