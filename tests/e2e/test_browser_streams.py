"""A web page of another origin follows the event stream in a real browser (Chromium,
driven by Playwright): with STOCKLINE_CORS_ORIGINS naming the page's origin, the page
trades its key for a ticket with ``fetch`` and hears a sale through
``EventSource.addEventListener('sale.recorded')``; a page of an origin not configured
cannot read any answer.

The page (tests/e2e/pages/board.html) is served by a plain HTTP server on another port of
127.0.0.1: another origin than the API's.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.browser import chromium, screenshot
from tests.conftest import Databases, LiveServer, start_server, stop_server
from tests.factories import create_api_key, event_log, line, record_sale, stocked

PAGES = Path(__file__).parent / "pages"
WAIT_MS = 20_000  # for the page to hear the sale on a loaded machine


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass


@contextlib.contextmanager
def static_site() -> Iterator[str]:
    """tests/e2e/pages served on a free port of 127.0.0.1; yields its origin."""
    handler = functools.partial(_Quiet, directory=str(PAGES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Setup:
    api: LiveServer
    allowed: str  # the origin STOCKLINE_CORS_ORIGINS names
    other: str  # an origin it does not


@pytest.fixture(scope="module")
async def setup(databases: Databases, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[Setup]:
    url = await databases.new("sqlite")  # what is tested here is the browser's side
    with static_site() as allowed, static_site() as other:
        api = start_server(url, tmp_path_factory.mktemp("cors"),
                           extra_env={"STOCKLINE_CORS_ORIGINS": allowed})
        try:
            yield Setup(api, allowed, other)
        finally:
            stop_server(api)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as made:
        yield made


@pytest.fixture
async def admin(setup: Setup) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=setup.api.base_url, timeout=30,
                                 headers={"X-API-Key": setup.api.admin_key}) as client:
        yield client


async def _board(browser: Browser, origin: str) -> Page:
    page = await browser.new_page(viewport={"width": 900, "height": 500})
    await page.goto(f"{origin}/board.html")
    return page


async def test_a_page_of_an_allowed_origin_follows_sales_with_a_ticket(
        setup: Setup, browser: Browser, admin: httpx.AsyncClient, tmp_path: Path) -> None:
    store, (sku,) = await stocked(admin, quantity=5)
    key = await create_api_key(admin, "store_staff", location_ids=[store])
    newest = max((e["id"] for e in await event_log(admin)), default=0)
    page = await _board(browser, setup.allowed)
    try:
        opened = await page.evaluate("([server, key, after]) => follow(server, key, after)",
                                     [setup.api.base_url, key["key"], newest])
        assert opened["status"] == 201 and opened["expires_in"] == 60, opened
        assert opened["requestId"] and opened["rateLimit"], opened  # exposed to the page
        sale = await record_sale(admin, store, [line(sku)])
        await page.wait_for_function("() => window.received.length > 0", timeout=WAIT_MS)
        received = await page.evaluate("() => window.received")
        await screenshot(page, tmp_path, "cors-board-following")
    finally:
        await page.close()
    assert [r["event"]["data"]["sale_id"] for r in received] == [sale["id"]]
    assert received[0]["id"] == str(received[0]["event"]["id"])  # the SSE id: to resume


async def test_a_page_of_an_allowed_origin_reads_refusals(setup: Setup,
                                                          browser: Browser) -> None:
    page = await _board(browser, setup.allowed)
    try:
        answer = await page.evaluate("(server) => refused(server)", setup.api.base_url)
    finally:
        await page.close()
    assert answer["status"] == 401 and answer["body"]["code"] == "unauthorized", answer


async def test_a_page_of_another_origin_cannot_read_answers(
        setup: Setup, browser: Browser, admin: httpx.AsyncClient, tmp_path: Path) -> None:
    key = await create_api_key(admin, "manager")
    page = await _board(browser, setup.other)
    try:
        server = setup.api.base_url
        with_key = await page.evaluate(
            "([server, key]) => attempt(server, '/v1/events/tickets', "
            "{method: 'POST', headers: {'X-API-Key': key}})", [server, key["key"]])
        plain = await page.evaluate("(server) => attempt(server, '/healthz', {})", server)
        await screenshot(page, tmp_path, "cors-board-other-origin")
    finally:
        await page.close()
    assert (with_key, plain) == ("blocked", "blocked")
    direct = await admin.get("/healthz", headers={"Origin": setup.other})
    assert "access-control-allow-origin" not in direct.headers
