"""A sale's payment and fulfillment tables, every pair of states, and the use case over them."""

from __future__ import annotations

import itertools

import pytest

from stockline.domain.commands import UpdateSale
from stockline.domain.errors import InvalidInput, InvalidState, NotFound
from stockline.domain.model import Sale
from stockline.domain.states import (
    SALE_FULFILLMENTS,
    SALE_PAYMENTS,
    StateMachine,
    check_opening_payment,
    opening_fulfillment,
)
from stockline.domain.values import Channel, FulfillmentStatus, PaymentStatus
from stockline.services import sale_states
from stockline.services.executor import Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, Shop

F, P = FulfillmentStatus, PaymentStatus
PAYMENT_STEPS = {(P.PENDING, P.AUTHORIZED), (P.PENDING, P.PAID), (P.PENDING, P.FAILED),
                 (P.AUTHORIZED, P.PAID), (P.AUTHORIZED, P.FAILED), (P.PAID, P.REFUNDED),
                 (P.FAILED, P.PENDING)}
FULFILLMENT_STEPS = {(F.UNFULFILLED, F.FULFILLED), (F.UNFULFILLED, F.CANCELLED),
                     (F.FULFILLED, F.SHIPPED), (F.FULFILLED, F.DELIVERED),
                     (F.FULFILLED, F.CANCELLED), (F.SHIPPED, F.DELIVERED)}


def _judged(table: StateMachine, before: str, after: str) -> str:
    try:
        moves = table.step("sale_1", before, after)
    except InvalidState as refused:
        return f"refused {refused.kind} {refused.key} {refused.state}"
    return "moves" if moves else "stays"


@pytest.mark.parametrize(("before", "after"), list(itertools.product(P, P)))
def test_the_payment_table_allows_exactly_its_steps(before: P, after: P) -> None:
    expected = ("stays" if before == after else "moves" if (before, after) in PAYMENT_STEPS
                else f"refused sale payment sale_1 {before}")
    assert _judged(SALE_PAYMENTS, before, after) == expected


@pytest.mark.parametrize(("before", "after"), list(itertools.product(F, F)))
def test_the_fulfillment_table_allows_exactly_its_steps(before: F, after: F) -> None:
    expected = ("stays" if before == after else "moves" if (before, after) in FULFILLMENT_STEPS
                else f"refused sale fulfillment sale_1 {before}")
    assert _judged(SALE_FULFILLMENTS, before, after) == expected


def test_refunded_delivered_and_cancelled_are_final() -> None:
    for table, final in ((SALE_PAYMENTS, P.REFUNDED), (SALE_FULFILLMENTS, F.DELIVERED),
                         (SALE_FULFILLMENTS, F.CANCELLED)):
        assert final not in table.steps()


def test_a_till_sale_opens_delivered_and_an_order_unfulfilled() -> None:
    assert opening_fulfillment(Channel.POS) is F.DELIVERED
    assert opening_fulfillment(Channel.ECOMMERCE) is F.UNFULFILLED
    assert opening_fulfillment(Channel.MARKETPLACE) is F.UNFULFILLED


@pytest.mark.parametrize("payment", list(P))
def test_a_sale_opens_pending_authorized_or_paid(payment: P) -> None:
    if payment in (P.REFUNDED, P.FAILED):
        with pytest.raises(InvalidInput):
            check_opening_payment(payment)
    else:
        check_opening_payment(payment)


# -- the use case -----------------------------------------------------------------------

@pytest.fixture
async def order(shop: Shop, store: str) -> Sale:
    await shop.receive(store, "SKU-A", 5)
    return await shop.sell(store, ("SKU-A", 2), channel=Channel.ECOMMERCE,
                           payment_status=P.PENDING)


async def update(executor: Executor, sale_id: str, **fields: object) -> Sale:
    return await executor.run(sale_states.update_sale,
                              UpdateSale(sale_id=sale_id, **fields), CALLER)  # type: ignore[arg-type]


async def test_a_step_is_stored_and_logged_with_both_states(
        executor: Executor, order: Sale, uows: FakeUnitOfWorkFactory) -> None:
    before = len(uows.events())
    after = await update(executor, order.id, payment_status=P.PAID,
                         fulfillment_status=F.FULFILLED)
    assert (after.payment_status, after.fulfillment_status) == (P.PAID, F.FULFILLED)
    stored = uows.committed.sales[order.id]
    assert (stored.payment_status, stored.fulfillment_status) == (P.PAID, F.FULFILLED)
    [event] = uows.events()[before:]
    assert event.type == "sale.updated"
    assert event.data["before"] == {"payment_status": "pending",
                                    "fulfillment_status": "unfulfilled"}


async def test_the_present_state_changes_nothing_and_logs_nothing(
        executor: Executor, order: Sale, uows: FakeUnitOfWorkFactory) -> None:
    before = len(uows.events())
    same = await update(executor, order.id, payment_status=P.PENDING)
    assert same.payment_status is P.PENDING
    assert len(uows.events()) == before


async def test_one_refused_step_refuses_both(executor: Executor, order: Sale,
                                             uows: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(InvalidState):
        await update(executor, order.id, payment_status=P.PAID,
                     fulfillment_status=F.DELIVERED)
    assert uows.committed.sales[order.id].payment_status is P.PENDING


async def test_nothing_asked_or_no_such_sale_is_refused(executor: Executor,
                                                        order: Sale) -> None:
    with pytest.raises(InvalidInput):
        await update(executor, order.id)
    with pytest.raises(NotFound):
        await update(executor, "sale_missing", payment_status=P.PAID)
