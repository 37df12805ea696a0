"""The write service without a database: one path for every entrypoint's writes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import orjson

from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.domain.errors import InsufficientStock
from stockline.domain.model import Sale
from stockline.entrypoints.operations import (
    RECORD_SALE,
    RESERVE,
    SHARED,
    SHIP_TRANSFER,
    UPDATE_INVENTORY,
)
from stockline.services.writes import request_of
from tests.unit.support import CALLER, sale
from tests.unit.test_group_commit import seeded


def test_every_shared_operation_has_its_own_name() -> None:
    names = [operation.name for operation in SHARED]
    assert len(names) == len(set(names))
    assert {RECORD_SALE, UPDATE_INVENTORY, SHIP_TRANSFER, RESERVE} <= set(SHARED)


def test_a_request_is_told_by_its_operation_and_command_only() -> None:
    command = sale("S-1", ("A", 2))
    assert request_of(RECORD_SALE, command) == request_of(RECORD_SALE, replace(command))
    assert request_of(RECORD_SALE, command) != request_of(RECORD_SALE, sale("S-1", ("A", 3)))
    assert request_of(RECORD_SALE, command) != request_of(RESERVE, command)


async def test_sales_join_the_group_commit_whoever_hands_them_in(tmp_path: Path) -> None:
    uows = seeded({("S-1", "A"): 3})
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
                        env="test", var_dir=tmp_path, sale_batch_window_ms=50,
                        sale_batch_lanes=1)
    container = bootstrap(settings, uow_factory=uows)
    assert container.sales is not None
    sizes: list[int] = []
    container.sales.on_batch = lambda size, seconds: sizes.append(size)
    try:
        outcomes = await asyncio.gather(*(
            container.writes.execute(RECORD_SALE, sale("S-1", ("A", 1)), CALLER,
                                     key=f"k-{n}" if n % 2 else None)
            for n in range(4)))
    finally:
        await container.close()
    assert sizes == [4] and uows.commits == 1  # one batch, one transaction
    sold = [o for o in outcomes if isinstance(o.result, Sale)]
    refused = [o for o in outcomes if o.error is not None]
    assert len(sold) == 3 and len(refused) == 1
    assert isinstance(refused[0].error, InsufficientStock)
    assert refused[0].answer.outcome == "insufficient_stock"
    for outcome in sold:
        assert orjson.loads(outcome.answer.body)["id"] == outcome.result.id  # type: ignore[union-attr]
    assert uows.level("S-1", "A").on_hand == 0  # type: ignore[union-attr]
