"""A real browser for the tests: Playwright driving the system's Chromium (Debian's
package; Playwright's own browser download is never used), and screenshots of what it saw.

Screenshots go to the test's own directory; with STOCKLINE_TEST_SHOTS_DIR set, a copy of
each goes there too, to look at after the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import IN_CI

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS_DIR = os.environ.get("STOCKLINE_TEST_SHOTS_DIR")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium (a test is skipped without one, or fails under CI)."""
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is required under CI (.ci/run installs Debian's package)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    async with async_playwright() as playwright:
        # --no-sandbox: the suite may run as root, where Chromium's sandbox will not start.
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, directory: Path, name: str, *,
                     full_page: bool = False) -> Path:
    """What the window shows (``full_page``: the whole page), as ``directory/name.png``
    (and a copy in STOCKLINE_TEST_SHOTS_DIR)."""
    path = directory / f"{name}.png"
    await page.screenshot(path=path, full_page=full_page)
    if SHOTS_DIR:
        await asyncio.to_thread(_copy, path, Path(SHOTS_DIR))
    return path


def _copy(path: Path, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, directory / path.name)
