"""The dashboard in a real browser (Debian's Chromium, driven by Playwright): signing in
on its form gives an HttpOnly, SameSite=Strict, expiring session cookie; every page draws
at 1280 and 390 px without sideways scrolling (a screenshot of each is kept as an
artifact); a write without the CSRF token is refused; a store's key sees its store only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Response

from tests.browser import chromium, screenshot
from tests.conftest import Databases, LiveServer, start_server, stop_server
from tests.dashboard_support import (
    DASHBOARD,
    DESKTOP,
    PHONE,
    WAIT_MS,
    show,
    sign_in,
    signed_in,
)
from tests.factories import (
    create_api_key,
    create_purchase_order,
    create_supplier,
    create_warehouse,
    level,
    line,
    receive,
    record_sale,
    set_reorder,
    ship_transfer,
    stocked,
)


@dataclass(frozen=True)
class Shop:
    server: LiveServer
    store: str
    sku: str
    other_store: str
    other_sku: str
    store_key: str
    sale_here: str
    sale_there: str
    transfer: str  # in transit from the warehouse to ``store``


@pytest.fixture(scope="module")
async def shop(databases: Databases, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[Shop]:
    url = await databases.new("sqlite")  # what is tested here is the browser's side
    server = start_server(url, tmp_path_factory.mktemp("dashboard"))
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                     headers={"X-API-Key": server.admin_key}) as admin:
            yield await _open_shop(admin, server)
    finally:
        stop_server(server)


async def _open_shop(admin: httpx.AsyncClient, server: LiveServer) -> Shop:
    """A warehouse and three stores with stock, sales, a low level, a transfer on its way,
    a purchase order and a discrepancy report: something on every page."""
    store, (sku, low_sku, *more) = await stocked(admin, quantity=12, skus=4)
    other, (other_sku,) = await stocked(admin, quantity=12)
    third, (third_sku,) = await stocked(admin, quantity=30)
    warehouse = (await create_warehouse(admin))["code"]
    for code in (sku, low_sku, *more):
        await receive(admin, warehouse, code, 200)
    await set_reorder(admin, store, low_sku, reorder_point=20)
    key = await create_api_key(admin, "store_staff", location_ids=[store])
    here = await record_sale(admin, store, [line(sku, 2, "19.90")])
    there = await record_sale(admin, other, [line(other_sku, 1, "7.50")])
    await record_sale(admin, third, [line(third_sku, 3, "12.00")])
    await record_sale(admin, store, [line(more[0], 1, "54.00"), line(more[1], 2, "8.25")])
    transfer = await ship_transfer(admin, warehouse, store, (low_sku, 24), (sku, 6))
    supplier = await create_supplier(admin, products={sku: "6.00"}, lead_time_days=5)
    await create_purchase_order(admin, supplier["code"], warehouse, {sku: 100})
    await admin.post("/v1/feedback", json={"kind": "discrepancy", "location_id": other,
                                           "sku": other_sku, "observed_quantity": 9})
    return Shop(server, store, sku, other, other_sku, key["key"], here["id"], there["id"],
                transfer["id"])


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as made:
        yield made


async def test_signing_in_gives_an_httponly_strict_expiring_session(
        shop: Shop, browser: Browser) -> None:
    page = await signed_in(browser, shop.server.base_url, shop.server.admin_key)
    try:
        cookies = await page.context.cookies()
        await page.get_by_role("button", name="Sign out").wait_for(timeout=WAIT_MS)
    finally:
        await page.close()
    (session,) = [c for c in cookies if c["name"] == "stockline_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["secure"] is False  # plain HTTP here; Secure over TLS
    assert time.time() < session["expires"] <= time.time() + 8 * 3600 + 60


async def test_a_wrong_key_is_refused_on_the_form(shop: Shop, browser: Browser) -> None:
    page = await browser.new_page()
    try:
        await page.goto(shop.server.base_url + DASHBOARD)
        await page.get_by_label("API key").fill("sk_not_a_real_key")
        await page.get_by_role("button", name="Sign in").click()
        alert = await page.get_by_role("alert").inner_text(timeout=WAIT_MS)
        cookies = await page.context.cookies()
    finally:
        await page.close()
    assert "not valid" in alert
    assert not [c for c in cookies if c["name"] == "stockline_session"]


@pytest.mark.parametrize(("viewport", "width"), [(DESKTOP, 1280), (PHONE, 390)])
async def test_every_page_draws_without_sideways_scrolling(
        shop: Shop, browser: Browser, tmp_path: Path, viewport: dict[str, int],
        width: int) -> None:
    page = await signed_in(browser, shop.server.base_url, shop.server.admin_key, viewport)
    widths = {}
    try:
        for route in ("network", f"level/{shop.store}/{shop.sku}", "transfers", "accuracy",
                      "health"):
            await show(page, route)
            widths[route] = await page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]")
            await screenshot(page, tmp_path, f"dashboard-{route.split('/')[0]}-{width}",
                             full_page=True)
    finally:
        await page.close()
    assert all(scroll <= inner == width for scroll, inner in widths.values()), widths


async def test_a_write_without_the_csrf_token_is_refused(shop: Shop, browser: Browser) -> None:
    page = await signed_in(browser, shop.server.base_url, shop.store_key)
    body = {"kind": "suggestion", "note": "from the dashboard test"}
    try:
        without = await page.evaluate(
            "async (body) => { const r = await fetch('/v1/feedback', {method: 'POST', "
            "headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)}); "
            "return [r.status, r.headers.get('content-type'), await r.json()]; }", body)
        forged = await page.evaluate(
            "async (body) => { const r = await fetch('/v1/feedback', {method: 'POST', "
            "headers: {'Content-Type': 'application/json', 'X-CSRF-Token': 'forged'}, "
            "body: JSON.stringify(body)}); return r.status; }", body)
        with_token = await page.evaluate(
            "async (body) => { const token = document.querySelector("
            "'meta[name=\"csrf-token\"]').content; const r = await fetch('/v1/feedback', "
            "{method: 'POST', headers: {'Content-Type': 'application/json', "
            "'X-CSRF-Token': token}, body: JSON.stringify(body)}); return r.status; }", body)
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_label("API key").wait_for(timeout=WAIT_MS)
        after = await page.evaluate("async () => (await fetch('/v1/inventory')).status")
    finally:
        await page.close()
    status, media, problem = without
    assert (status, media, problem["code"]) == (403, "application/problem+json", "forbidden")
    assert "CSRF" in problem["detail"]
    assert (forged, with_token, after) == (403, 201, 401)


def _location_ids(body: Any) -> set[str]:
    """Every ``location_id`` anywhere in a JSON answer."""
    if isinstance(body, dict):
        found = {body["location_id"]} if isinstance(body.get("location_id"), str) else set()
        return found.union(*(_location_ids(v) for v in body.values()))
    if isinstance(body, list):
        return set().union(*(_location_ids(v) for v in body))
    return set()


async def test_a_store_key_sees_only_its_own_store(shop: Shop, browser: Browser,
                                                   tmp_path: Path) -> None:
    page = await browser.new_page(viewport=DESKTOP)  # type: ignore[arg-type]
    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if "/v1/" in r.url else None)
    read: dict[str, tuple[int, Any]] = {}

    async def bodies() -> None:
        """What the server sent the page (the event stream aside: it has no end)."""
        for answer in answers:
            media = answer.headers.get("content-type", "")
            if answer.url not in read and "json" in media:
                read[answer.url] = (answer.status, await answer.json())

    try:
        await sign_in(page, shop.server.base_url, shop.store_key)
        ticker = await page.locator("#ticker").inner_html()
        stock = await page.locator("#levels").inner_text()
        low = await page.locator("#low").inner_text()
        await bodies()
        for route in (f"network/sku/{shop.other_sku}", f"network/location/{shop.other_store}",
                      "transfers", "accuracy", f"level/{shop.other_store}/{shop.other_sku}"):
            await show(page, route)
            await bodies()
        refused = await page.get_by_role("alert").inner_text(timeout=WAIT_MS)
        await screenshot(page, tmp_path, "dashboard-store-key-other-level")
    finally:
        await page.close()
    assert shop.sale_here in ticker and shop.sale_there not in ticker
    assert shop.store in stock and shop.other_store not in stock
    assert shop.store in low  # the level under its reorder point
    assert "limited to this key's locations" in refused
    # What the server sent: its store's levels and sales, nothing of another location.
    by_path = {urlsplit(url).path: answer for url, answer in read.items()}
    assert {"/v1/inventory", "/v1/inventory/by-location", "/v1/sales"} <= set(by_path)
    assert [r["location_id"] for r in by_path["/v1/inventory/by-location"][1]["items"]] == [
        shop.store]
    assert set().union(*(_location_ids(body) for _, body in read.values())) == {shop.store}
    other_level = f"/v1/inventory/{shop.other_store}/{shop.other_sku}"
    assert by_path[other_level][0] == 403
    assert any(status == 403 and "location_id=" + shop.other_store in url
               for url, (status, _) in read.items())


async def test_a_transfer_received_on_the_page_reaches_the_store(
        shop: Shop, browser: Browser, tmp_path: Path) -> None:
    page = await signed_in(browser, shop.server.base_url, shop.store_key, PHONE)
    try:
        await show(page, "transfers")
        row = page.locator("#transfers tr", has_text=shop.transfer)
        await screenshot(page, tmp_path, "dashboard-transfers-store-390")
        await row.get_by_role("button", name="Receive").click()
        await page.locator("#msg", has_text=f"Receive {shop.transfer}").wait_for(
            timeout=WAIT_MS)
        await row.wait_for(state="detached", timeout=WAIT_MS)
    finally:
        await page.close()
    async with httpx.AsyncClient(base_url=shop.server.base_url, timeout=30,
                                 headers={"X-API-Key": shop.server.admin_key}) as admin:
        got = await level(admin, shop.store, shop.sku)
    assert (got["on_hand"], got["in_transit"]) == (12 - 2 + 6, 0)
