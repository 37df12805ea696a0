"""The dashboard follows the event stream: a sale made over the REST API appears on the
open page within a second; a discrepancy reported from the page opens a count task which,
completed from the page, sets the level. Both backends: one server and one browser each.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.browser import chromium, screenshot
from tests.conftest import Databases, LiveServer, start_server, stop_server
from tests.dashboard_support import DESKTOP, PHONE, WAIT_MS, show, sign_in, signed_in
from tests.factories import create_api_key, level, line, record_sale, stocked
from tests.tcp_relay import relay_to

SALES = 5
UNITS = SALES * (SALES + 1) // 2  # the sales sell 1, 2, ... units
# The units of today in the page's table of sales per hour.
HOURS_TODAY = ("[...document.querySelectorAll('#hours td[data-label=\"Today\"]')]"
               ".reduce((n, td) => n + Number(td.textContent), 0)")
CUT_SALES = 4
WITHIN_SECONDS = 1.0


@dataclass(frozen=True)
class Live:
    server: LiveServer
    admin: httpx.AsyncClient


@pytest.fixture(scope="module")
async def live(backend: str, databases: Databases,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    url = await databases.new(backend)
    server = start_server(url, tmp_path_factory.mktemp(f"dashboard-{backend}"))
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                     headers={"X-API-Key": server.admin_key}) as admin:
            yield Live(server, admin)
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as made:
        yield made


# The moment (ms since the epoch, the machine's one clock) each new sale appears.
WATCH = """() => { window.seen = {}; new MutationObserver((changes) => {
  for (const change of changes) for (const node of change.addedNodes)
    if (node.dataset && node.dataset.sale) window.seen[node.dataset.sale] = Date.now();
}).observe(document.querySelector('#ticker'), {childList: true}); }"""


async def test_a_sale_over_rest_shows_on_the_open_page_within_a_second(
        live: Live, browser: Browser, backend: str, tmp_path: Path) -> None:
    store, (sku,) = await stocked(live.admin, quantity=50)
    other, (other_sku,) = await stocked(live.admin, quantity=5)
    key = await create_api_key(live.admin, "store_staff", location_ids=[store])
    page = await browser.new_page(viewport=DESKTOP)  # type: ignore[arg-type]
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/" in r.url else None)
    await sign_in(page, live.server.base_url, key["key"])
    delays = []
    try:
        await page.evaluate(WATCH)
        elsewhere = await record_sale(live.admin, other, [line(other_sku)])
        for n in range(SALES):
            sent = time.time()
            sale = await record_sale(live.admin, store, [line(sku, n + 1, "4.25")])
            await page.wait_for_function("(id) => window.seen[id] !== undefined",
                                         arg=sale["id"], timeout=WAIT_MS)
            delays.append(await page.evaluate("(id) => window.seen[id]", sale["id"])
                          / 1000 - sent)
        # Sales per hour: the server's sums by hour, read again as sales come.
        await page.wait_for_function(f"(units) => {HOURS_TODAY} === units", arg=UNITS,
                                     timeout=WAIT_MS)
        await asyncio.sleep(0.3)
        ticker = await page.locator("#ticker").inner_text()
        listed = await page.eval_on_selector_all("#ticker li", "(items) => items.map("
                                                 "(li) => li.dataset.sale)")
        shown = await page.locator("#sales-count").inner_text()
        await screenshot(page, tmp_path, f"dashboard-live-sales-{backend}")
    finally:
        await page.close()
    text = (f"\nsale-to-page delay ({backend}): "
            + ", ".join(f"{d * 1000:.0f} ms" for d in delays)
            + f"; median {statistics.median(delays) * 1000:.0f} ms")
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`
    assert statistics.median(delays) < WITHIN_SECONDS, delays
    assert shown == str(SALES)  # the other store's sale is not among them
    assert elsewhere["id"] not in listed and other not in ticker
    assert f"{SALES}× {sku}" in ticker and f"{SALES * 4.25:.2f} USD" in ticker
    hourly = [urlsplit(url) for url in asked if urlsplit(url).path == "/v1/reports/sales"]
    assert hourly and all(parse_qs(u.query)["group_by"] == ["hour"] for u in hourly)
    assert not [url for url in asked if urlsplit(url).path == "/v1/sales"
                and "from" in parse_qs(urlsplit(url).query)]  # no sales summed in the page


ANSWERED = """() => { const m = document.querySelector('#msg');
  return m && (m.textContent.startsWith('Counted') || m.className === 'alert'); }"""


async def test_a_discrepancy_reported_on_the_page_is_counted_on_the_page(
        live: Live, browser: Browser, backend: str, tmp_path: Path) -> None:
    store, (sku,) = await stocked(live.admin, quantity=10)
    key = await create_api_key(live.admin, "store_staff", location_ids=[store])
    page = await signed_in(browser, live.server.base_url, key["key"], PHONE)
    positions: list[str] = []  # given by the writes' answers
    sent: list[str] = []  # sent back with the requests
    page.on("response", lambda r: positions.extend(
        [r.headers["stockline-position"]] if "stockline-position" in r.headers else []))
    page.on("request", lambda r: sent.extend(
        [r.headers["stockline-read-after"]] if "stockline-read-after" in r.headers else []))
    try:
        await show(page, "accuracy")
        await page.get_by_label("SKU").fill(sku)
        await page.get_by_label("Units on the shelf").fill("7")
        await page.get_by_role("button", name="Report a discrepancy").click()
        task = page.locator("#tasks li", has_text=sku)
        await task.wait_for(timeout=WAIT_MS)
        await screenshot(page, tmp_path, f"dashboard-accuracy-task-{backend}", full_page=True)
        await task.get_by_label("Units counted").fill("7")
        await task.get_by_role("button", name="Complete count").click()
        # The page's answer, whichever it is (a refusal is shown in the same place).
        await page.wait_for_function(ANSWERED, timeout=WAIT_MS)
        said = await page.locator("#msg").inner_text()
        assert said.startswith("Counted 7"), said
        await page.locator("#tasks li", has_text=sku).wait_for(state="detached",
                                                                timeout=WAIT_MS)
        await show(page, f"level/{store}/{sku}")
        on_hand = await page.locator("#lv-on-hand").inner_text()
    finally:
        await page.close()
    assert on_hand == "7"
    # Read-your-writes: the page sends back the position of its last write (PostgreSQL)
    assert bool(positions) == (backend == "postgres")
    assert positions[-1] in sent if positions else not sent
    assert set(sent) <= set(positions)
    assert (await level(live.admin, store, sku))["on_hand"] == 7
    tasks = (await live.admin.get("/v1/count-tasks", params={"location_id": store})).json()
    (done,) = tasks["items"]
    assert (done["status"], done["system_quantity"], done["counted_quantity"]) == (
        "done", 10, 7)


@pytest.mark.parametrize("bad_gateway", [False, True], ids=["reset", "bad-gateway"])
async def test_a_page_cut_off_shows_every_sale_made_meanwhile_once(
        live: Live, browser: Browser, backend: str, tmp_path: Path, bad_gateway: bool) -> None:
    """The page's connection drops (a relay between the browser and the server resets it,
    and every reconnection) while sales are made; once the network is back, the page shows
    each of them, once: the browser's EventSource resumes with Last-Event-ID by itself;
    one that gave up (its reconnection answered 502) is reopened by the page after the
    last event id it handled."""
    store, (sku,) = await stocked(live.admin, quantity=50)
    key = await create_api_key(live.admin, "store_staff", location_ids=[store])
    async with relay_to(live.server.base_url) as network:
        page = await signed_in(browser, network.base_url, key["key"])
        try:
            await page.evaluate(WATCH)
            before = await record_sale(live.admin, store, [line(sku, 1, "2.00")])
            await _seen(page, before)
            network.cut(bad_gateway=bad_gateway)
            await page.wait_for_selector("#live.off", state="attached", timeout=WAIT_MS)
            cut = [await record_sale(live.admin, store, [line(sku, n + 1, "3.00")])
                   for n in range(CUT_SALES)]
            # the browser tries to reconnect meanwhile (after its retry time), and cannot
            await network.turned_away("/v1/events/stream", within=WAIT_MS / 1000)
            missed = await page.evaluate("(ids) => ids.filter((id) => window.seen[id])",
                                         [s["id"] for s in cut])
            network.join()
            for sale in cut:
                await _seen(page, sale)
            await page.wait_for_selector("#live.on", state="attached", timeout=WAIT_MS)
            after = await record_sale(live.admin, store, [line(sku, 1, "4.00")])
            await _seen(page, after)
            listed = await page.eval_on_selector_all("#ticker li", "(items) => items.map("
                                                     "(li) => li.dataset.sale)")
            shown = await page.locator("#sales-count").inner_text()
            await screenshot(page, tmp_path, f"dashboard-resumed-{backend}-{bad_gateway}")
        finally:
            await page.close()
    assert missed == []  # nothing came while the page was cut off
    ours = [before["id"], *(s["id"] for s in cut), after["id"]]
    assert [sale for sale in listed if sale in ours] == ours[::-1]  # newest first, no gap
    assert len(listed) == len(set(listed))  # and no duplicate
    assert shown == str(len(ours))


async def _seen(page: Page, sale: dict[str, Any]) -> None:
    await page.wait_for_function("(id) => window.seen[id] !== undefined", arg=sale["id"],
                                 timeout=WAIT_MS)
