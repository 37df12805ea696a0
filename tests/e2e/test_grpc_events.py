"""WatchEvents on a real ``stockline serve``, on both backends: a change made over REST
heard over gRPC, resume with ``after`` (replay, then live, each id once), reset, scope,
filters, and the end of a stream whose key is revoked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest

from stockline.entrypoints.grpc.v1 import events_pb2
from tests.factories import create_store, receive, stocked
from tests.grpc_support import GrpcServer, Stubs, reason, refused, rest_client, serving
from tests.grpc_support import stubs as open_stubs

S = grpc.StatusCode
WAIT = 60.0  # seconds for the next message: generous for a loaded machine


@pytest.fixture(scope="module")
def server(server_database_url: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[GrpcServer]:
    with serving(server_database_url, tmp_path_factory.mktemp("grpc-events")) as started:
        yield started


@pytest.fixture
async def rest(server: GrpcServer) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(server) as client:
        yield client


@pytest.fixture
async def rpc(server: GrpcServer) -> AsyncIterator[Stubs]:
    async with open_stubs(server.target) as opened:
        yield opened


class Watch:
    """An open WatchEvents call, read message by message (heartbeats skipped)."""

    def __init__(self, rpc: Stubs, metadata: Any, **asked: Any) -> None:
        self.call = rpc.events.WatchEvents(events_pb2.WatchEventsRequest(**asked),
                                           metadata=metadata)
        self._messages = self.call.__aiter__()

    async def next(self) -> events_pb2.WatchEventsResponse:
        while True:
            message = await asyncio.wait_for(self._messages.__anext__(), WAIT)
            if message.WhichOneof("item") != "heartbeat":
                return message

    async def event(self) -> events_pb2.Event:
        message = await self.next()
        assert message.WhichOneof("item") == "event", message
        return message.event

    async def until(self, on_hand: int) -> list[events_pb2.Event]:
        """The events heard up to the first whose level is at ``on_hand`` (a change
        committed just before the stream opened is relayed, so heard, after it opened)."""
        heard = [await self.event()]
        while ("on_hand" not in heard[-1].data  # an event of the SKU without a level
               or heard[-1].data["on_hand"] != on_hand):
            heard.append(await self.event())
        return heard

    def close(self) -> None:
        self.call.cancel()


async def new_key(rest: httpx.AsyncClient, role: str, **fields: Any) -> dict[str, Any]:
    made = await rest.post("/v1/api-keys", json={"name": f"watch {role}", "role": role,
                                                 **fields})
    assert made.status_code == 201, made.text
    key: dict[str, Any] = made.json()
    return key


async def test_a_change_made_over_rest_is_heard_and_resumed_after(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=2)
    watch = Watch(rpc, server.metadata(), skus=[sku], types=["inventory.changed"])
    try:
        assert (await watch.next()).WhichOneof("item") == "subscribed"
        await receive(rest, store, sku, 3)
        first = (await watch.until(on_hand=5))[-1]
        assert (first.type, first.location_id, first.sku) == ("inventory.changed", store, sku)
        await receive(rest, store, sku, 4)
        second = await watch.event()
        assert second.id > first.id and second.data["on_hand"] == 9
    finally:
        watch.close()

    resumed = Watch(rpc, server.metadata(), skus=[sku], types=["inventory.changed"],
                    after=first.id)
    try:
        subscribed = await resumed.next()
        assert subscribed.subscribed.after == first.id
        assert (await resumed.event()).id == second.id  # replayed, nothing before it
        await receive(rest, store, sku, 1)
        live = await resumed.event()  # then live, no duplicate
        assert live.id > second.id and live.data["on_hand"] == 10
    finally:
        resumed.close()

    replay = Watch(rpc, server.metadata(), skus=[sku], types=["inventory.changed"], after=0)
    try:
        await replay.next()
        heard = await replay.until(on_hand=10)
        assert [e.data["on_hand"] for e in heard] == [2, 5, 9, 10]
        assert [e.id for e in heard] == sorted({e.id for e in heard})
    finally:
        replay.close()


async def test_a_point_beyond_the_log_is_reset(rpc: Stubs, server: GrpcServer) -> None:
    watch = Watch(rpc, server.metadata(), after=10**15)
    try:
        assert (await watch.next()).WhichOneof("item") == "subscribed"
        reset = (await watch.next()).reset
        assert reset.reason == "ahead_of_log" and reset.requested_after == 10**15
        assert reset.resumes_after < 10**15
    finally:
        watch.close()


async def test_a_key_limited_to_one_store_hears_only_its_events(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    mine, (sku,) = await stocked(rest, quantity=1)
    other = (await create_store(rest))["code"]
    key = (await new_key(rest, "partner", location_ids=[mine]))["key"]
    metadata = server.metadata(key)
    for asked in ({"location_ids": [other]}, {"types": ["sale.recorded"]}):
        error = await refused(_first(Watch(rpc, metadata, **asked)))
        assert error.code() == S.PERMISSION_DENIED, asked
        assert reason(error) == "forbidden"
    watch = Watch(rpc, metadata, skus=[sku])
    try:
        await watch.next()
        await receive(rest, other, sku, 5)
        await receive(rest, mine, sku, 2)
        heard = await watch.until(on_hand=3)
        # The product's own events (no location: its creation, relayed after the watch
        # opened) are everyone's; of the levels, only the key's store's are heard.
        assert {e.location_id for e in heard if e.location_id} == {mine}
        assert other not in {e.location_id for e in heard}
    finally:
        watch.close()


async def _first(watch: Watch) -> events_pb2.WatchEventsResponse:
    try:
        return await watch.next()
    finally:
        watch.close()


@pytest.mark.parametrize(("asked", "field"), [
    ({"types": ["no.such.type"]}, "types"), ({"skus": ["not a code"]}, "skus"),
    ({"location_ids": ["x" * 65]}, "location_ids"), ({"skus": ["A"] * 101}, "skus"),
    ({"after": 2**63}, "after")])
async def test_a_bad_filter_is_an_invalid_argument(rpc: Stubs, server: GrpcServer,
                                                   asked: dict[str, Any], field: str) -> None:
    error = await refused(_first(Watch(rpc, server.metadata(), **asked)))
    assert error.code() == S.INVALID_ARGUMENT, error
    assert field in error.details()


async def test_a_watch_without_a_credential_is_unauthenticated(rpc: Stubs) -> None:
    error = await refused(_first(Watch(rpc, ())))
    assert error.code() == S.UNAUTHENTICATED


async def test_a_stream_ends_when_its_key_is_revoked(rpc: Stubs, server: GrpcServer,
                                                     rest: httpx.AsyncClient) -> None:
    made = await new_key(rest, "manager")
    watch = Watch(rpc, server.metadata(made["key"]))
    try:
        await watch.next()
        assert (await rest.delete(f"/v1/api-keys/{made['id']}")).status_code in (200, 204)
        closed = await watch.next()  # within the key cache time (5 s by default)
        assert closed.WhichOneof("item") == "closed", closed
        assert closed.closed.code == "credential_revoked"
    finally:
        watch.close()


async def test_a_partner_hears_the_level_but_not_the_movement(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=1)
    key = (await new_key(rest, "partner"))["key"]
    partner = Watch(rpc, server.metadata(key), skus=[sku], types=["inventory.changed"])
    admin = Watch(rpc, server.metadata(), skus=[sku], types=["inventory.changed"])
    try:
        await partner.next()
        await admin.next()
        await receive(rest, store, sku, 6)
        whole = (await admin.until(on_hand=7))[-1]
        shaped = (await partner.until(on_hand=7))[-1]
        assert whole.id == shaped.id
        assert "delta" in whole.data and "delta" not in shaped.data
        assert shaped.data["available"] == 7
    finally:
        partner.close()
        admin.close()


async def test_streams_beyond_the_keys_limit_are_resource_exhausted(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    metadata = server.metadata((await new_key(rest, "manager"))["key"])
    opened = [Watch(rpc, metadata) for _ in range(20)]  # STOCKLINE_MAX_STREAMS_PER_PRINCIPAL
    try:
        for watch in opened:
            assert (await watch.next()).WhichOneof("item") == "subscribed"
        error = await refused(_first(Watch(rpc, metadata)))
        assert error.code() == S.RESOURCE_EXHAUSTED and reason(error) == "rate_limited"
        opened.pop().close()
        for _ in range(100):  # its slot is given back once the server sees it cancelled
            again = Watch(rpc, metadata)
            try:
                first = await again.next()
            except grpc.aio.AioRpcError:
                again.close()
                await asyncio.sleep(0.1)
                continue
            opened.append(again)
            break
        assert first.WhichOneof("item") == "subscribed"
    finally:
        for watch in opened:
            watch.close()
