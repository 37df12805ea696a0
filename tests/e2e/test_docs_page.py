"""The /docs page, as a person sees it: Debian's Chromium renders it from a live server.

Swagger UI 4 could not render an OpenAPI 3.1 document ("Unable to render this
definition"), and the page's Content-Security-Policy allows nothing from elsewhere: only a
browser shows whether the page works under both.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import IN_CI, LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def rendered(url: str, width: int, height: int) -> str:
    """The page's DOM after its scripts ran (headless Chromium, 10 s of page time)."""
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is required under CI (.ci/run installs Debian's package)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--window-size={width},{height}", "--virtual-time-budget=10000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)],
                         ids=["desktop", "phone"])
def test_the_docs_page_renders_the_api_in_a_browser(live_server: LiveServer, width: int,
                                                     height: int) -> None:
    page = rendered(f"{live_server.base_url}/docs", width, height)
    assert "Unable to render this definition" not in page
    assert "OAS 3.1" in page  # Swagger UI read the document's version
    for operation in ("/v1/sales/record", "/v1/inventory/{location_id}/{sku}",
                      "/v1/events/stream"):
        assert operation in page.replace("\u200b", ""), operation
