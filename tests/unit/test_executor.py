"""The executor: one transaction per use case, idempotent answers, batches, retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from stockline.domain.commands import RecordSale, UpdateInventory
from stockline.domain.errors import DomainError, InsufficientStock, InvalidInput
from stockline.domain.model import Level, Sale
from stockline.domain.values import Reason
from stockline.services import inventory, sales
from stockline.services.executor import (
    Caller,
    Context,
    Executor,
    IdempotencyClaim,
    TransientStorageError,
)
from stockline.services.ports import UnitOfWork
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, JsonAnswers, Shop, body, sale

Handler = Callable[[UnitOfWork, Any, Context], Awaitable[Any]]


class Counted:
    """Wraps a use case and counts how often it actually runs."""

    def __init__(self, handler: Handler) -> None:
        self.handler, self.calls = handler, 0

    async def __call__(self, uow: UnitOfWork, command: Any, ctx: Context) -> Any:
        self.calls += 1
        return await self.handler(uow, command, ctx)


def receipt(store: str, sku: str, quantity: int) -> UpdateInventory:
    return UpdateInventory(location_id=store, sku=sku, reason=Reason.RECEIPT, delta=quantity)


def on_hand(uows: FakeUnitOfWorkFactory, store: str, sku: str) -> int:
    level = uows.level(store, sku)
    return level.on_hand if level else 0


async def write_then_refuse(uow: UnitOfWork, cmd: UpdateInventory, ctx: Context) -> Level:
    await inventory.update_inventory(uow, cmd, ctx)
    raise InvalidInput("note", "refused after writing")


async def write_then_crash(uow: UnitOfWork, cmd: UpdateInventory, ctx: Context) -> Level:
    await inventory.update_inventory(uow, cmd, ctx)
    raise RuntimeError("a bug after writing")


# run


async def test_run_commits_the_use_case(executor: Executor, store: str,
                                        uows: FakeUnitOfWorkFactory) -> None:
    commits = uows.commits
    await executor.run(inventory.update_inventory, receipt(store, "SKU-A", 4), CALLER)
    assert uows.commits == commits + 1
    assert on_hand(uows, store, "SKU-A") == 4


@pytest.mark.parametrize(("handler", "error"), [(write_then_refuse, InvalidInput),
                                                (write_then_crash, RuntimeError)])
async def test_run_commits_nothing_when_the_handler_raises(
        executor: Executor, store: str, uows: FakeUnitOfWorkFactory, handler: Handler,
        error: type[Exception]) -> None:
    before = uows.committed.copy()
    with pytest.raises(error):
        await executor.run(handler, receipt(store, "SKU-A", 4), CALLER)
    assert uows.committed == before
    assert uows.level(store, "SKU-A") is None


async def test_run_gives_the_actor_to_the_use_case(executor: Executor, store: str,
                                                   uows: FakeUnitOfWorkFactory) -> None:
    await executor.run(inventory.update_inventory, receipt(store, "SKU-A", 1),
                       Caller(principal="key_1", actor="ana@shop"))
    assert uows.ledger(store, "SKU-A")[0].actor == "ana@shop"


# respond, without and with an idempotency key


async def test_respond_without_a_key_answers_and_keeps_nothing(
        executor: Executor, store: str, uows: FakeUnitOfWorkFactory) -> None:
    answer = await executor.respond(inventory.update_inventory, receipt(store, "SKU-A", 3),
                                    CALLER, JsonAnswers())
    assert (answer.outcome, answer.replayed) == ("ok", False)
    assert body(answer)["on_hand"] == 3
    refusal = await executor.respond(sales.record_sale, sale(store, ("SKU-A", 9)), CALLER,
                                     JsonAnswers())
    assert (refusal.outcome, body(refusal)["code"]) == ("insufficient_stock",) * 2
    assert uows.idempotency_keys() == set()
    assert on_hand(uows, store, "SKU-A") == 3


async def test_replay_returns_the_stored_answer_and_does_not_run_twice(
        executor: Executor, shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    record = Counted(sales.record_sale)
    claim = IdempotencyClaim("order-1", "fp-1")
    command = sale(store, ("SKU-A", 3))
    first = await executor.respond(record, command, CALLER, JsonAnswers(), claim)
    again = await executor.respond(record, command, CALLER, JsonAnswers(), claim)
    assert (first.outcome, first.replayed) == ("ok", False)
    assert (again.outcome, again.body, again.replayed) == (first.outcome, first.body, True)
    assert record.calls == 1
    assert len(uows.sales) == 1
    assert on_hand(uows, store, "SKU-A") == 7
    assert len(uows.ledger(store, "SKU-A")) == 2


async def test_key_reused_with_another_request_is_refused_and_runs_nothing(
        executor: Executor, shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    record = Counted(sales.record_sale)
    await executor.respond(record, sale(store, ("SKU-A", 1)), CALLER, JsonAnswers(),
                           IdempotencyClaim("order-1", "fp-1"))
    before = uows.committed.copy()
    reused = await executor.respond(record, sale(store, ("SKU-A", 2)), CALLER, JsonAnswers(),
                                    IdempotencyClaim("order-1", "fp-2"))
    assert (reused.outcome, body(reused)["code"], reused.replayed) == (
        "idempotency_key_reused", "idempotency_key_reused", False)
    assert "order-1" in body(reused)["detail"]
    assert record.calls == 1
    assert uows.committed == before


async def test_refusal_is_stored_and_replayed_too(executor: Executor, shop: Shop, store: str,
                                                  uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 2)
    record = Counted(sales.record_sale)
    claim = IdempotencyClaim("order-2", "fp")
    command = sale(store, ("SKU-A", 1), ("SKU-B", 1))  # SKU-B is short
    first = await executor.respond(record, command, CALLER, JsonAnswers(), claim)
    assert (first.outcome, body(first)["code"]) == ("insufficient_stock",) * 2
    assert (CALLER.principal, "order-2") in uows.idempotency_keys()
    assert on_hand(uows, store, "SKU-A") == 2  # the line that fitted was rolled back
    await shop.receive(store, "SKU-B", 5)  # the stock arrives; the key keeps its answer
    again = await executor.respond(record, command, CALLER, JsonAnswers(), claim)
    assert (again.outcome, again.body, again.replayed) == ("insufficient_stock", first.body, True)
    assert record.calls == 1
    assert uows.sales == []
    assert (on_hand(uows, store, "SKU-A"), on_hand(uows, store, "SKU-B")) == (2, 5)


async def test_crash_under_a_key_commits_nothing_and_frees_the_key(
        executor: Executor, store: str, uows: FakeUnitOfWorkFactory) -> None:
    claim = IdempotencyClaim("upd-1", "fp")
    before = uows.committed.copy()
    with pytest.raises(RuntimeError):
        await executor.respond(write_then_crash, receipt(store, "SKU-A", 4), CALLER,
                               JsonAnswers(), claim)
    assert uows.committed == before
    assert uows.idempotency_keys() == set()
    retried = await executor.respond(inventory.update_inventory, receipt(store, "SKU-A", 4),
                                     CALLER, JsonAnswers(), claim)
    assert (retried.outcome, retried.replayed) == ("ok", False)
    assert on_hand(uows, store, "SKU-A") == 4


async def test_keys_belong_to_their_caller(executor: Executor, store: str,
                                           uows: FakeUnitOfWorkFactory) -> None:
    claim = IdempotencyClaim("same-key", "fp")
    other = Caller(principal="key_other", actor="other")
    for caller in (CALLER, other, CALLER, other):
        await executor.respond(inventory.update_inventory, receipt(store, "SKU-A", 1),
                               caller, JsonAnswers(), claim)
    assert on_hand(uows, store, "SKU-A") == 2
    assert uows.idempotency_keys() == {(CALLER.principal, "same-key"),
                                       ("key_other", "same-key")}


async def test_concurrent_requests_with_one_key_apply_once(
        executor: Executor, shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    record = Counted(sales.record_sale)
    claim = IdempotencyClaim("burst", "fp")
    command = sale(store, ("SKU-A", 1))
    answers = await asyncio.gather(*(executor.respond(record, command, CALLER, JsonAnswers(),
                                                      claim) for _ in range(8)))
    assert record.calls == 1
    assert {(a.outcome, a.body) for a in answers} == {("ok", answers[0].body)}
    assert sorted(a.replayed for a in answers) == [False] + [True] * 7
    assert on_hand(uows, store, "SKU-A") == 9


# run_batch


async def test_batch_rolls_back_a_failing_command_alone(
        executor: Executor, shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 5)
    await shop.receive(store, "SKU-B", 1)
    commits = uows.commits
    outcomes = await executor.run_batch(sales.record_sale, [
        sale(store, ("SKU-A", 2)),
        sale(store, ("SKU-A", 1), ("SKU-B", 2)),  # A fits, B is short: all of it undone
        sale(store, ("SKU-B", 1)),
        sale("NOWHERE", ("SKU-A", 1)),
        sale(store, ("SKU-A", 3)),
    ], CALLER)
    assert [type(o).__name__ for o in outcomes] == [
        "Sale", "InsufficientStock", "Sale", "NotFound", "Sale"]
    assert uows.commits == commits + 1
    assert (on_hand(uows, store, "SKU-A"), on_hand(uows, store, "SKU-B")) == (0, 0)
    committed_ids = {s.id for s in uows.sales}
    assert committed_ids == {o.id for o in outcomes if isinstance(o, Sale)}
    a_entries = [e.delta for e in uows.ledger(store, "SKU-A") if e.reference in committed_ids]
    assert a_entries == [-2, -3]
    assert len(uows.events("sale.recorded")) == 3


async def test_batch_commands_see_the_ones_before_them(
        executor: Executor, shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 3)
    outcomes = await executor.run_batch(sales.record_sale,
                                        [sale(store, ("SKU-A", 2)) for _ in range(3)], CALLER)
    assert [isinstance(o, Sale) for o in outcomes] == [True, False, False]
    assert all(o.lines[0].available == 1 for o in outcomes if isinstance(o, InsufficientStock))
    assert on_hand(uows, store, "SKU-A") == 1


async def test_batch_with_a_bug_commits_nothing(executor: Executor, store: str,
                                                uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()

    async def third_crashes(uow: UnitOfWork, cmd: UpdateInventory, ctx: Context) -> Level:
        if cmd.sku == "SKU-C":
            raise RuntimeError("bug")
        return await inventory.update_inventory(uow, cmd, ctx)

    with pytest.raises(RuntimeError):
        await executor.run_batch(third_crashes, [receipt(store, sku, 1)
                                                 for sku in ("SKU-A", "SKU-B", "SKU-C")], CALLER)
    assert uows.committed == before


async def test_empty_batch_answers_nothing(executor: Executor) -> None:
    assert await executor.run_batch(sales.record_sale, [], CALLER) == []


# Retries of transient storage errors


class FailsFirst:
    """Writes, then fails transiently on its first ``failures`` runs."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    async def __call__(self, uow: UnitOfWork, cmd: UpdateInventory, ctx: Context) -> Level:
        self.calls += 1
        level = await inventory.update_inventory(uow, cmd, ctx)
        if self.calls <= self.failures:
            raise TransientStorageError("deadlock detected")
        return level


