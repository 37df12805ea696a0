"""The GraphQL explorer (GraphiQL) as a person sees it: Chromium renders /graphql from a
live server, loads nothing from elsewhere, and runs a query with the caller's key."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Request

from tests.browser import chromium, screenshot
from tests.conftest import LiveServer

PAGE_MS = 30_000  # for the page to render on a loaded machine


# The page is the same whatever the database: one backend's server is enough.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True, scope="session")
async def test_graphiql_renders_from_local_assets_and_runs_a_query(
        live_server: LiveServer, tmp_path: Path, backend: str) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key}) as admin:
        created = await admin.post("/v1/products", json={
            "sku": "GQL-PAGE-1", "name": "Page product", "category": "page",
            "price": {"amount": "1.00", "currency": "USD"}})
        assert created.status_code in (201, 409), created.text
    errors: list[str] = []
    requested: list[str] = []
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1366, "height": 900})
        page.on("console", lambda m: _note_error(m, errors))
        page.on("request", lambda r: _note_request(r, requested))
        # the key as the headers editor would send it (every request of the page)
        await page.set_extra_http_headers({"X-API-Key": live_server.admin_key})
        await page.goto(f"{live_server.base_url}/graphql")
        await page.locator(".graphiql-container").wait_for(timeout=PAGE_MS)
        await page.locator(".graphiql-execute-button").click()
        result = page.locator(".result-window")
        await result.get_by_text("GQL-PAGE-1").first.wait_for(timeout=PAGE_MS)
        await screenshot(page, tmp_path, f"graphiql-{backend}")
        await page.close()
    # a 401 logged by the page itself would be a console error too: there is none
    assert errors == [], errors  # no script error, no Content-Security-Policy violation
    assert requested and all(url.startswith(live_server.base_url) or
                             url.startswith(("data:", "blob:")) for url in requested), requested


def _note_error(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text)


def _note_request(request: Request, requested: list[str]) -> None:
    requested.append(request.url)
