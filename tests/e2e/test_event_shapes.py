"""Events are shaped by who hears them, as REST answers are, on SQLite and PostgreSQL.

A partner reads levels and the catalog but no sales history and no ledger: its
``inventory.changed`` events (stream, WebSocket, ``GET /v1/events``) carry the level as
``GET /v1/inventory`` shows it, without the movement (``delta``, ``cause``, ``reference``:
a sale's id and quantity), which only a principal who may read the ledger hears.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import LiveServer
from tests.factories import (
    create_api_key,
    line,
    open_event_stream,
    record_sale,
    stocked,
    wait_for_log,
)

MOVEMENT = {"delta", "cause", "reference"}
LEVEL = {"on_hand", "reserved", "available", "in_transit", "incoming", "reorder_point",
         "version"}


def _ws_url(server: LiveServer) -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/events/ws"


async def _log_as(client: httpx.AsyncClient, key: str, store: str) -> list[dict[str, Any]]:
    """The store's events as ``GET /v1/events`` answers them to ``key`` (one page)."""
    page = await client.get("/v1/events", params={"location_id": store, "limit": 500},
                            headers={"X-API-Key": key})
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def _first(found: Awaitable[list[dict[str, Any]]]) -> dict[str, Any]:
    return (await found)[0]


async def _event_of(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))["event"]
    return event


async def _until(event_id: int, heard: Callable[[], Awaitable[dict[str, Any]]]
                 ) -> dict[str, Any]:
    """The event ``event_id`` as a stream delivers it (those before it skipped)."""
    while (event := await heard())["id"] < event_id:
        pass
    return event


async def test_a_partner_hears_levels_but_not_the_sales_that_moved_them(
        live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key},
                                 timeout=httpx.Timeout(30.0)) as admin:
        store, (sku,) = await stocked(admin, quantity=5)
        partner = (await create_api_key(admin, "partner", location_ids=[store]))["key"]
        manager = (await create_api_key(admin, "manager"))["key"]
        as_partner = {"X-API-Key": partner}
        async with open_event_stream(admin, {"location_id": store}, as_partner) as stream, \
                websockets.connect(_ws_url(live_server),
                                   additional_headers=as_partner) as ws:
            await ws.send(json.dumps({"action": "subscribe", "location_id": [store]}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "subscribed"
            sale = await record_sale(admin, store, [line(sku, 2)])
            logged = await wait_for_log(admin, 3, location_id=store)
            full = [e for e in logged if e["type"] == "inventory.changed"][-1]
            # (the receipt's event may come first, had it not reached the server's hub yet)
            heard = await _until(full["id"], lambda: _first(stream.events(1)))
            socket = await _until(full["id"], lambda: _event_of(ws))
        assert full["data"]["reference"] == sale["id"]
        assert full["data"]["delta"] == -2 and full["data"]["cause"] == "sale"
        partner_log = await _log_as(admin, partner, store)
        manager_log = await _log_as(admin, manager, store)

    shaped = {**full, "data": {k: v for k, v in full["data"].items() if k not in MOVEMENT}}
    assert heard == socket == shaped == partner_log[-1]  # a partner hears no sale.recorded
    assert set(shaped["data"]) == LEVEL and shaped["data"]["on_hand"] == 3
    assert all(MOVEMENT.isdisjoint(e["data"]) for e in partner_log)
    assert full in manager_log  # a role that may read the ledger hears it whole
    assert [e["type"] for e in partner_log] == [e["type"] for e in manager_log
                                               if e["type"] != "sale.recorded"]
