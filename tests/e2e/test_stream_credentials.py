"""Open streams end when their credential stops being accepted, on every node.

Two ``stockline serve`` processes share one database (SQLite and PostgreSQL), each with a
key cache of ``CACHE_S`` seconds. A key is revoked through node A while its SSE stream or
WebSocket is open on node B: the stream ends with ``credential_revoked`` (SSE: an ``event:
close``; WebSocket: an error, then close code 4401) within the cache time. A key that
expires ends its streams with ``credential_expired``. Every WebSocket message checks the
credential again: a revoked key cannot re-subscribe and replay the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.conftest import Databases, LiveServer, start_server, stop_server
from tests.factories import (
    EventStream,
    SseMessage,
    create_api_key,
    open_event_stream,
    random_location,
    stocked,
)

pytestmark = pytest.mark.slow

CACHE_S = 2.0
# The stream must end within the cache time; the deadline only allows for a loaded machine.
DEADLINE_S = CACHE_S + 8.0
EXPIRES_IN_S = 6.0  # time enough to open both streams on a loaded machine


@dataclass(frozen=True)
class Nodes:
    a: LiveServer
    b: LiveServer


@pytest.fixture(scope="module")
async def nodes(backend: str, databases: Databases,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Nodes]:
    url = await databases.new(backend)
    env = {"STOCKLINE_KEY_CACHE_SECONDS": str(CACHE_S)}
    first = start_server(url, tmp_path_factory.mktemp("node-a"), extra_env=env)
    try:
        second = start_server(url, tmp_path_factory.mktemp("node-b"), extra_env=env)
        try:
            yield Nodes(first, second)
        finally:
            stop_server(second)
    finally:
        stop_server(first)


def _client(node: LiveServer, key: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=node.base_url,
                             headers={"X-API-Key": key or node.admin_key},
                             timeout=httpx.Timeout(30.0))


def _ws_url(node: LiveServer) -> str:
    return node.base_url.replace("http://", "ws://") + "/v1/events/ws"


async def _next(ws: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def _closing(stream: EventStream, within: float) -> SseMessage:
    """The stream's next message that is not a change event (events may still arrive
    before the close), within ``within`` seconds in all."""
    async with asyncio.timeout(within):
        while True:
            message = await stream.next(within)
            assert message is not None, "the stream ended without a close event"
            if not message.change:
                return message


async def _end_of(ws: ClientConnection, within: float) -> tuple[list[dict[str, Any]], int]:
    """Every message until the server closes the socket (within ``within`` seconds in
    all), and the close code."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 - read until the close
            while True:
                seen.append(await _next(ws, within))
    assert closed.value.rcvd is not None, closed.value
    return seen, closed.value.rcvd.code


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_revoking_a_key_on_one_node_ends_its_sse_stream_on_the_other(
        nodes: Nodes) -> None:
    async with _client(nodes.a) as a:
        store, (sku,) = await stocked(a, quantity=5)
        key = await create_api_key(a, "store_staff", location_ids=[store])
        async with _client(nodes.b, key["key"]) as b, \
                open_event_stream(b, {"location_id": store}) as stream:
            assert (await a.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
            revoked = time.monotonic()
            close = await _closing(stream, DEADLINE_S)
            _report(f"SSE closed {close.at - revoked:.2f} s after the revocation on the "
                    f"other node (key cache {CACHE_S} s)")
            assert close.event == "close", close
            body = close.json()
            assert body["code"] == "credential_revoked" and body["last_id"] >= stream.after
            assert await stream.next(5.0) is None  # and the stream has ended


async def test_revoking_a_key_on_one_node_closes_its_websocket_on_the_other(
        nodes: Nodes) -> None:
    async with _client(nodes.a) as a:
        key = await create_api_key(a, "manager")
        async with websockets.connect(_ws_url(nodes.b),
                                      additional_headers={"X-API-Key": key["key"]}) as ws:
            await ws.send(json.dumps({"action": "subscribe"}))
            assert (await _next(ws))["type"] == "subscribed"
            assert (await a.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
            revoked = time.monotonic()
            seen, code = await _end_of(ws, DEADLINE_S)
            _report(f"WebSocket closed {time.monotonic() - revoked:.2f} s after the "
                    f"revocation on the other node (key cache {CACHE_S} s)")
    assert code == 4401
    assert [m["code"] for m in seen if m["type"] == "error"] == ["credential_revoked"]


async def test_a_revoked_key_cannot_resubscribe_and_replay_over_its_open_socket(
        nodes: Nodes) -> None:
    """The revoking node forgets the key at once; the next message is checked with it."""
    async with _client(nodes.a) as a:
        store, _ = await stocked(a, quantity=5)
        key = await create_api_key(a, "manager")
        async with websockets.connect(_ws_url(nodes.a),
                                      additional_headers={"X-API-Key": key["key"]}) as ws:
            await ws.send(json.dumps({"action": "unsubscribe"}))
            assert (await _next(ws)) == {"type": "unsubscribed"}
            assert (await a.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
            with contextlib.suppress(ConnectionClosed):  # closed meanwhile: as good
                await ws.send(json.dumps({"action": "subscribe", "location_id": [store],
                                          "after": 0}))
            seen, code = await _end_of(ws, DEADLINE_S)
    assert code == 4401
    assert [m["type"] for m in seen] == ["error"], seen  # no subscription, no replay
    assert seen[0]["code"] == "credential_revoked"


async def test_a_key_that_expires_ends_its_streams(nodes: Nodes) -> None:
    async with _client(nodes.a) as a:
        store = random_location()
        key = await create_api_key(a, "manager", expires_at=_in(EXPIRES_IN_S))
        async with _client(nodes.b, key["key"]) as b, \
                open_event_stream(b, {"location_id": store}) as stream, \
                websockets.connect(_ws_url(nodes.b),
                                   additional_headers={"X-API-Key": key["key"]}) as ws:
            await ws.send(json.dumps({"action": "subscribe"}))
            assert (await _next(ws))["type"] == "subscribed"
            close = await _closing(stream, DEADLINE_S + EXPIRES_IN_S)
            seen, code = await _end_of(ws, DEADLINE_S)
    assert close.event == "close" and close.json()["code"] == "credential_expired"
    assert code == 4401
    assert [m["code"] for m in seen if m["type"] == "error"] == ["credential_expired"]


async def test_a_ticket_from_one_node_opens_a_stream_on_the_other_that_ends_with_its_key(
        nodes: Nodes) -> None:
    """Tickets live in the shared database: any node redeems them. The stream a ticket
    opened checks the key it was issued for, as a stream opened with the key would."""
    async with _client(nodes.a) as a:
        store, _ = await stocked(a, quantity=5)
        key = await create_api_key(a, "store_staff", location_ids=[store])
        answer = await a.post("/v1/events/tickets", headers={"X-API-Key": key["key"]})
        assert answer.status_code == 201, answer.text
        async with httpx.AsyncClient(base_url=nodes.b.base_url, timeout=30) as b, \
                open_event_stream(b, {"ticket": answer.json()["ticket"]}) as stream:
            assert (await a.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
            close = await _closing(stream, DEADLINE_S)
            assert close.event == "close", close
            assert close.json()["code"] == "credential_revoked"
            assert await stream.next(5.0) is None


async def test_a_ticket_of_a_revoked_key_opens_nothing(nodes: Nodes) -> None:
    async with _client(nodes.a) as a:
        key = await create_api_key(a, "manager")
        answer = await a.post("/v1/events/tickets", headers={"X-API-Key": key["key"]})
        assert (await a.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
        async with httpx.AsyncClient(base_url=nodes.a.base_url, timeout=30) as anonymous:
            refused = await anonymous.get("/v1/events/stream",
                                          params={"ticket": answer.json()["ticket"]})
    assert refused.status_code == 401, refused.text
