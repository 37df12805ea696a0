"""Stream tickets: a key traded for a single-use, short-lived ticket that opens one event
stream (SSE or WebSocket) in place of the key, with the key's role and locations.

Streams need real sockets: these go through the live server (SQLite and PostgreSQL).
Ticket streams on another node, and ended by revoking the key: test_stream_credentials.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import update
from websockets.exceptions import InvalidStatus

from stockline.adapters.tables import stream_tickets
from tests.conftest import LiveServer
from tests.factories import (
    assert_problem,
    create_api_key,
    execute_sql,
    line,
    open_event_stream,
    record_sale,
    stocked,
)


@pytest.fixture
async def anonymous(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server that sends no credential of its own."""
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 timeout=httpx.Timeout(30.0)) as client:
        yield client


async def ticket_for(client: httpx.AsyncClient, key: str | None = None) -> str:
    headers = {"X-API-Key": key} if key else {}
    response = await client.post("/v1/events/tickets", headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"ticket", "expires_in"} and body["expires_in"] == 60, body
    assert "ratelimit-limit" in response.headers  # a request like any other: rate-limited
    return str(body["ticket"])


async def _stream_answer(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    """The answer to opening a stream that is expected to be refused."""
    async with client.stream("GET", "/v1/events/stream", params=params) as response:
        await response.aread()
        return response


async def test_a_ticket_opens_one_stream_then_is_spent(
        live: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(live, quantity=5)
    key = await create_api_key(live, "manager")
    ticket = await ticket_for(live, key["key"])
    async with open_event_stream(anonymous, {"ticket": ticket, "location_id": store,
                                             "types": "sale.recorded"}) as stream:
        sale = await record_sale(live, store, [line(sku)])
        (event,) = await stream.events(1)
        assert event["data"]["sale_id"] == sale["id"]
        again = await _stream_answer(anonymous, {"ticket": ticket})
    problem = assert_problem(again, 401, "unauthorized")
    assert "ticket" in problem["detail"]


async def test_an_expired_ticket_is_refused(live: httpx.AsyncClient,
                                            anonymous: httpx.AsyncClient,
                                            server_database_url: str) -> None:
    ticket = await ticket_for(live)
    await execute_sql(server_database_url, update(stream_tickets).where(
        stream_tickets.c.digest == hashlib.sha256(ticket.encode()).hexdigest()).values(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert_problem(await _stream_answer(anonymous, {"ticket": ticket}), 401, "unauthorized")


async def test_a_ticket_hears_only_what_its_key_may(live: httpx.AsyncClient,
                                                    anonymous: httpx.AsyncClient) -> None:
    mine, (sku,) = await stocked(live, quantity=5)
    other, (other_sku,) = await stocked(live, quantity=5)
    key = await create_api_key(live, "store_staff", location_ids=[mine])
    asking_more = await ticket_for(live, key["key"])
    refused = await _stream_answer(anonymous, {"ticket": asking_more, "location_id": other})
    assert_problem(refused, 403, "forbidden")
    ticket = await ticket_for(live, key["key"])
    async with open_event_stream(anonymous, {"ticket": ticket,
                                             "types": "sale.recorded"}) as stream:
        await record_sale(live, other, [line(other_sku)])
        sale = await record_sale(live, mine, [line(sku)])
        (event,) = await stream.events(1)  # the other store's sale came first, unheard
    assert (event["location_id"], event["data"]["sale_id"]) == (mine, sale["id"])


async def test_what_is_not_a_ticket_is_refused(live: httpx.AsyncClient,
                                               anonymous: httpx.AsyncClient) -> None:
    for bad in ("tk_" + "x" * 43, "", "sk_not_aticket", "tk_" + "x" * 200):
        assert_problem(await _stream_answer(anonymous, {"ticket": bad}), 401, "unauthorized")
    ticket = await ticket_for(live)
    both = await _stream_answer(live, {"ticket": ticket})  # the admin key beside it
    assert_problem(both, 401, "unauthorized")
    assert "not both" in both.json()["detail"]
    # Only the streams take one: anywhere else a ticket is no credential.
    elsewhere = await anonymous.get("/v1/products", params={"ticket": await ticket_for(live)})
    assert_problem(elsewhere, 401, "unauthorized")
    assert_problem(await anonymous.post("/v1/events/tickets"), 401, "unauthorized")


async def test_a_ticket_opens_one_websocket(live: httpx.AsyncClient,
                                            live_server: LiveServer) -> None:
    key = await create_api_key(live, "manager")
    ticket = await ticket_for(live, key["key"])
    url = live_server.base_url.replace("http://", "ws://") + f"/v1/events/ws?ticket={ticket}"
    async with websockets.connect(url, open_timeout=10) as ws:
        await ws.send('{"action": "subscribe", "types": ["sale.recorded"]}')
        assert '"subscribed"' in str(await ws.recv())
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, open_timeout=10):
            pass
    assert refused.value.response.status_code == 401
