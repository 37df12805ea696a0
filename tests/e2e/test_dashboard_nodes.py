"""Two servers on one database, both backends: the Health page lists every serving
process (a heartbeat row each), and a server that stops leaves the list; a dashboard
session signed out or whose key is revoked on one node is refused on the other at once."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import httpx

from tests.browser import chromium, screenshot
from tests.conftest import Databases, start_server, stop_server
from tests.dashboard_support import DESKTOP, PHONE, WAIT_MS, show, signed_in
from tests.factories import create_api_key, random_code


async def _names(base_url: str, key: str) -> dict[str, dict]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30,
                                 headers={"X-API-Key": key}) as admin:
        response = await admin.get("/v1/admin/status")
    assert response.status_code == 200, response.text
    return {node["name"]: node for node in response.json()["nodes"]}


async def _until(base_url: str, key: str, check: object) -> dict[str, dict]:
    """The node list once ``check(names)`` holds (heartbeats come every few seconds)."""
    for _ in range(300):
        names = await _names(base_url, key)
        if check(names):  # type: ignore[operator]
            return names
        await asyncio.sleep(0.1)
    raise AssertionError(f"the node list never settled: {names}")


async def test_the_health_page_lists_every_live_node(
        backend: str, databases: Databases, tmp_path: Path) -> None:
    url = await databases.new(backend)
    a_name, b_name = random_code("NODE-A"), random_code("NODE-B")
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    a = start_server(url, tmp_path / "a", extra_env={"STOCKLINE_NODE_NAME": a_name})
    try:
        b = start_server(url, tmp_path / "b", extra_env={"STOCKLINE_NODE_NAME": b_name})
        try:
            both = await _until(a.base_url, a.admin_key, lambda n: {a_name, b_name} <= set(n))
            from_b = await _names(b.base_url, b.admin_key)
            listed = []
            async with chromium() as browser:
                for viewport in (DESKTOP, PHONE):
                    page = await signed_in(browser, a.base_url, a.admin_key, viewport)
                    try:
                        await show(page, "health")
                        listed.append(await page.locator("#nodes").inner_text(
                            timeout=WAIT_MS))
                        await screenshot(page, tmp_path, f"dashboard-health-nodes-{backend}-"
                                         f"{viewport['width']}", full_page=True)
                    finally:
                        await page.close()
        finally:
            stop_server(b)
        after = await _until(a.base_url, a.admin_key, lambda n: b_name not in n)
    finally:
        stop_server(a)
    assert [both[a_name]["this_node"], both[b_name]["this_node"]] == [True, False]
    assert [from_b[a_name]["this_node"], from_b[b_name]["this_node"]] == [False, True]
    assert all(both[n]["started_at"] and both[n]["last_seen"] for n in (a_name, b_name))
    assert sum(node["leads_relay"] for node in both.values()) <= 1
    assert all(a_name in text and b_name in text and "(this node)" in text
               for text in listed)
    assert a_name in after  # the stopped one left; the other stays



async def test_signing_out_or_revoking_on_one_node_ends_the_session_on_another_at_once(
        backend: str, databases: Databases, tmp_path: Path) -> None:
    """Node B keeps keys in its cache for a minute, and still accepts the revoked key
    itself; the sessions are refused at once, as their rows are gone."""
    url = await databases.new(backend)
    shared = {"STOCKLINE_SESSION_SECRET": secrets.token_urlsafe(32)}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    a = start_server(url, tmp_path / "a", extra_env=shared)
    try:
        b = start_server(url, tmp_path / "b",
                         extra_env={**shared, "STOCKLINE_KEY_CACHE_SECONDS": "60"})
        try:
            async with httpx.AsyncClient(base_url=a.base_url, timeout=30,
                                         headers={"X-API-Key": a.admin_key}) as admin:
                key = await create_api_key(admin, "manager")
                one, two = [await _signed_in(b.base_url, key["key"]) for _ in range(2)]
                assert await _read(b.base_url, one) == await _read(b.base_url, two) == 200
                assert await _read(b.base_url, key["key"], as_key=True) == 200  # cached
                await _sign_out(a.base_url, one)
                signed_out = await _read(b.base_url, one)
                assert (await admin.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
                revoked = await _read(b.base_url, two)
                cached = await _read(b.base_url, key["key"], as_key=True)
        finally:
            stop_server(b)
    finally:
        stop_server(a)
    assert (signed_out, revoked) == (401, 401)
    assert cached == 200  # B had not seen the revocation of the key itself yet


async def _signed_in(base_url: str, key: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as browser:
        answer = await browser.post("/dashboard/session", data={"api_key": key})
    assert answer.status_code == 303, answer.text
    return answer.cookies["stockline_session"]


async def _read(base_url: str, credential: str, *, as_key: bool = False) -> int:
    headers = ({"X-API-Key": credential} if as_key
               else {"Cookie": f"stockline_session={credential}"})
    async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) as client:
        return (await client.get("/v1/inventory", params={"limit": 1})).status_code


async def _sign_out(base_url: str, cookie: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30,
                                 cookies={"stockline_session": cookie}) as browser:
        page = (await browser.get("/dashboard")).text
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
        answer = await browser.post("/dashboard/sign-out", data={"csrf_token": token})
    assert answer.status_code == 303, answer.text
