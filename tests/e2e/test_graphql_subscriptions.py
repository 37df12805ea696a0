"""``subscription { events }`` over graphql-transport-ws against a live server, on SQLite
and PostgreSQL: a sale made over REST arrives; a new subscription with ``after`` resumes
with what it missed and nothing before; the stream's scope rules refuse another store."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import LiveServer
from tests.factories import create_api_key, insert_api_key, line, record_sale, stocked

PROTOCOL = "graphql-transport-ws"
EVENTS = """
subscription ($locations: [String!], $types: [String!], $after: EventId) {
  events(locationIds: $locations, types: $types, after: $after) {
    __typename
    ... on Subscribed { after }
    ... on Event { id type locationId data }
    ... on EventReset { reason resumesAfter }
  }
}"""
WAIT_S = 30  # a loaded machine's relay rounds, not an idle one's


@contextlib.asynccontextmanager
async def connected(server: LiveServer, key: str) -> AsyncIterator[ClientConnection]:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[PROTOCOL],  # type: ignore[list-item]
                                  additional_headers={"X-API-Key": key}) as ws:
        assert ws.subprotocol == PROTOCOL
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT_S)) == {
            "type": "connection_ack"}
        yield ws


async def subscribe(ws: ClientConnection, variables: dict[str, Any]) -> None:
    await ws.send(json.dumps({"id": "1", "type": "subscribe",
                              "payload": {"query": EVENTS, "variables": variables}}))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    return message


async def notice(ws: ClientConnection) -> dict[str, Any]:
    """The next notice of the subscription (its ``data.events``)."""
    message = await receive(ws)
    assert message["type"] == "next" and "errors" not in message["payload"], message
    found: dict[str, Any] = message["payload"]["data"]["events"]
    return found


@pytest.fixture
async def admin(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=30,
                                 headers={"X-API-Key": live_server.admin_key}) as client:
        yield client


async def test_a_sale_over_rest_arrives_and_a_resumed_subscription_gets_what_it_missed(
        live_server: LiveServer, admin: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(admin, quantity=10)
    wanted = {"locations": [store], "types": ["sale.recorded"]}
    async with connected(live_server, live_server.admin_key) as ws:
        await subscribe(ws, wanted)
        opened = await notice(ws)
        assert opened["__typename"] == "Subscribed" and opened["after"] >= 0
        first = await record_sale(admin, store, [line(sku, 2)])
        event = await notice(ws)
        assert event["__typename"] == "Event" and event["type"] == "sale.recorded"
        assert event["locationId"] == store and event["data"]["sale_id"] == first["id"]
        assert event["id"] > opened["after"]
    # while nobody listens: two more sales; a new subscription after the first event gets
    # exactly those, replayed from the log, then goes on live
    missed = [(await record_sale(admin, store, [line(sku)]))["id"] for _ in range(2)]
    async with connected(live_server, live_server.admin_key) as ws:
        await subscribe(ws, {**wanted, "after": event["id"]})
        assert await notice(ws) == {"__typename": "Subscribed", "after": event["id"]}
        replayed = [await notice(ws) for _ in missed]
        assert [e["data"]["sale_id"] for e in replayed] == missed
        ids = [e["id"] for e in replayed]
        assert ids == sorted(ids) and ids[0] > event["id"]
        live = await record_sale(admin, store, [line(sku)])
        after_replay = await notice(ws)
        assert after_replay["data"]["sale_id"] == live["id"] and after_replay["id"] > ids[-1]


async def test_a_store_key_cannot_subscribe_to_another_stores_events(
        live_server: LiveServer, admin: httpx.AsyncClient) -> None:
    home, _ = await stocked(admin, quantity=1)
    away, _ = await stocked(admin, quantity=1)
    key = (await create_api_key(admin, "store_staff", location_ids=[home]))["key"]
    async with connected(live_server, key) as ws:
        await subscribe(ws, {"locations": [away]})
        message = await receive(ws)
        errors = (message["payload"] if message["type"] == "error"
                  else message["payload"]["errors"])
        assert [e["extensions"]["code"] for e in errors] == ["forbidden"], message


async def test_a_subscription_needs_a_credential_at_the_handshake(
        live_server: LiveServer) -> None:
    url = live_server.base_url.replace("http://", "ws://") + "/graphql"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(url, subprotocols=[PROTOCOL]):  # type: ignore[list-item]
            pass
    assert refused.value.response.status_code == 401
    # a browser cannot set headers on a WebSocket: the key may come as ?api_key=
    async with websockets.connect(f"{url}?api_key={live_server.admin_key}",
                                  subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT_S)) == {
            "type": "connection_ack"}


async def test_each_operation_over_the_socket_takes_a_token_of_the_rate_limit(
        live_server: LiveServer, server_database_url: str) -> None:
    # one request a second, a bucket of two: the third operation at once is refused
    made = await insert_api_key(server_database_url, "manager", rate_limit=1.0)
    async with connected(live_server, made.key) as ws:
        for n in range(4):
            await ws.send(json.dumps({"id": f"q{n}", "type": "subscribe", "payload": {
                "query": "{ products(first: 1) { edges { cursor } } }"}}))
        answers: dict[str, list[dict[str, Any]]] = {}
        while len([m for found in answers.values() for m in found
                   if m["type"] in ("complete", "error")]) < 4:
            message = await receive(ws)
            answers.setdefault(message["id"], []).append(message)
    refused = [m for found in answers.values() for m in found
               if m["type"] == "error" or "errors" in m.get("payload", {})]
    assert refused, answers
    errors = [e for m in refused for e in (m["payload"] if m["type"] == "error"
                                           else m["payload"]["errors"])]
    assert {e["extensions"]["code"] for e in errors} == {"rate_limited"}, errors
    assert all(e["extensions"]["retryAfter"] >= 1 for e in errors), errors
