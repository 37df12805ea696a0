"""Customers without a database: kept apart from sales and events; erased by pseudonym."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
import structlog

from stockline.adapters.logging import configure_logging
from stockline.domain.commands import RecordSale
from stockline.domain.customers import CustomerDetails, EraseCustomer, check_ref
from stockline.domain.errors import DomainError, Forbidden, InvalidInput
from stockline.domain.model import Sale
from stockline.domain.security import Principal, Role
from stockline.entrypoints.http.logged import loggable_path
from stockline.services import customers, sales
from stockline.services.executor import Caller, Context, Executor
from stockline.services.ports import UnitOfWork
from stockline.services.sales_batch import record_sales
from tests.fakes import FakeUnitOfWorkFactory
from tests.fakes_customers import sale_customers, stored_customers
from tests.unit.support import Shop, sale

ADMIN = Caller(principal="admin", actor="admin",
               access=Principal(id="admin", name="admin", role=Role.ADMIN))
STORE = Caller(principal="key_store", actor="store",
               access=Principal(id="key_store", name="store", role=Role.STORE_STAFF))


@pytest.fixture
async def stocked(shop: Shop) -> str:
    await shop.location("S-1")
    await shop.product("SKU-1")
    await shop.receive("S-1", "SKU-1", 10)
    return "S-1"


async def test_a_sale_remembers_its_customer_apart_and_its_events_say_nothing_of_it(
        shop: Shop, uows: FakeUnitOfWorkFactory, stocked: str) -> None:
    sold = await shop.sell(stocked, ("SKU-1", 1),
                           customer=CustomerDetails(ref="C-7", contact="c7@example.com"))
    again = await shop.sell(stocked, ("SKU-1", 1), customer=CustomerDetails(ref="C-7"))
    later = await shop.sell(stocked, ("SKU-1", 1),
                            customer=CustomerDetails(ref="C-7", contact="+1 555 0100"))
    assert not any("C-7" in repr(s) for s in (sold, again, later))
    assert stored_customers(uows)["C-7"].contact == "+1 555 0100"  # the newest contact wins
    assert sale_customers(uows) == {sold.id: "C-7", again.id: "C-7", later.id: "C-7"}
    events = json.dumps([record.data for record in uows.committed.outbox])
    assert "C-7" not in events and "example.com" not in events and "555" not in events


async def test_erasure_pseudonymizes_the_customer_and_its_sales_only(
        executor: Executor, shop: Shop, uows: FakeUnitOfWorkFactory, stocked: str) -> None:
    mine = await shop.sell(stocked, ("SKU-1", 2), customer=CustomerDetails(ref="C-1",
                                                                           contact="x"))
    other = await shop.sell(stocked, ("SKU-1", 1), customer=CustomerDetails(ref="C-2"))
    before = (uows.committed.levels.copy(), list(uows.committed.ledger),
              dict(uows.committed.sales), len(uows.committed.outbox))
    erased = await executor.run(customers.erase_customer, EraseCustomer(ref="C-1"), ADMIN)
    assert erased.sales == 1
    refs = sale_customers(uows)
    pseudonym = refs[mine.id]
    assert pseudonym.startswith("erased_") and refs[other.id] == "C-2"
    people = stored_customers(uows)
    assert "C-1" not in people and people[pseudonym].contact is None
    assert people[pseudonym].erased_at is not None
    # Stock, the ledger, the sales and the event log are untouched.
    assert (uows.committed.levels, list(uows.committed.ledger), dict(uows.committed.sales),
            len(uows.committed.outbox)) == before
    # Once erased, the reference is unknown: erasing it again changes nothing more.
    again = await executor.run(customers.erase_customer, EraseCustomer(ref="C-1"), ADMIN)
    assert again.sales == 0 and sale_customers(uows) == refs


STAFF_ELSEWHERE = Caller(principal="key_b", actor="b", access=Principal(
    id="key_b", name="b", role=Role.STORE_STAFF, locations=frozenset({"S-2"})))
MANAGER = Caller(principal="key_m", actor="m",
                 access=Principal(id="key_m", name="m", role=Role.MANAGER))


@pytest.mark.parametrize("batched", [False, True])
async def test_a_sale_changes_an_existing_contact_only_for_callers_that_write_customers(
        executor: Executor, shop: Shop, uows: FakeUnitOfWorkFactory, stocked: str,
        batched: bool) -> None:
    await shop.location("S-2")
    await shop.receive("S-2", "SKU-1", 10)
    await shop.sell(stocked, ("SKU-1", 1), customer=CustomerDetails(ref="C-5", contact="mine"))

    async def sell_as(caller: Caller, ref: str, contact: str) -> None:
        cmd = sale("S-2" if caller is STAFF_ELSEWHERE else stocked, ("SKU-1", 1),
                   customer=CustomerDetails(ref=ref, contact=contact))
        if batched:
            [outcome] = await executor.run_batch(record_sales_alone, [cmd], caller)
            assert not isinstance(outcome, Exception)
        else:
            await executor.run(sales.record_sale, cmd, caller)

    await sell_as(STAFF_ELSEWHERE, "C-5", "attacker")
    await sell_as(STAFF_ELSEWHERE, "C-6", "new")  # a new customer takes the sale's contact
    people = stored_customers(uows)
    assert (people["C-5"].contact, people["C-6"].contact) == ("mine", "new")
    await sell_as(MANAGER, "C-5", "newer")
    assert stored_customers(uows)["C-5"].contact == "newer"


async def record_sales_alone(uow: UnitOfWork, cmd: RecordSale, ctx: Context) -> Sale:
    """The group commit's batch handler, for one sale."""
    [outcome] = await record_sales(uow, [(cmd, ctx)])
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def test_only_roles_with_the_permission_erase(executor: Executor, shop: Shop,
                                                    uows: FakeUnitOfWorkFactory,
                                                    stocked: str) -> None:
    await shop.sell(stocked, ("SKU-1", 1), customer=CustomerDetails(ref="C-3"))
    with pytest.raises(Forbidden):
        await executor.run(customers.erase_customer, EraseCustomer(ref="C-3"), STORE)
    assert "C-3" in stored_customers(uows)


@pytest.mark.parametrize("ref", ["", "a b", "x" * 101, "erased_01", "é", "a/b"])
def test_a_reference_is_checked(ref: str) -> None:
    with pytest.raises(InvalidInput):
        check_ref(ref)


def test_paths_naming_a_customer_are_logged_by_their_template() -> None:
    assert loggable_path({"path": "/v1/customers/C-9/erase"}) == "/v1/customers/{redacted}"
    route = type("Route", (), {"path": "/v1/customers/{ref}/erase"})()
    assert loggable_path({"path": "/v1/customers/C-9/erase",
                          "route": route}) == "/v1/customers/{ref}/erase"
    assert loggable_path({"path": "/v1/sales/s_1"}) == "/v1/sales/s_1"


def test_a_logged_error_carries_no_local_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Locals hold bodies, headers and customers: a traceback in the log shows none."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("info", "json")
    structlog.reset_defaults()
    configure_logging("info", "json")

    def fails(contact: str) -> None:
        secret = f"sk_live_{contact}"
        raise RuntimeError(f"boom {len(secret)}")

    try:
        fails("jo@example.com")
    except RuntimeError:
        structlog.get_logger().exception("unhandled_error")
    logging.getLogger().handlers.clear()
    text = out.getvalue()
    assert "unhandled_error" in text and "RuntimeError" in text
    assert "jo@example.com" not in text and "sk_live_" not in text
