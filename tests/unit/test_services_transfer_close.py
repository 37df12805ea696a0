"""Transfers closed short (the rest lost or sent back) and cancelled after a partial
receipt, through the in-memory fakes."""

from __future__ import annotations

import pytest

from stockline.domain.commands import CloseTransfer
from stockline.domain.documents import Transfer
from stockline.domain.errors import InvalidState
from stockline.domain.states import TransferRemainder, TransferStatus
from stockline.domain.values import LocationType, MovementType
from stockline.services import transfers
from stockline.services.executor import Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, Shop
from tests.unit.test_services_transfers import WAREHOUSE, cancel, counts, receive, ship, stored


@pytest.fixture
async def world(shop: Shop, store: str) -> str:
    """A warehouse with 10 of SKU-A and 5 of SKU-B; the store holds nothing."""
    await shop.location(WAREHOUSE, LocationType.WAREHOUSE)
    await shop.receive(WAREHOUSE, "SKU-A", 10)
    await shop.receive(WAREHOUSE, "SKU-B", 5)
    return store


async def close(executor: Executor, transfer_id: str, remainder: TransferRemainder,
                note: str | None = None) -> Transfer:
    return await executor.run(transfers.close_transfer, CloseTransfer(
        transfer_id=transfer_id, remainder=remainder, note=note), CALLER)


async def test_cancel_after_a_partial_receipt_returns_only_the_rest(
        executor: Executor, world: str, uows: FakeUnitOfWorkFactory) -> None:
    shipped = await ship(executor, WAREHOUSE, world, ("SKU-A", 4))
    await receive(executor, shipped.id, ("SKU-A", 1))
    cancelled = await cancel(executor, shipped.id)
    assert cancelled.status is TransferStatus.CANCELLED
    assert [(ln.received_quantity, ln.cancelled_quantity, ln.in_transit)
            for ln in cancelled.lines] == [(1, 3, 0)]
    assert counts(uows, WAREHOUSE, "SKU-A") == (9, 0)
    assert counts(uows, world, "SKU-A") == (1, 0)


async def test_close_lost_takes_the_rest_out_of_transit_with_a_ledger_row_of_no_delta(
        executor: Executor, world: str, uows: FakeUnitOfWorkFactory) -> None:
    shipped = await ship(executor, WAREHOUSE, world, ("SKU-A", 4), ("SKU-B", 2))
    await receive(executor, shipped.id, ("SKU-A", 1), ("SKU-B", 2))
    closed = await close(executor, shipped.id, TransferRemainder.LOST, note="gone")
    assert (closed.status, closed.remainder) == (TransferStatus.CLOSED, TransferRemainder.LOST)
    assert closed.closed_at is not None and closed.cancelled_at is None
    assert [(ln.received_quantity, ln.lost_quantity, ln.in_transit) for ln in closed.lines] == [
        (1, 3, 0), (2, 0, 0)]
    assert counts(uows, world, "SKU-A") == (1, 0)
    assert counts(uows, WAREHOUSE, "SKU-A") == (6, 0)
    lost = [e for e in uows.ledger(world) if e.type is MovementType.TRANSFER_LOST]
    assert [(e.sku, e.delta, e.balance_after, e.reason, e.reference, e.note) for e in lost] == [
        ("SKU-A", 0, 1, "lost_in_transit", shipped.id, f"3 lost in transit from {WAREHOUSE}: gone")]
    event = uows.events("transfer.closed")[-1]
    assert (event.location_id, event.data["remainder"], event.data["settled"]) == (
        WAREHOUSE, "lost", [{"sku": "SKU-A", "quantity": 3}])
    assert stored(uows, shipped.id) == closed


async def test_close_return_sends_the_rest_back_as_a_cancel_would(
        executor: Executor, world: str, uows: FakeUnitOfWorkFactory) -> None:
    shipped = await ship(executor, WAREHOUSE, world, ("SKU-A", 4))
    await receive(executor, shipped.id, ("SKU-A", 1))
    closed = await close(executor, shipped.id, TransferRemainder.RETURN)
    assert [(ln.cancelled_quantity, ln.lost_quantity) for ln in closed.lines] == [(3, 0)]
    assert counts(uows, WAREHOUSE, "SKU-A") == (9, 0)
    back = uows.ledger(WAREHOUSE, "SKU-A")[-1]
    assert (back.type, back.delta, back.reason) == (MovementType.TRANSFER_CANCEL, 3,
                                                    "transfer_close")
    with pytest.raises(InvalidState):
        await close(executor, shipped.id, TransferRemainder.LOST)
