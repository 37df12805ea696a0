"""gRPC (stockline.v1) on a real ``stockline serve``, on both backends: credentials and
scope as REST checks them, levels as REST answers them, writes through the same use
cases, refusals as status codes with the REST problem code and its data in the details."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stockline.entrypoints.grpc.v1 import (
    common_pb2,
    inventory_pb2,
    reservations_pb2,
    sales_pb2,
    transfers_pb2,
)
from tests.factories import create_product, create_store, level, random_sku, receive, stocked
from tests.grpc_support import GrpcServer, Stubs, detail, reason, refused, rest_client, serving
from tests.grpc_support import stubs as open_stubs

S = grpc.StatusCode


@pytest.fixture(scope="module")
def server(server_database_url: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[GrpcServer]:
    with serving(server_database_url, tmp_path_factory.mktemp("grpc")) as started:
        yield started


@pytest.fixture
async def rest(server: GrpcServer) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(server) as client:
        yield client


@pytest.fixture
async def rpc(server: GrpcServer) -> AsyncIterator[Stubs]:
    async with open_stubs(server.target) as opened:
        yield opened


async def new_key(rest: httpx.AsyncClient, role: str, **fields: Any) -> str:
    made = await rest.post("/v1/api-keys", json={"name": f"grpc {role}", "role": role,
                                                 **fields})
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


def key_of(server: GrpcServer, key: str | None = None) -> tuple[tuple[str, str], ...]:
    return server.metadata(key)


# -- credentials and scope -------------------------------------------------------------------

@pytest.mark.parametrize("metadata", [
    (), (("x-api-key", "sk_not_a_real_key_at_all"),), (("authorization", "Basic abc"),),
    (("authorization", "Bearer sk_nope_nope"),)])
async def test_a_call_without_a_valid_credential_is_unauthenticated(
        rpc: Stubs, metadata: tuple[tuple[str, str], ...]) -> None:
    error = await refused(rpc.inventory.GetLevel(
        inventory_pb2.GetLevelRequest(location_id="ANY", sku="ANY"), metadata=metadata))
    assert error.code() == S.UNAUTHENTICATED, error
    assert reason(error) == "unauthorized"


async def test_a_credential_sent_twice_is_an_invalid_argument(rpc: Stubs,
                                                             server: GrpcServer) -> None:
    twice = (*server.metadata(), *server.metadata())
    error = await refused(rpc.inventory.GetLevel(
        inventory_pb2.GetLevelRequest(location_id="ANY", sku="ANY"), metadata=twice))
    assert error.code() == S.INVALID_ARGUMENT


async def test_a_bearer_key_is_accepted_in_authorization(rpc: Stubs, server: GrpcServer,
                                                        rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=4)
    got = await rpc.inventory.GetLevel(
        inventory_pb2.GetLevelRequest(location_id=store, sku=sku),
        metadata=(("authorization", f"Bearer {server.live.admin_key}"),))
    assert got.on_hand == 4


async def test_a_key_limited_to_one_store_reads_no_other(rpc: Stubs, server: GrpcServer,
                                                        rest: httpx.AsyncClient) -> None:
    mine, (sku,) = await stocked(rest, quantity=3)
    other = (await create_store(rest))["code"]
    await receive(rest, other, sku, 5)
    key = key_of(server, await new_key(rest, "partner", location_ids=[mine]))

    assert (await rpc.inventory.GetLevel(
        inventory_pb2.GetLevelRequest(location_id=mine, sku=sku), metadata=key)).on_hand == 3
    for call in (
            rpc.inventory.GetLevel(inventory_pb2.GetLevelRequest(location_id=other, sku=sku),
                                   metadata=key),
            rpc.inventory.BatchGetLevels(inventory_pb2.BatchGetLevelsRequest(keys=[
                inventory_pb2.LevelKey(location_id=mine, sku=sku),
                inventory_pb2.LevelKey(location_id=other, sku=sku)]), metadata=key),
            rpc.inventory.ListLevels(inventory_pb2.ListLevelsRequest(location_id=other),
                                     metadata=key)):
        error = await refused(call)
        assert error.code() == S.PERMISSION_DENIED, error
        assert reason(error) == "forbidden"
    listed = await rpc.inventory.ListLevels(inventory_pb2.ListLevelsRequest(sku=sku, limit=500),
                                            metadata=key)
    assert [(x.location_id, x.on_hand) for x in listed.levels] == [(mine, 3)]


async def test_a_key_limited_to_one_store_changes_no_other(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    mine, (sku,) = await stocked(rest, quantity=3)
    other = (await create_store(rest))["code"]
    await receive(rest, other, sku, 5)
    key = key_of(server, await new_key(rest, "store_staff", location_ids=[mine]))
    counted = await rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=mine, sku=sku, quantity=2, reason="count"), metadata=key)
    assert counted.on_hand == 2
    error = await refused(rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=other, sku=sku, quantity=2, reason="count"), metadata=key))
    assert error.code() == S.PERMISSION_DENIED and reason(error) == "forbidden"
    assert (await level(rest, other, sku))["on_hand"] == 5


async def test_a_role_without_the_permission_is_denied_the_write(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    key = key_of(server, await new_key(rest, "partner"))
    error = await refused(rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, delta=1, reason="receipt"), metadata=key))
    assert error.code() == S.PERMISSION_DENIED
    assert (await level(rest, store, sku))["on_hand"] == 3


async def test_a_key_over_its_rate_limit_is_resource_exhausted(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=1)
    key = key_of(server, await new_key(rest, "manager", rate_limit=0.5))
    codes, over = [], []
    for _ in range(12):  # the bucket holds one token (0.5/s for 2 s) and earns one in 2 s
        try:
            await rpc.inventory.GetLevel(
                inventory_pb2.GetLevelRequest(location_id=store, sku=sku), metadata=key)
            codes.append(S.OK)
        except grpc.aio.AioRpcError as error:
            codes.append(error.code())
            over.append(error)
    assert S.OK in codes and S.RESOURCE_EXHAUSTED in codes, codes
    error = next(e for e in over if e.code() == S.RESOURCE_EXHAUSTED)
    assert reason(error) == "rate_limited"
    assert detail(error, error_details_pb2.RetryInfo).retry_delay.seconds >= 1


# -- levels ------------------------------------------------------------------------------------

async def test_get_level_answers_what_rest_answers(rpc: Stubs, server: GrpcServer,
                                                   rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=7)
    await rest.put(f"/v1/inventory/{store}/{sku}/settings", json={"reorder_point": 2})
    got = await rpc.inventory.GetLevel(inventory_pb2.GetLevelRequest(location_id=store, sku=sku),
                                       metadata=server.metadata())
    shown = (await rest.get(f"/v1/inventory/{store}/{sku}")).json()
    assert (got.location_id, got.sku, got.on_hand, got.reserved, got.available,
            got.in_transit, got.version) == (
        shown["location_id"], shown["sku"], shown["on_hand"], shown["reserved"],
        shown["available"], shown["in_transit"], shown["version"])
    assert got.HasField("reorder_point") and got.reorder_point == 2
    assert not got.HasField("safety_stock")
    assert got.updated_at.ToJsonString()[:19] == shown["updated_at"][:19]


async def test_a_level_never_stocked_is_zeros_and_an_unknown_sku_not_found(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store = (await create_store(rest))["code"]
    sku = (await create_product(rest))["sku"]
    zero = await rpc.inventory.GetLevel(inventory_pb2.GetLevelRequest(location_id=store, sku=sku),
                                        metadata=server.metadata())
    assert (zero.on_hand, zero.available, zero.version) == (0, 0, 0)
    error = await refused(rpc.inventory.GetLevel(
        inventory_pb2.GetLevelRequest(location_id=store, sku=random_sku()),
        metadata=server.metadata()))
    assert error.code() == S.NOT_FOUND and reason(error) == "not_found"
    found = detail(error, error_details_pb2.ResourceInfo)
    assert found.resource_type == "product"


async def test_batch_levels_answer_every_key_in_the_order_asked(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, skus = await stocked(rest, quantity=5, skus=3)
    await receive(rest, store, skus[1], 2)
    never = (await create_product(rest))["sku"]
    asked = [skus[2], never, skus[0], skus[1]]
    got = await rpc.inventory.BatchGetLevels(inventory_pb2.BatchGetLevelsRequest(keys=[
        inventory_pb2.LevelKey(location_id=store, sku=sku) for sku in asked]),
        metadata=server.metadata())
    assert [(x.sku, x.on_hand, x.version) for x in got.levels] == [
        (skus[2], 5, 1), (never, 0, 0), (skus[0], 5, 1), (skus[1], 7, 2)]
    error = await refused(rpc.inventory.BatchGetLevels(inventory_pb2.BatchGetLevelsRequest(
        keys=[inventory_pb2.LevelKey(location_id=store, sku=random_sku())]),
        metadata=server.metadata()))
    assert error.code() == S.NOT_FOUND


async def test_list_levels_pages_with_the_rest_cursor(rpc: Stubs, server: GrpcServer,
                                                     rest: httpx.AsyncClient) -> None:
    store, skus = await stocked(rest, quantity=1, skus=3)
    first = await rpc.inventory.ListLevels(
        inventory_pb2.ListLevelsRequest(location_id=store, limit=2), metadata=server.metadata())
    assert first.HasField("next_cursor")
    rest_page = (await rest.get("/v1/inventory", params={"location_id": store,
                                                         "limit": 2})).json()
    assert first.next_cursor == rest_page["next_cursor"]
    second = await rpc.inventory.ListLevels(inventory_pb2.ListLevelsRequest(
        location_id=store, limit=2, cursor=first.next_cursor), metadata=server.metadata())
    assert [x.sku for x in (*first.levels, *second.levels)] == sorted(skus)
    assert not second.HasField("next_cursor")


# -- bad input ---------------------------------------------------------------------------------

BAD_READS = [
    ("GetLevel", inventory_pb2.GetLevelRequest(location_id="no spaces", sku="A"), "location_id"),
    ("GetLevel", inventory_pb2.GetLevelRequest(location_id="A", sku=""), "sku"),
    ("BatchGetLevels", inventory_pb2.BatchGetLevelsRequest(), "keys"),
    ("BatchGetLevels", inventory_pb2.BatchGetLevelsRequest(keys=[
        inventory_pb2.LevelKey(location_id="A", sku="B")] * 501), "keys"),
    ("ListLevels", inventory_pb2.ListLevelsRequest(limit=501), "limit"),
    ("ListLevels", inventory_pb2.ListLevelsRequest(limit=-1), "limit"),
    ("ListLevels", inventory_pb2.ListLevelsRequest(cursor="not-a-cursor"), "cursor"),
    ("ListLevels", inventory_pb2.ListLevelsRequest(location_type=7), "location_type"),
]


@pytest.mark.parametrize(("method", "request_", "field"), BAD_READS)
async def test_a_bad_read_is_an_invalid_argument_naming_the_field(
        rpc: Stubs, server: GrpcServer, method: str, request_: Any, field: str) -> None:
    error = await refused(getattr(rpc.inventory, method)(request_, metadata=server.metadata()))
    assert error.code() == S.INVALID_ARGUMENT, error
    assert reason(error) == "validation_error"
    fields = [v.field for v in detail(error, error_details_pb2.BadRequest).field_violations]
    assert field in fields


BAD_UPDATES: list[tuple[dict[str, Any], str]] = [
    ({"delta": 1}, "reason"),  # no reason
    ({"delta": 1, "reason": "because"}, "reason"),
    ({"reason": "adjustment"}, ""),  # neither delta nor quantity
    ({"delta": 1, "quantity": 3, "reason": "adjustment"}, ""),
    ({"delta": 0, "reason": "adjustment"}, ""),
    ({"delta": 2_000_000_000, "reason": "receipt"}, "delta"),
    ({"quantity": -1, "reason": "count"}, "quantity"),
    ({"delta": 1, "reason": "receipt", "note": "x" * 501}, "note"),
    ({"delta": 1, "reason": "receipt", "lot": "bad lot"}, "lot"),
    ({"delta": 1, "reason": "receipt", "expires_on": "yesterday", "lot": "L1"}, "expires_on"),
    ({"delta": 1, "reason": "receipt", "expected_version": -1}, "expected_version"),
    ({"delta": 1, "reason": "receipt", "note": "a\x00b"}, "note"),
    ({"delta": 1, "reason": "receipt", "lot": "L\x00"}, "lot"),
    ({"delta": -(2**63), "reason": "damage"}, "delta"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_UPDATES)
async def test_a_bad_update_is_an_invalid_argument_and_changes_nothing(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient, fields: dict[str, Any],
        field: str) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    error = await refused(rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, **fields), metadata=server.metadata()))
    assert error.code() == S.INVALID_ARGUMENT, error
    assert reason(error) == "validation_error"
    if field:
        assert field in [v.field for v in
                         detail(error, error_details_pb2.BadRequest).field_violations]
    assert (await level(rest, store, sku))["version"] == 1


JUNK_TEXT = ["", "a", "x" * 65, "x" * 70_000, "a\x00b", "é", "DROP TABLE", " A", "..", "🙂"]
JUNK_INTS = [0, 1, -1, 2**31, -(2**31), 2**63 - 1, -(2**63), 10**9, -(10**9) - 1]


async def test_junk_writes_are_refused_as_client_errors_never_server_errors(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    """Random mixes of odd texts and extreme integers in every field of the three writes:
    each is answered (or refused) with a client error code, never UNKNOWN or INTERNAL."""
    store, (sku,) = await stocked(rest, quantity=3)
    chance = random.Random(15)

    def text() -> str:
        return chance.choice([*JUNK_TEXT, store, sku])

    def number() -> int:
        return chance.choice(JUNK_INTS)

    calls = []
    for _ in range(40):
        calls.append(rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
            location_id=text(), sku=text(), delta=number(), reason=chance.choice(
                ["receipt", "count", "damage", *JUNK_TEXT]), note=text(), lot=text(),
            expires_on=text(), expected_version=number()), metadata=server.metadata()))
        calls.append(rpc.transfers.Transfer(transfers_pb2.TransferRequest(
            from_location_id=text(), to_location_id=text(), external_ref=text(),
            lines=[common_pb2.LineQuantity(sku=text(), quantity=number())
                   for _ in range(chance.randint(0, 3))]), metadata=server.metadata()))
        calls.append(rpc.reservations.Reserve(reservations_pb2.ReserveRequest(
            location_id=text(), ttl_seconds=number(), channel=text(),
            lines=[reservations_pb2.ReserveLine(sku=text(), quantity=number(),
                                                unit_price=common_pb2.Money(
                                                    amount=text(), currency=text()))
                   for _ in range(chance.randint(0, 2))]), metadata=server.metadata()))
    codes = set()
    for call in calls:
        try:
            await call
            codes.add(S.OK)
        except grpc.aio.AioRpcError as error:
            codes.add(error.code())
    assert not codes & {S.UNKNOWN, S.INTERNAL, S.UNAVAILABLE}, codes
    assert S.INVALID_ARGUMENT in codes


# -- writes ------------------------------------------------------------------------------------

async def test_update_inventory_changes_the_level_rest_reads(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    changed = await rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, delta=4, reason="receipt", expected_version=1),
        metadata=server.metadata())
    assert (changed.on_hand, changed.version) == (7, 2)
    assert (await level(rest, store, sku))["on_hand"] == 7
    counted = await rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, quantity=0, reason="count"), metadata=server.metadata())
    assert (counted.on_hand, counted.version) == (0, 3)
    assert (await level(rest, store, sku))["on_hand"] == 0


async def test_a_short_change_is_failed_precondition_with_the_short_line(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    error = await refused(rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, delta=-5, reason="damage"), metadata=server.metadata()))
    assert error.code() == S.FAILED_PRECONDITION and reason(error) == "insufficient_stock"
    short = detail(error, common_pb2.InsufficientStock)
    assert short.location_id == store
    assert [(x.sku, x.requested, x.available) for x in short.lines] == [(sku, 5, 3)]
    assert (await level(rest, store, sku))["on_hand"] == 3


async def test_a_stale_expected_version_is_aborted_with_both_versions(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    error = await refused(rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, delta=1, reason="found", expected_version=7),
        metadata=server.metadata()))
    assert error.code() == S.ABORTED and reason(error) == "version_conflict"
    conflict = detail(error, common_pb2.VersionConflict)
    assert (conflict.key, conflict.expected_version, conflict.current_version) == (
        f"{store}/{sku}", 7, 1)


async def test_an_idempotency_key_changes_a_level_once_and_replays_the_first_answer(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    change = inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, delta=1, reason="found", idempotency_key=random_sku())
    first = await rpc.inventory.UpdateInventory(change, metadata=server.metadata())
    again = await rpc.inventory.UpdateInventory(change, metadata=server.metadata())
    assert first == again and first.on_hand == 4
    assert (await level(rest, store, sku))["on_hand"] == 4
    other = inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, delta=2, reason="found",
        idempotency_key=change.idempotency_key)
    reused = await refused(rpc.inventory.UpdateInventory(other, metadata=server.metadata()))
    assert reason(reused) == "idempotency_key_reused"
    assert (await level(rest, store, sku))["on_hand"] == 4


async def test_transfer_ships_all_lines_or_none(rpc: Stubs, server: GrpcServer,
                                                rest: httpx.AsyncClient) -> None:
    origin, (a, b) = await stocked(rest, quantity=5, skus=2)
    destination = (await create_store(rest))["code"]
    shipped = await rpc.transfers.Transfer(transfers_pb2.TransferRequest(
        from_location_id=origin, to_location_id=destination,
        lines=[common_pb2.LineQuantity(sku=a, quantity=2)], external_ref="ERP-1"),
        metadata=server.metadata())
    assert shipped.status == "in_transit" and shipped.external_ref == "ERP-1"
    assert [(x.sku, x.quantity, x.in_transit) for x in shipped.lines] == [(a, 2, 2)]
    assert (await rest.get(f"/v1/stock-movements/transfers/{shipped.id}")).status_code == 200
    assert (await level(rest, destination, a))["in_transit"] == 2
    error = await refused(rpc.transfers.Transfer(transfers_pb2.TransferRequest(
        from_location_id=origin, to_location_id=destination,
        lines=[common_pb2.LineQuantity(sku=a, quantity=1),
               common_pb2.LineQuantity(sku=b, quantity=9)]), metadata=server.metadata()))
    assert error.code() == S.FAILED_PRECONDITION
    assert [x.sku for x in detail(error, common_pb2.InsufficientStock).lines] == [b]
    assert (await level(rest, origin, a))["on_hand"] == 3
    same = await refused(rpc.transfers.Transfer(transfers_pb2.TransferRequest(
        from_location_id=origin, to_location_id=origin,
        lines=[common_pb2.LineQuantity(sku=a, quantity=1)]), metadata=server.metadata()))
    assert same.code() == S.INVALID_ARGUMENT


async def test_more_lines_than_the_server_takes_are_refused_as_rest_refuses_them(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    origin, (sku,) = await stocked(rest, quantity=5)
    destination = (await create_store(rest))["code"]
    lines = [common_pb2.LineQuantity(sku=f"{sku}-{n}", quantity=1) for n in range(501)]
    error = await refused(rpc.transfers.Transfer(transfers_pb2.TransferRequest(
        from_location_id=origin, to_location_id=destination, lines=lines),
        metadata=server.metadata()))
    assert error.code() == S.INVALID_ARGUMENT
    assert error.details() == "lines: at most 500 lines per transfer"
    over_rest = await rest.post("/v1/stock-movements/transfer", json={
        "from_location_id": origin, "to_location_id": destination,
        "lines": [{"sku": x.sku, "quantity": 1} for x in lines]})
    assert over_rest.status_code == 422
    assert over_rest.json()["detail"] == error.details()


async def test_reserve_holds_stock_and_refuses_a_short_line(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=5)
    held = await rpc.reservations.Reserve(reservations_pb2.ReserveRequest(
        location_id=store, ttl_seconds=600, lines=[reservations_pb2.ReserveLine(
            sku=sku, quantity=2, unit_price=common_pb2.Money(amount="9.50", currency="USD"))]),
        metadata=server.metadata())
    assert held.status == "active" and held.channel == "ecommerce"
    assert held.lines[0].unit_price.amount == "9.50"
    assert (await level(rest, store, sku))["available"] == 3
    error = await refused(rpc.reservations.Reserve(reservations_pb2.ReserveRequest(
        location_id=store, lines=[reservations_pb2.ReserveLine(sku=sku, quantity=4)]),
        metadata=server.metadata()))
    assert error.code() == S.FAILED_PRECONDITION
    too_long = await refused(rpc.reservations.Reserve(reservations_pb2.ReserveRequest(
        location_id=store, ttl_seconds=10**9,
        lines=[reservations_pb2.ReserveLine(sku=sku, quantity=1)]), metadata=server.metadata()))
    assert too_long.code() == S.INVALID_ARGUMENT


def sale_of(store: str, sku: str, quantity: int, key: str = "") -> sales_pb2.RecordSaleRequest:
    return sales_pb2.RecordSaleRequest(location_id=store, idempotency_key=key, lines=[
        sales_pb2.SaleLineIn(sku=sku, quantity=quantity,
                             unit_price=common_pb2.Money(amount="2.50", currency="USD"))])


async def test_record_sale_sells_and_a_short_sale_is_failed_precondition(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    sale = await rpc.sales.RecordSale(sale_of(store, sku, 2), metadata=server.metadata())
    assert (sale.location_id, sale.units, sale.total.amount) == (store, 2, "5.00")
    assert sale.lines[0].sku == sku and sale.id
    assert (await rest.get(f"/v1/sales/{sale.id}")).json()["units"] == 2
    error = await refused(rpc.sales.RecordSale(sale_of(store, sku, 2),
                                               metadata=server.metadata()))
    assert error.code() == S.FAILED_PRECONDITION and reason(error) == "insufficient_stock"
    short = detail(error, common_pb2.InsufficientStock)
    assert [(x.sku, x.requested, x.available) for x in short.lines] == [(sku, 2, 1)]
    assert (await level(rest, store, sku))["on_hand"] == 1


async def test_a_write_carries_its_commit_position_in_the_trailing_metadata(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient, backend: str) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    call = rpc.sales.RecordSale(sale_of(store, sku, 1), metadata=server.metadata())
    await call
    trailing = dict(await call.trailing_metadata() or ())
    if backend == "sqlite":
        assert "stockline-position" not in trailing
        return
    position = str(trailing["stockline-position"])
    listed = await rest.get("/v1/sales", params={"location_id": store},
                            headers={"Stockline-Read-After": position})
    assert listed.status_code == 200 and len(listed.json()["items"]) == 1
    read = rpc.inventory.GetLevel(inventory_pb2.GetLevelRequest(location_id=store, sku=sku),
                                  metadata=server.metadata())
    await read
    assert "stockline-position" not in dict(await read.trailing_metadata() or ())


async def test_record_sales_answers_each_sale_in_order_with_its_own_outcome(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=30)
    wanted = [sale_of(store, sku, 1 + n % 3) for n in range(25)]  # 50 units asked for 30

    async def send() -> AsyncIterator[sales_pb2.RecordSaleRequest]:
        for request in wanted:
            yield request

    answers = [x async for x in rpc.sales.RecordSales(send(), metadata=server.metadata())]
    assert [x.index for x in answers] == list(range(25))
    sold = [x.sale.units for x in answers if x.WhichOneof("outcome") == "sale"]
    short = [x.error for x in answers if x.WhichOneof("outcome") == "error"]
    assert short and {e.code for e in short} == {S.FAILED_PRECONDITION.value[0]}
    for answer, request in zip(answers, wanted, strict=True):
        if answer.WhichOneof("outcome") == "sale":
            assert answer.sale.units == request.lines[0].quantity
    assert sum(sold) <= 30
    assert (await level(rest, store, sku))["on_hand"] == 30 - sum(sold)


async def test_record_sales_waits_for_a_client_that_sends_after_each_answer(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=5)
    call = rpc.sales.RecordSales(metadata=server.metadata())
    for n in range(3):
        await call.write(sale_of(store, sku, 1))
        answer = await call.read()
        assert answer.index == n and answer.sale.units == 1
    await call.done_writing()
    assert await call.read() == grpc.aio.EOF
    assert (await level(rest, store, sku))["on_hand"] == 2


async def test_record_sales_ends_unauthenticated_once_its_key_is_revoked(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=200)
    made = (await rest.post("/v1/api-keys", json={"name": "till", "role": "manager"})).json()
    call = rpc.sales.RecordSales(metadata=key_of(server, made["key"]))
    await call.write(sale_of(store, sku, 1))
    assert (await call.read()).sale.units == 1
    assert (await rest.delete(f"/v1/api-keys/{made['id']}")).status_code in (200, 204)
    for _ in range(120):  # a sale every half second; the key cache lasts 5 s by default
        await asyncio.sleep(0.5)
        try:
            await call.write(sale_of(store, sku, 1))
            if (await call.read()) == grpc.aio.EOF:
                break
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            break
    assert await call.code() == S.UNAUTHENTICATED
    details = await call.details()
    assert "no longer accepted" in details, details


# -- reflection and health ---------------------------------------------------------------------

async def test_reflection_lists_every_service(rpc: Stubs) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(rpc.channel)

    async def ask() -> AsyncIterator[Any]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    answers = [answer async for answer in stub.ServerReflectionInfo(ask())]
    names = {s.name for s in answers[0].list_services_response.service}
    assert {"stockline.v1.Inventory", "stockline.v1.Sales", "stockline.v1.Transfers",
            "stockline.v1.Reservations", "stockline.v1.Events",
            "grpc.health.v1.Health"} <= names


@pytest.mark.parametrize("service", ["", "stockline.v1.Inventory", "stockline.v1.Events"])
async def test_health_answers_serving(rpc: Stubs, service: str) -> None:
    answer = await health_pb2_grpc.HealthStub(rpc.channel).Check(
        health_pb2.HealthCheckRequest(service=service))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


# -- the audit trail ---------------------------------------------------------------------------

async def test_writes_and_refused_credentials_over_grpc_are_audited(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=3)
    key = await rest.post("/v1/api-keys", json={"name": "grpc audited", "role": "manager"})
    manager = key.json()
    await rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, delta=1, reason="found"),
        metadata=key_of(server, manager["key"]))
    await refused(rpc.inventory.UpdateInventory(inventory_pb2.UpdateInventoryRequest(
        location_id=store, sku=sku, delta=-9, reason="damage"),
        metadata=key_of(server, manager["key"])))
    await rpc.inventory.GetLevel(inventory_pb2.GetLevelRequest(location_id=store, sku=sku),
                                 metadata=key_of(server, manager["key"]))  # a read: not audited
    entries = (await rest.get("/v1/audit", params={"principal_id": manager["id"],
                                                   "method": "GRPC"})).json()["items"]
    assert sorted((e["path"], e["status"], e["outcome"]) for e in entries) == [
        ("/stockline.v1.Inventory/UpdateInventory", 200, "success"),
        ("/stockline.v1.Inventory/UpdateInventory", 409, "refused")]
    assert {e["ip"] for e in entries} == {"127.0.0.1"}

    await refused(rpc.inventory.GetLevel(inventory_pb2.GetLevelRequest(location_id=store,
                                                                       sku=sku),
                                         metadata=(("x-api-key", "sk_wrong_audited"),)))
    failed = (await rest.get("/v1/audit", params={"outcome": "auth_failed",
                                                  "method": "GRPC"})).json()["items"]
    assert any(e["path"] == "/stockline.v1.Inventory/GetLevel" and e["detail"]
               for e in failed), failed


async def test_each_sale_of_a_record_sales_stream_is_audited_as_a_rest_sale_is(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=2)
    made = (await rest.post("/v1/api-keys", json={"name": "streamed", "role": "manager"}))
    till = made.json()

    async def send() -> AsyncIterator[sales_pb2.RecordSaleRequest]:
        for quantity in (1, 1, 1):  # 3 units asked for 2: the last is refused
            yield sale_of(store, sku, quantity)

    answers = [x async for x in rpc.sales.RecordSales(send(),
                                                      metadata=key_of(server, till["key"]))]
    assert [x.WhichOneof("outcome") for x in answers] == ["sale", "sale", "error"]
    entries = (await rest.get("/v1/audit", params={"principal_id": till["id"],
                                                   "method": "GRPC"})).json()["items"]
    assert sorted((e["path"], e["status"], e["outcome"]) for e in entries) == [
        ("/stockline.v1.Sales/RecordSales", 200, "success"),
        ("/stockline.v1.Sales/RecordSales", 200, "success"),
        ("/stockline.v1.Sales/RecordSales", 409, "refused")]


async def test_calls_are_counted_in_the_metrics_by_method_and_code(
        rpc: Stubs, server: GrpcServer, rest: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(rest, quantity=1)
    await rpc.inventory.GetLevel(inventory_pb2.GetLevelRequest(location_id=store, sku=sku),
                                 metadata=server.metadata())
    await refused(rpc.inventory.GetLevel(inventory_pb2.GetLevelRequest(location_id=store,
                                                                       sku=random_sku()),
                                         metadata=server.metadata()))
    shown = (await rest.get("/metrics")).text
    for code in ("OK", "NOT_FOUND"):
        assert (f'stockline_grpc_calls_total{{code="{code}",method="/stockline.v1.Inventory/'
                'GetLevel"}') in shown, code
    assert 'stockline_grpc_call_duration_seconds_count{method="/stockline.v1.Inventory/' \
           'GetLevel"}' in shown
