"""Events: the log as a list, the SSE stream and the WebSocket, on SQLite and PostgreSQL.

Streams need real sockets: those tests go through the live server, or through a server of
their own ("tuned": a short heartbeat and a tiny subscriber queue, and a database the
tests may prune). The list and the refusals go through the in-process app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import delete, update
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from stockline.adapters.bus import EVERYTHING, EventFilter, EventRecord
from stockline.adapters.bus.memory import MemoryBus
from stockline.adapters.database import open_database
from stockline.adapters.feed import EventFeed, Idle, Opened
from stockline.adapters.hub import EventHub
from stockline.adapters.tables import events, relay_state
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.domain.commands import CreateProduct
from stockline.domain.events import Event
from stockline.entrypoints.http.schemas.events import EventType
from stockline.services import catalog
from stockline.services.executor import Caller
from tests.conftest import ADMIN_KEY, Databases, LiveServer, start_server, stop_server
from tests.factories import (
    EVENT_KEYS,
    assert_problem,
    create_product,
    create_store,
    error_fields,
    event_log,
    line,
    open_event_stream,
    random_location,
    receive,
    record_sale,
    sse_messages,
    stocked,
    wait_for_log,
    without_credentials,
)

HEARTBEAT_S = 0.3
# Room for a relay round or two of a loaded machine: a round's events arrive together, so
# a queue smaller than a round cuts off even a reader that keeps up.
QUEUE_SIZE = 100


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


@dataclass(frozen=True)
class Tuned:
    server: LiveServer
    database_url: str


@pytest.fixture(scope="module")
async def tuned(backend: str, databases: Databases,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Tuned]:
    url = await databases.new(backend)
    server = start_server(url, tmp_path_factory.mktemp("tuned"), extra_env={
        "STOCKLINE_STREAM_HEARTBEAT_SECONDS": str(HEARTBEAT_S),
        "STOCKLINE_STREAM_QUEUE_SIZE": str(QUEUE_SIZE)})
    try:
        yield Tuned(server, url)
    finally:
        stop_server(server)


@pytest.fixture
async def tuned_client(tuned: Tuned) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=tuned.server.base_url,
                                 headers={"X-API-Key": ADMIN_KEY},
                                 timeout=httpx.Timeout(30.0)) as client:
        yield client


def _ids(found: list[dict[str, Any]]) -> list[int]:
    return [e["id"] for e in found]


# -- the stream ------------------------------------------------------------------------------

async def test_each_change_arrives_once_as_the_logged_event_with_its_id(
        live: httpx.AsyncClient) -> None:
    store = random_location()
    async with open_event_stream(live, {"location_id": store}) as stream:
        await create_store(live, store)
        sku = (await create_product(live))["sku"]
        await receive(live, store, sku, 5)
        sale = await record_sale(live, store, [line(sku, 2)])
        logged = await wait_for_log(live, 3, location_id=store)
        received = await stream.events(3)
        assert await stream.quiet(0.3) == []
    assert received == logged  # the very events of the log, byte for byte the same JSON
    assert all(set(e) == EVENT_KEYS for e in received)
    assert _ids(received) == sorted(_ids(received)) and min(_ids(received)) > stream.after
    assert {e["type"] for e in received} == {"inventory.changed", "sale.recorded"}
    sold = next(e for e in received if e["type"] == "sale.recorded")
    assert sold["data"]["sale_id"] == sale["id"] and sold["location_id"] == store
    assert sold["occurred_at"].endswith("Z") and sold["sku"] is None
    after_sale = [e for e in received if e["type"] == "inventory.changed"][-1]
    assert (after_sale["sku"], after_sale["data"]["on_hand"]) == (sku, 3)


async def test_filters_by_locations_skus_and_types_live_and_replayed(
        live: httpx.AsyncClient) -> None:
    first, second = random_location(), random_location()
    x, y = (await create_product(live))["sku"], (await create_product(live))["sku"]
    Query = list[tuple[str, str | int]]
    filters: dict[str, tuple[Query, Callable[[dict[str, Any]], bool]]] = {
        "one location": ([("location_id", first)], lambda e: e["location_id"] == first),
        "two locations, sales only": (
            [("location_id", first), ("location_id", second), ("types", "sale.recorded")],
            lambda e: e["location_id"] in (first, second) and e["type"] == "sale.recorded"),
        "two skus, comma-separated": ([("sku", f"{x},{y}")], lambda e: e["sku"] in (x, y)),
        "sku, location and two types": (
            [("sku", x), ("location_id", second),
             ("types", "inventory.changed,inventory.low_stock")],
            lambda e: (e["sku"], e["location_id"]) == (x, second)
            and e["type"] in ("inventory.changed", "inventory.low_stock")),
    }
    async with contextlib.AsyncExitStack() as opened:
        streams = {name: await opened.enter_async_context(open_event_stream(live, query))
                   for name, (query, _) in filters.items()}
        for store in (first, second):
            await create_store(live, store)
            for sku in (x, y):
                await receive(live, store, sku, 10)
                await record_sale(live, store, [line(sku, 1)])
            await record_sale(live, store, [line(x, 1), line(y, 2)])
        ours = await wait_for_log(live, 18, location_id=f"{first},{second}")
        ours = sorted(ours + await event_log(live, sku=f"{x},{y}", types="product.changed"),
                      key=lambda e: e["id"])
        for name, (_, wanted) in filters.items():  # live, from the hub
            expected = [e for e in ours if wanted(e) and e["id"] > streams[name].after]
            assert expected, name
            assert await streams[name].events(len(expected)) == expected, name
            assert await streams[name].quiet(0.1) == [], name
    for name, (query, wanted) in filters.items():  # replayed from the log, and listed
        expected = [e for e in ours if wanted(e)]
        async with open_event_stream(live, [*query, ("after", 0)]) as replay:
            assert await replay.events(len(expected)) == expected, name
            assert await replay.quiet(0.1) == [], name
        page = (await live.get("/v1/events", params=[*query, ("after", 0),
                                                     ("limit", 500)])).json()
        assert page["items"] == expected, name


async def test_resume_with_last_event_id_replays_then_goes_live_without_gap(
        live: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(live, quantity=1)
    for _ in range(5):
        await receive(live, store, sku, 1)
    ids = _ids(await wait_for_log(live, 6, location_id=store))
    # Last-Event-ID wins over ?after=: a browser repeats the URL it first opened.
    async with open_event_stream(live, {"location_id": store, "after": ids[4]},
                                 headers={"Last-Event-ID": str(ids[1])}) as stream:
        assert stream.after == ids[1]
        assert _ids(await stream.events(4)) == ids[2:]
        await receive(live, store, sku, 1)
        (live_event,) = await stream.events(1)
        assert live_event["id"] > ids[-1] and live_event["data"]["on_hand"] == 7
        assert await stream.quiet(0.3) == []
    async with open_event_stream(live, {"location_id": store, "after": ids[3]}) as stream:
        assert _ids(await stream.events(3)) == [*ids[4:], live_event["id"]]
        assert await stream.quiet(0.2) == []


async def test_a_point_beyond_the_log_gets_a_reset_then_live_events(
        live: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(live, quantity=1)
    await wait_for_log(live, 1, location_id=store)
    far = 2**62
    async with open_event_stream(live, {"location_id": store},
                                 headers={"Last-Event-ID": str(far)}) as stream:
        reset = await stream.next()
        assert reset is not None and reset.event == "reset", reset
        body = reset.json()
        assert (body["reason"], body["requested_after"]) == ("ahead_of_log", far)
        assert reset.id == str(body["resumes_after"]) == str(stream.after)
        await receive(live, store, sku, 2)
        (event,) = await stream.events(1)
        assert event["id"] > body["resumes_after"] and event["data"]["on_hand"] == 3
    page = (await live.get("/v1/events", params={"after": far})).json()
    assert page["reset"]["reason"] == "ahead_of_log" and page["items"] == []


async def test_heartbeat_comments_keep_an_idle_stream_alive(tuned_client: httpx.AsyncClient
                                                            ) -> None:
    async with open_event_stream(tuned_client, {"location_id": random_location()}) as stream:
        started = time.monotonic()
        beats = []
        while len(beats) < 4:
            message = await stream.next(5 * HEARTBEAT_S, comments=True)
            assert message is not None and message.event == "comment", message
            assert message.data == "heartbeat"
            beats.append(message.at)
    gaps = [b - a for a, b in zip([started, *beats], beats, strict=False)]
    _report(f"heartbeat every {HEARTBEAT_S} s: gaps {[round(g, 2) for g in gaps]}")
    assert all(0.5 * HEARTBEAT_S < g < 4 * HEARTBEAT_S for g in gaps), gaps


async def test_a_reader_that_falls_behind_is_cut_off_with_a_reason_and_resumes(
        tuned_client: httpx.AsyncClient, tuned: Tuned) -> None:
    sku = (await create_product(tuned_client))["sku"]
    (created,) = await wait_for_log(tuned_client, 1, sku=sku)
    # A reader that stops reading: once the socket buffers are full (a few MB on loopback),
    # the server's writes to it block and its subscription fills. A reader that keeps
    # reading, beside it, is never cut off.
    async with httpx.AsyncClient(base_url=tuned.server.base_url,
                                 headers={"X-API-Key": ADMIN_KEY},
                                 timeout=httpx.Timeout(30.0)) as slow, slow.stream(
            "GET", "/v1/events/stream", params={"sku": sku}) as response, \
            open_event_stream(tuned_client, {"sku": sku}) as keeping_up:
        messages = sse_messages(response)
        assert (await anext(messages)).data.startswith("subscribed after ")
        attributes: dict[str, Any] = {f"a{n}": "x" * 200 for n in range(50)}
        changes = 800  # about 11 kB each: 8.8 MB unread (some 4 MB fit in socket buffers)
        for first in range(0, changes, 16):  # sixteen at a time: the HTTP work overlaps
            answers = await asyncio.gather(*(tuned_client.patch(
                f"/v1/products/{sku}", json={"attributes": {**attributes, "a0": f"{n:0200d}"}})
                for n in range(first, first + 16)))
            assert all(a.status_code == 200 for a in answers), answers[0].text
        logged = _ids(await wait_for_log(tuned_client, 1 + changes, sku=sku))[1:]
        assert _ids(await keeping_up.events(changes)) == logged
        received: list[int] = []
        async for message in messages:
            if message.change:
                received.append(int(message.id or 0))
            elif message.event != "comment":
                break
        assert message.event == "close", message
        closing = message.json()
        assert [m async for m in messages] == []  # and then the server ended the stream
    _report(f"slow reader: cut off after {len(received)} of {len(logged)} events: "
            f"{closing['reason']}")
    assert closing["code"] == "slow_consumer" and "Last-Event-ID" in closing["reason"]
    assert received == logged[:len(received)] and len(received) < len(logged) - QUEUE_SIZE
    assert closing["last_id"] == (received[-1] if received else created["id"])
    async with open_event_stream(tuned_client, {"sku": sku}, headers={
            "Last-Event-ID": str(closing["last_id"])}) as resumed:
        rest = await resumed.events(len(logged) - len(received), within=20)
        assert await resumed.quiet(0.2) == []
    assert received + _ids(rest) == logged


async def test_a_point_older_than_the_retention_gets_a_reset(tuned_client: httpx.AsyncClient,
                                                            tuned: Tuned) -> None:
    store, (sku,) = await stocked(tuned_client, quantity=1)
    for _ in range(4):
        await receive(tuned_client, store, sku, 1)
    ids = _ids(await wait_for_log(tuned_client, 5, location_id=store))
    await _prune_through(tuned.database_url, ids[2])  # as the relay's retention does
    async with open_event_stream(tuned_client, {"location_id": store},
                                 headers={"Last-Event-ID": str(ids[0])}) as stream:
        reset = await stream.next()
        assert reset is not None and reset.event == "reset", reset
        assert reset.id == str(ids[2]) and reset.json()["reason"] == "pruned"
        assert {k: reset.json()[k] for k in ("requested_after", "resumes_after")} == {
            "requested_after": ids[0], "resumes_after": ids[2]}
        assert _ids(await stream.events(2)) == ids[3:]
    async with open_event_stream(tuned_client, {"location_id": store},
                                 headers={"Last-Event-ID": str(ids[2])}) as stream:
        assert _ids(await stream.events(2)) == ids[3:]  # nothing missing: no reset
    page = (await tuned_client.get("/v1/events", params={"after": ids[0],
                                                          "location_id": store})).json()
    assert page["reset"] == {"reason": "pruned", "requested_after": ids[0],
                             "resumes_after": ids[2], "detail": page["reset"]["detail"]}
    assert _ids(page["items"]) == ids[3:]
    page = (await tuned_client.get("/v1/events", params={"after": ids[2],
                                                          "location_id": store})).json()
    assert page["reset"] is None and _ids(page["items"]) == ids[3:]


async def _prune_through(database_url: str, last: int) -> None:
    database = open_database(database_url)
    try:
        async with database.write.begin() as conn:
            await conn.execute(delete(events).where(events.c.id <= last))
            await conn.execute(update(relay_state).where(relay_state.c.name == "relay")
                               .values(pruned_through=last))
    finally:
        await database.dispose()


# -- refusals (in-process) ---------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/stream"])
async def test_bad_filters_and_points_are_refused(client: httpx.AsyncClient, path: str) -> None:
    for params, field in (({"types": "sale.recorded,no.such"}, "types"),
                          ({"location_id": "bad code!"}, "location_id"),
                          ({"sku": ["A", "B,C", "no/pe"]}, "sku"),
                          ({"after": -1}, "after"),
                          ({"after": "x"}, "after")):
        problem = assert_problem(await client.get(path, params=params), 422,
                                 "validation_error")
        assert error_fields(problem) == [field], (params, problem)
    assert_problem(await without_credentials(client, "GET", path), 401, "unauthorized")


async def test_a_malformed_last_event_id_is_refused(client: httpx.AsyncClient) -> None:
    for value in ("abc", "-3", "1.5", str(2**63)):
        problem = assert_problem(await client.get("/v1/events/stream",
                                                  headers={"Last-Event-ID": value}),
                                 422, "validation_error")
        assert error_fields(problem) == ["Last-Event-ID"], value


def test_every_event_type_of_the_domain_is_a_known_type() -> None:
    found, pending = set(), [Event]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if "TYPE" in vars(kind):
            found.add(kind.TYPE)
    assert found == {t.value for t in EventType}


# -- the list (in-process) ---------------------------------------------------------------------

async def test_the_list_pages_through_the_log_after_an_id(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    for _ in range(6):
        await receive(client, store, sku, 1)
    logged = await wait_for_log(client, 7, location_id=store)
    ids = _ids(logged)
    assert ids == sorted(ids) and all(set(e) == EVENT_KEYS for e in logged)
    first = (await client.get("/v1/events", params={"location_id": store, "limit": 3})).json()
    assert _ids(first["items"]) == ids[:3] and first["next_cursor"] == str(ids[2])
    assert first["reset"] is None
    by_cursor = (await client.get("/v1/events", params={
        "location_id": store, "limit": 3, "cursor": first["next_cursor"]})).json()
    by_after = (await client.get("/v1/events", params={
        "location_id": store, "limit": 3, "after": ids[2]})).json()
    assert by_cursor == by_after and _ids(by_after["items"]) == ids[3:6]
    last = (await client.get("/v1/events", params={
        "location_id": store, "limit": 3, "after": ids[5]})).json()
    assert _ids(last["items"]) == ids[6:] and last["next_cursor"] is None
    exact = (await client.get("/v1/events", params={
        "location_id": store, "limit": 1, "after": ids[5]})).json()
    assert _ids(exact["items"]) == ids[6:] and exact["next_cursor"] is None
    sales_only = await event_log(client, after=0, location_id=store, types="sale.recorded")
    assert sales_only == []
    problem = assert_problem(await client.get("/v1/events", params={
        "after": ids[0], "cursor": str(ids[1])}), 422, "validation_error")
    assert error_fields(problem) == ["cursor"]
    for bad in ({"cursor": "abc"}, {"limit": 501}, {"limit": 0}):
        assert_problem(await client.get("/v1/events", params=bad), 422, "validation_error")


# -- the WebSocket -----------------------------------------------------------------------------

def _ws_url(server: LiveServer, query: str = "") -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/events/ws" + query


async def _next(ws: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def _nothing_within(ws: ClientConnection, seconds: float) -> None:
    with pytest.raises(TimeoutError):
        await _next(ws, seconds)


async def test_websocket_subscribe_change_filters_and_unsubscribe_on_the_fly(
        live: httpx.AsyncClient, live_server: LiveServer) -> None:
    (first, (sku,)), second = await stocked(live, quantity=5), random_location()
    await create_store(live, second)
    await receive(live, second, sku, 5)
    logged = await wait_for_log(live, 1, location_id=first)
    async with websockets.connect(_ws_url(live_server),
                                  additional_headers={"X-API-Key": ADMIN_KEY}) as ws:
        await ws.send(json.dumps({"action": "subscribe", "location_id": [first], "after": 0}))
        assert await _next(ws) == {"type": "subscribed", "location_id": [first], "sku": None,
                                   "types": None, "after": 0}
        assert [(await _next(ws))["event"] for _ in logged] == logged  # replayed
        await record_sale(live, second, [line(sku, 1)])
        await record_sale(live, first, [line(sku, 1)])
        got = [await _next(ws), await _next(ws)]
        assert {(m["type"], m["event"]["type"], m["event"]["location_id"]) for m in got} == {
            ("event", "inventory.changed", first), ("event", "sale.recorded", first)}
        await _nothing_within(ws, 0.3)

        await ws.send("{not json")
        refused = await _next(ws)
        assert (refused["type"], refused["code"]) == ("error", "invalid_message")
        await ws.send(json.dumps({"action": "subscribe", "types": ["no.such"]}))
        assert (await _next(ws))["code"] == "invalid_message"

        await ws.send(json.dumps({"action": "subscribe", "location_id": [second],
                                  "types": ["sale.recorded"]}))
        subscribed = await _next(ws)
        assert subscribed["type"] == "subscribed" and subscribed["after"] >= got[-1][
            "event"]["id"]
        await record_sale(live, first, [line(sku, 1)])
        sale = await record_sale(live, second, [line(sku, 1)])
        moved = await _next(ws)
        assert moved["event"]["data"]["sale_id"] == sale["id"]
        await _nothing_within(ws, 0.3)

        await ws.send(json.dumps({"action": "unsubscribe"}))
        assert await _next(ws) == {"type": "unsubscribed"}
        await record_sale(live, second, [line(sku, 1)])
        await _nothing_within(ws, 0.5)


async def test_websocket_takes_a_key_as_header_bearer_or_query_and_refuses_none(
        live_server: LiveServer) -> None:
    for headers, query in (({"X-API-Key": ADMIN_KEY}, ""),
                           ({"Authorization": f"Bearer {ADMIN_KEY}"}, ""),
                           ({}, f"?api_key={ADMIN_KEY}")):
        async with websockets.connect(_ws_url(live_server, query),
                                      additional_headers=headers) as ws:
            await ws.send(json.dumps({"action": "subscribe"}))
            assert (await _next(ws))["type"] == "subscribed"
    for headers, query in (({}, ""), ({"X-API-Key": "wrong"}, ""), ({}, "?api_key=wrong")):
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(_ws_url(live_server, query),
                                          additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body or b"{}")["code"] == "unauthorized"


# -- the relay alone ---------------------------------------------------------------------------

async def test_the_relay_command_moves_committed_changes_until_sigterm(
        backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    url = await databases.new(backend)
    container = bootstrap(Settings(database_url=url, env="test", log_level="warning",
                                   var_dir=tmp_path_factory.mktemp("relay")))
    try:  # a write, and no server: nothing moves it to the log yet
        await container.executor.run(catalog.create_product, CreateProduct(
            sku="RELAYED", name="n", category="c", attributes={}, price=None),
            Caller(principal="t", actor="t"))
        assert await container.queries.events_after(0, EVERYTHING, 10) == []
        relay = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "stockline.entrypoints.cli", "relay",
            env={**os.environ, "STOCKLINE_DATABASE_URL": url, "STOCKLINE_LOG_LEVEL": "warning"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120  # a process starting on a loaded machine
            while not (moved := await container.queries.events_after(0, EVERYTHING, 10)):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert [(e.id, e.type, e.sku) for e in moved] == [(1, "product.changed", "RELAYED")]
        finally:
            relay.send_signal(signal.SIGTERM)
            output = (await asyncio.wait_for(relay.communicate(), 60))[0].decode(
                errors="replace")
        assert relay.returncode == 0, output
        assert "relay stopped" in output, output
    finally:
        await container.close()


# -- the feed's algorithm, with the races forced (no server) ----------------------------------

class _RacingLog:
    """An event log whose replay query races the hub: while the query runs, new events
    are logged and the hub delivers them (before or after the query's snapshot)."""

    def __init__(self) -> None:
        self.records: list[EventRecord] = []
        self.hub: EventHub | None = None
        self.during_query: list[tuple[str, int]] = []  # ("before"|"after" snapshot, count)

    def log(self, count: int) -> list[EventRecord]:
        made = [EventRecord(id=len(self.records) + n + 1, type="inventory.changed",
                            occurred_at=datetime.now(UTC), location_id="L", sku="S",
                            data={}) for n in range(count)]
        self.records.extend(made)
        return made

    async def event_log_bounds(self) -> tuple[int, int]:
        return 0, len(self.records)

    async def events_after(self, after: int, wanted: EventFilter,
                           limit: int) -> list[EventRecord]:
        assert self.hub is not None and self.hub.last_id == len(self.records)  # no catch-up
        when, count = self.during_query.pop(0) if self.during_query else ("", 0)
        if when == "before":  # logged and delivered, and in this page too
            for record in self.log(count):
                await self.hub.receive(record)
        page = [r for r in self.records if r.id > after and wanted.matches(r)][:limit]
        if when == "after":  # logged and delivered after the snapshot: only live has them
            for record in self.log(count):
                await self.hub.receive(record)
        return page


async def _feed_ids(log: _RacingLog, *, queue_size: int, after: int, live: int) -> list[Any]:
    hub = EventHub(log, MemoryBus(), queue_size=queue_size)  # type: ignore[arg-type]
    hub.last_id, log.hub = len(log.records), hub  # as started: it has seen the whole log
    got: list[Any] = []
    items = EventFeed(hub, log, EVERYTHING).items(after, idle=0.05)  # type: ignore[arg-type]
    async with contextlib.aclosing(items):
        async for item in items:
            if isinstance(item, list):
                got.extend(r.id for r in item)
            elif isinstance(item, Opened):
                assert item.after == after
            elif isinstance(item, Idle):
                if live == 0:
                    return got
                for record in log.log(live):
                    await hub.receive(record)
                live = 0
            else:
                got.append(item)
    return got


@pytest.mark.parametrize("when", ["before", "after"])
async def test_events_delivered_while_the_replay_reads_are_sent_once(when: str) -> None:
    log = _RacingLog()
    log.log(3)
    log.during_query = [(when, 2)]
    assert await _feed_ids(log, queue_size=100, after=1, live=2) == [2, 3, 4, 5, 6, 7]


async def test_a_subscription_that_overflows_during_the_replay_is_replaced() -> None:
    log = _RacingLog()
    log.log(3)
    log.during_query = [("after", 5), ("after", 1)]  # more than the queue holds, then one
    assert await _feed_ids(log, queue_size=2, after=0, live=1) == list(range(1, 11))
