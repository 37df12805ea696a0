"""The /docs page, as a person sees it: Chromium (driven by Playwright) renders it from a
live server at desktop and phone widths.

Swagger UI 4 could not render an OpenAPI 3.1 document ("Unable to render this
definition"), and the page's Content-Security-Policy allows nothing from elsewhere: only a
browser shows whether the page works under both.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Page, Request

from tests.browser import chromium, screenshot
from tests.conftest import LiveServer

OPERATIONS = ("/v1/sales/record", "/v1/inventory/{location_id}/{sku}", "/v1/events/stream")
VIEWPORTS = {"desktop": (1366, 900), "phone": (390, 844)}
PAGE_MS = 30_000  # for the page to render on a loaded machine


# The page is the same whatever the database: one backend's server is enough.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True, scope="session")
async def test_the_docs_page_renders_the_api_in_a_browser(
        live_server: LiveServer, tmp_path: Path, backend: str) -> None:
    errors: list[str] = []
    requested: list[str] = []
    async with chromium() as browser:
        for name, (width, height) in VIEWPORTS.items():
            page = await browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: _note_error(m, errors))
            page.on("request", lambda r: _note_request(r, requested))
            await _check_docs(page, live_server, tmp_path, f"docs-{name}-{backend}")
            await page.close()
    assert errors == []  # no script error, no Content-Security-Policy violation
    assert requested and all(url.startswith(live_server.base_url) or
                             url.startswith(("data:", "blob:")) for url in requested), requested


async def _check_docs(page: Page, server: LiveServer, shots: Path, name: str) -> None:
    """The page lists the operations; the sale's opens with its request body."""
    started = time.monotonic()
    await page.goto(f"{server.base_url}/docs")
    sale = page.locator('.opblock-summary-path[data-path="/v1/sales/record"]')
    await sale.wait_for(timeout=PAGE_MS)
    rendered_in = time.monotonic() - started
    await screenshot(page, shots, name)
    body = await page.inner_text("body")
    assert "Unable to render this definition" not in body
    assert "OAS 3.1" in body, rendered_in  # Swagger UI read the document's version
    for operation in OPERATIONS:
        path = page.locator(f'.opblock-summary-path[data-path="{operation}"]')
        assert await path.count() == 1, operation
    await sale.click()
    opened = page.locator(".opblock.is-open")
    await opened.locator(".opblock-section-request-body").wait_for(timeout=PAGE_MS)
    assert "Record a sale" in await opened.inner_text()
    await opened.scroll_into_view_if_needed()
    await screenshot(page, shots, f"{name}-record-sale")


def _note_error(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text)


def _note_request(request: Request, requested: list[str]) -> None:
    requested.append(request.url)
