"""The dashboard's session on the event stream, both backends: the stream opened with the
session cookie resumes after ``Last-Event-ID`` with every event of the key's store and no
other; the cookie is refused from another origin's page; a key signed in on the form
reads through the REST API as itself and nothing more; signing out, or revoking the key,
ends the session for every copy of its cookie (and its open stream)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import LiveServer
from tests.factories import (
    SseMessage,
    as_key,
    create_api_key,
    event_log,
    line,
    record_sale,
    sse_messages,
    stocked,
)


async def _session(server: LiveServer, key: str) -> str:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as browser:
        answer = await browser.post("/dashboard/session", data={"api_key": key})
    assert answer.status_code == 303, answer.text
    return answer.cookies["stockline_session"]


def _csrf(page: httpx.Response) -> str:
    return page.text.split('name="csrf-token" content="')[1].split('"')[0]


async def _sign_out(server: LiveServer, cookie: str) -> None:
    """Sign out as the page's button does (its form carries the CSRF token)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                 cookies={"stockline_session": cookie}) as browser:
        token = _csrf(await browser.get("/dashboard"))
        answer = await browser.post("/dashboard/sign-out", data={"csrf_token": token},
                                    headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 303, answer.text
    assert 'stockline_session=""' in answer.headers["set-cookie"]


async def _logged(client: httpx.AsyncClient, store: str, sales: set[str]
                  ) -> list[dict[str, Any]]:
    """The store's event log, once it holds the events of ``sales`` (the relay moves
    committed changes into the log a moment after their commit)."""
    for _ in range(300):
        logged = await event_log(client, location_id=store)
        if sales <= {e["data"].get("sale_id") for e in logged}:
            return logged
        await asyncio.sleep(0.1)
    raise AssertionError("the sales' events never reached the log")


async def test_the_stream_resumes_with_the_session_after_the_last_event_id(
        live_server: LiveServer, live: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(live, quantity=20)
    other, (other_sku,) = await stocked(live, quantity=20)
    key = await create_api_key(live, "store_staff", location_ids=[store])
    cookie = await _session(live_server, key["key"])
    first = await record_sale(live, store, [line(sku)])
    await record_sale(live, other, [line(other_sku)])
    later = [await record_sale(live, store, [line(sku)]) for _ in range(2)]
    logged = await _logged(live, store, {sale["id"] for sale in (first, *later)})
    (resume_at,) = [e["id"] for e in logged if e["data"].get("sale_id") == first["id"]]
    expected = [e["id"] for e in logged if e["id"] > resume_at]
    got: list[int] = []
    headers = {"Cookie": f"stockline_session={cookie}", "Last-Event-ID": str(resume_at),
               "Sec-Fetch-Site": "same-origin"}
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=30) as browser, \
            browser.stream("GET", "/v1/events/stream", headers=headers) as stream:
        assert stream.status_code == 200, await stream.aread()

        async def read() -> None:
            async for message in sse_messages(stream):
                if message.change:
                    got.append(int(message.id or 0))
                    assert message.json()["location_id"] == store
                if got and got[-1] >= expected[-1]:
                    return

        await asyncio.wait_for(read(), timeout=30)
    assert got == expected  # every event of its store after the id, in order, no other
    assert {later[0]["id"], later[1]["id"]} <= {
        e["data"].get("sale_id") for e in logged if e["id"] in got}


async def test_the_session_cookie_is_refused_from_another_origin(
        live_server: LiveServer, live: httpx.AsyncClient) -> None:
    key = await create_api_key(live, "manager")
    cookie = await _session(live_server, key["key"])
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=30,
                                 cookies={"stockline_session": cookie}) as browser:
        own = await browser.get("/v1/inventory", params={"limit": 1})
        same_site = await browser.get("/v1/inventory", headers={"Sec-Fetch-Site": "same-site"})
        foreign = await browser.get("/v1/inventory",
                                    headers={"Origin": "http://elsewhere.example"})
        browser.cookies.set("stockline_session", cookie[:-3] + "AAA")
        altered = await browser.get("/v1/inventory")
    assert own.status_code == 200
    for answer in (same_site, foreign, altered):
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"


