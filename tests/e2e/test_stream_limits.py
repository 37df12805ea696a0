"""Streams and their caller's rate limit; event ids of any length, on SQLite and PostgreSQL.

Every WebSocket message takes a token from its key's bucket, as a request does; a message
over the limit gets a ``rate_limited`` error with ``retry_after`` and changes nothing, and a
socket that goes on sending regardless is closed (1008). A replay (over WebSocket or SSE)
costs one token a page of 500 events after the first, what reading those pages from
``GET /v1/events`` costs: over the limit, it stops with ``rate_limited`` and the last id
sent, from where the client resumes later.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.conftest import LiveServer
from tests.factories import (
    assert_problem,
    insert_api_key,
    open_event_stream,
    receive,
    stocked,
    wait_for_log,
)

REPLAY_PAGE = 500


@pytest.fixture
async def live(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key},
                                 timeout=httpx.Timeout(30.0)) as client:
        yield client


def _ws_url(server: LiveServer) -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/events/ws"


async def _next(ws: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def test_every_websocket_message_takes_a_token_and_waits_out_the_limit(
        live_server: LiveServer, server_database_url: str) -> None:
    slow = await insert_api_key(server_database_url, "manager", rate_limit=1.0)  # 2 at once
    async with websockets.connect(_ws_url(live_server),
                                  additional_headers={"X-API-Key": slow.key}) as ws:
        for _ in range(6):
            await ws.send(json.dumps({"action": "unsubscribe"}))
        answers = [await _next(ws) for _ in range(6)]
        refused = [a for a in answers if a["type"] == "error"]
        assert len(refused) >= 3, answers  # a bucket of two, refilled at one a second
        assert all(a["code"] == "rate_limited" and a["retry_after"] >= 1 for a in refused)
        await asyncio.sleep(max(a["retry_after"] for a in refused) + 0.2)
        await ws.send(json.dumps({"action": "unsubscribe"}))
        assert await _next(ws) == {"type": "unsubscribed"}  # served again once refilled


async def test_a_socket_that_keeps_sending_over_its_limit_is_closed(
        live_server: LiveServer, server_database_url: str) -> None:
    slow = await insert_api_key(server_database_url, "manager", rate_limit=1.0)
    async with websockets.connect(_ws_url(live_server),
                                  additional_headers={"X-API-Key": slow.key}) as ws:
        with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 - send until closed
            for _ in range(200):
                await ws.send(json.dumps({"action": "subscribe", "after": 0}))
                await asyncio.sleep(0.01)
            while True:
                await _next(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def _many_events(live: httpx.AsyncClient, count: int) -> tuple[str, list[dict[str, Any]]]:
    """A new store whose log holds at least ``count`` events."""
    store, (sku,) = await stocked(live, quantity=1)
    gate = asyncio.Semaphore(8)

    async def one() -> None:
        async with gate:
            await receive(live, store, sku, 1)

    await asyncio.gather(*(one() for _ in range(count)))
    return store, await wait_for_log(live, count, within=60.0, location_id=store)


async def test_a_replay_costs_a_token_a_page_and_stops_at_the_limit_where_it_got_to(
        live: httpx.AsyncClient, live_server: LiveServer, server_database_url: str) -> None:
    store, logged = await _many_events(live, REPLAY_PAGE + 20)
    first_page = logged[REPLAY_PAGE - 1]["id"]
    on_socket = await insert_api_key(server_database_url, "manager", rate_limit=0.5)  # 1 token
    async with websockets.connect(_ws_url(live_server),
                                  additional_headers={"X-API-Key": on_socket.key}) as ws:
        await ws.send(json.dumps({"action": "subscribe", "location_id": [store], "after": 0}))
        assert (await _next(ws))["type"] == "subscribed"
        replayed = [(await _next(ws))["event"]["id"] for _ in range(REPLAY_PAGE)]
        assert replayed == [e["id"] for e in logged[:REPLAY_PAGE]]
        stopped = await _next(ws)
        assert (stopped["type"], stopped["code"]) == ("error", "rate_limited"), stopped
        assert stopped["last_id"] == first_page and stopped["retry_after"] >= 1
        with pytest.raises(TimeoutError):  # the socket stays open; the replay has ended
            await _next(ws, 0.5)

    on_sse = await insert_api_key(server_database_url, "manager", rate_limit=0.5)
    async with open_event_stream(live, {"location_id": store},
                                 {"X-API-Key": on_sse.key, "Last-Event-ID": "0"}) as stream:
        assert [e["id"] for e in await stream.events(REPLAY_PAGE)] == replayed
        close = await stream.next()
        assert close is not None and close.event == "close", close
        assert close.json()["code"] == "rate_limited"
        assert close.json()["last_id"] == first_page
        assert await stream.next() is None


@pytest.mark.parametrize("digits", [20, 4_301, 10_000])
async def test_an_event_id_of_any_length_is_a_422(client: httpx.AsyncClient,
                                                  digits: int) -> None:
    huge = "9" * digits
    assert_problem(await client.get("/v1/events/stream", headers={"Last-Event-ID": huge}),
                   422, "validation_error")
    for params in ({"cursor": huge}, {"after": huge}):
        assert_problem(await client.get("/v1/events", params=params), 422, "validation_error")


async def test_a_subscribe_after_a_huge_number_is_an_invalid_message(
        live_server: LiveServer) -> None:
    async with websockets.connect(_ws_url(live_server),
                                  additional_headers={"X-API-Key": live_server.admin_key}) as ws:
        await ws.send('{"action": "subscribe", "after": ' + "9" * 5_000 + "}")
        assert (await _next(ws))["code"] == "invalid_message"
        await ws.send(json.dumps({"action": "subscribe"}))
        assert (await _next(ws))["type"] == "subscribed"  # the socket goes on