async def test_run_retries_a_transient_failure_and_applies_once(
        executor: Executor, store: str, uows: FakeUnitOfWorkFactory) -> None:
    handler = FailsFirst(2)
    level = await executor.run(handler, receipt(store, "SKU-A", 4), CALLER)
    assert handler.calls == 3
    assert (level.on_hand, level.version) == (4, 1)
    assert len(uows.ledger(store, "SKU-A")) == 1
    assert len(uows.events("inventory.changed")) == 1


async def test_run_retries_a_commit_that_failed_transiently(
        executor: Executor, store: str, uows: FakeUnitOfWorkFactory) -> None:
    uows.commit_failures.append(TransientStorageError("serialization failure"))
    await executor.run(inventory.update_inventory, receipt(store, "SKU-A", 4), CALLER)
    assert on_hand(uows, store, "SKU-A") == 4
    assert len(uows.ledger(store, "SKU-A")) == 1


async def test_run_gives_up_after_its_attempts(executor: Executor, store: str,
                                               uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    handler = FailsFirst(100)
    with pytest.raises(TransientStorageError):
        await executor.run(handler, receipt(store, "SKU-A", 4), CALLER)
    assert handler.calls == 5
    assert uows.committed == before


async def test_respond_under_a_key_retries_and_stores_one_answer(
        executor: Executor, store: str, uows: FakeUnitOfWorkFactory) -> None:
    handler = FailsFirst(1)
    claim = IdempotencyClaim("retry-1", "fp")
    first = await executor.respond(handler, receipt(store, "SKU-A", 4), CALLER, JsonAnswers(),
                                   claim)
    again = await executor.respond(handler, receipt(store, "SKU-A", 4), CALLER, JsonAnswers(),
                                   claim)
    assert handler.calls == 2
    assert (first.replayed, again.replayed, again.body) == (False, True, first.body)
    assert on_hand(uows, store, "SKU-A") == 4


async def test_batch_retries_a_transient_failure_as_a_whole(
        executor: Executor, store: str, uows: FakeUnitOfWorkFactory) -> None:
    uows.commit_failures.append(TransientStorageError("deadlock detected"))
    outcomes = await executor.run_batch(inventory.update_inventory,
                                        [receipt(store, "SKU-A", 2), receipt(store, "SKU-B", 3)],
                                        CALLER)
    assert [o.on_hand for o in outcomes if isinstance(o, Level)] == [2, 3]
    assert (on_hand(uows, store, "SKU-A"), on_hand(uows, store, "SKU-B")) == (2, 3)
    assert len(uows.ledger(store)) == 2


async def test_domain_errors_are_not_retried(executor: Executor, store: str) -> None:
    calls = Counted(sales.record_sale)
    with pytest.raises(DomainError):
        await executor.run(calls, RecordSale(location_id=store, lines=()), CALLER)
    assert calls.calls == 1