async def test_a_session_acts_as_its_key_and_no_more(
        live_server: LiveServer, live: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(live, quantity=5)
    other, _ = await stocked(live, quantity=5)
    key = await create_api_key(live, "store_staff", location_ids=[store])
    cookie = await _session(live_server, key["key"])
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=30,
                                 cookies={"stockline_session": cookie}) as browser:
        token = _csrf(await browser.get("/dashboard"))
        mine = await browser.get("/v1/sales", params={"location_id": store})
        theirs = await browser.get("/v1/sales", params={"location_id": other})
        keys = await browser.get("/v1/api-keys")
        sold = await browser.post("/v1/sales/record", headers={"X-CSRF-Token": token},
                                  json={"location_id": store, "lines": [line(sku)]})
        levels = await browser.get("/v1/inventory", params={"limit": 500})
        summed = await browser.get("/v1/inventory/by-location")
        their_level = await browser.get("/v1/inventory", params={"location_id": other})
    by_key = await as_key(live, key["key"], "GET", "/v1/sales", params={"location_id": other})
    assert (mine.status_code, theirs.status_code, keys.status_code) == (200, 403, 403)
    assert theirs.status_code == by_key.status_code
    assert sold.status_code == 201 and sold.json()["actor"] == key["name"]
    # Stock: the key itself may read any location's over REST; its session, its own only.
    key_reads = await as_key(live, key["key"], "GET", "/v1/inventory",
                             params={"location_id": other})
    assert key_reads.status_code == 200 and key_reads.json()["items"]
    assert {r["location_id"] for r in levels.json()["items"]} == {store}
    assert [r["location_id"] for r in summed.json()["items"]] == [store]
    assert their_level.status_code == 403


async def _reads(server: LiveServer, cookie: str) -> tuple[int, bool]:
    """What a copy of the cookie gets: the status of a REST read, and whether /dashboard
    shows the signed-in page (else the sign-in form)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                 cookies={"stockline_session": cookie}) as copy:
        read = await copy.get("/v1/inventory", params={"limit": 1})
        page = await copy.get("/dashboard")
    return read.status_code, 'name="csrf-token"' in page.text


async def test_a_copied_cookie_is_refused_once_its_session_signs_out(
        live_server: LiveServer, live: httpx.AsyncClient) -> None:
    store, _ = await stocked(live, quantity=5)
    key = await create_api_key(live, "store_staff", location_ids=[store])
    cookie, other = (await _session(live_server, key["key"]),
                     await _session(live_server, key["key"]))
    assert await _reads(live_server, cookie) == (200, True)
    headers = {"Cookie": f"stockline_session={cookie}", "Sec-Fetch-Site": "same-origin"}
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=30) as browser, \
            browser.stream("GET", "/v1/events/stream", params={"location_id": store},
                           headers=headers) as stream:
        assert stream.status_code == 200
        await _sign_out(live_server, cookie)
        refused = await _reads(live_server, cookie)

        async def closing() -> SseMessage:
            async for message in sse_messages(stream):
                if message.event == "close":
                    return message
            raise AssertionError("the stream ended without saying why")

        closed = await asyncio.wait_for(closing(), timeout=30)
    assert refused == (401, False)
    assert closed.json()["code"] == "credential_revoked"
    assert "session has ended" in closed.json()["reason"]
    assert await _reads(live_server, other) == (200, True)  # the key's other session lasts


async def test_revoking_the_key_ends_the_sessions_it_signed_in(
        live_server: LiveServer, live: httpx.AsyncClient) -> None:
    key = await create_api_key(live, "manager")
    cookies = [await _session(live_server, key["key"]) for _ in range(2)]
    assert [await _reads(live_server, c) for c in cookies] == [(200, True)] * 2
    assert (await live.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
    assert [await _reads(live_server, c) for c in cookies] == [(401, False)] * 2
