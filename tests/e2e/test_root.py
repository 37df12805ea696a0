"""GET / tells a newcomer where to start, without a key."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from stockline.bootstrap import Container
from stockline.config import Settings
from tests.factories import admin_client, app_of, without_credentials


async def test_the_root_answers_an_index_without_a_key(client: httpx.AsyncClient) -> None:
    response = await without_credentials(client, "GET", "/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Stockline" and body["version"]
    assert body["links"] == {"docs": "/docs", "openapi": "/openapi.json",
                             "dashboard": "/dashboard"}
    for path in body["links"].values():
        assert (await without_credentials(client, "GET", path)).status_code == 200, path


async def _dashboard(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("dashboard")


async def test_the_index_links_the_dashboard_once_the_app_serves_one(
        settings: Settings, container: Container) -> None:
    async with admin_client(settings, container) as client:
        app_of(client).add_route("/dashboard", _dashboard)
        body = (await without_credentials(client, "GET", "/")).json()
    assert body["links"]["dashboard"] == "/dashboard"
