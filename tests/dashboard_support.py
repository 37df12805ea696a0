"""What the dashboard's browser tests share: a server, a browser, a signed-in page."""

from __future__ import annotations

from playwright.async_api import Browser, Page

DASHBOARD = "/dashboard"
WAIT_MS = 20_000  # for a page to settle on a loaded machine (not a latency bound)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

async def signed_in(browser: Browser, base_url: str, key: str,
                    viewport: dict[str, int] = DESKTOP) -> Page:
    """A new page signed in with ``key`` on the dashboard's own form."""
    page = await browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    await sign_in(page, base_url, key)
    return page


async def sign_in(page: Page, base_url: str, key: str) -> None:
    """Sign ``page`` in with ``key`` on the dashboard's own form, and wait for it to draw."""
    await page.goto(base_url + DASHBOARD)
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await ready(page)


async def ready(page: Page) -> None:
    """Wait for the page's view to have drawn its data, and its event stream to be open."""
    await page.wait_for_selector("#view[data-ready=true]", state="attached",
                                 timeout=WAIT_MS)
    await page.wait_for_selector("#live.on", state="attached", timeout=WAIT_MS)

async def show(page: Page, route: str) -> None:
    """Go to one page of the dashboard (``network``, ``level/LOC/SKU``, ...)."""
    await page.evaluate("(hash) => { const view = document.querySelector('#view'); "
                        "view.removeAttribute('data-ready'); view.dataset.page = ''; "
                        "location.hash = hash; }", route)
    await page.wait_for_function(
        "(name) => document.querySelector('#view').dataset.page === name "
        "&& document.querySelector('#view').dataset.ready === 'true'",
        arg=route.split("/")[0], timeout=WAIT_MS)
