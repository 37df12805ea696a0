"""The outbox relay and the hub on real SQLite and PostgreSQL (a fresh database each test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from stockline.adapters.bus import EVERYTHING, BusUnavailable, EventFilter, EventRecord
from stockline.adapters.bus.memory import MemoryBus
from stockline.adapters.hub import EventHub, SubscriptionClosed
from stockline.adapters.relay import Relay
from stockline.adapters.tables import events, outbox, relay_state
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.domain.commands import CreateLocation, CreateProduct, ReceiveStock
from stockline.domain.errors import NotFound
from stockline.domain.values import LocationType
from stockline.services import catalog, inventory, locations
from stockline.services.executor import Caller, utcnow
from tests.conftest import Databases

CALLER = Caller(principal="relay-test", actor="relay-test")


@pytest.fixture
async def fresh(backend: str, databases: Databases,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Container]:
    url = await databases.new(backend)
    container = bootstrap(Settings(database_url=url, env="test", log_level="warning",
                                   var_dir=tmp_path_factory.mktemp("var")))
    try:
        yield container
    finally:
        await container.close()


async def _stock(container: Container, skus: int = 3) -> tuple[str, list[str]]:
    ex = container.executor
    await ex.run(locations.create_location,
                 CreateLocation(code="STORE", type=LocationType.RETAIL, name="Store"), CALLER)
    codes = [f"SKU-{n}" for n in range(skus)]
    for sku in codes:
        await ex.run(catalog.create_product, CreateProduct(
            sku=sku, name=sku, category="c", attributes={}, price=None), CALLER)
    return "STORE", codes


def _relay(container: Container, node: str, bus: MemoryBus | None = None,
           lease: float = 10.0) -> Relay:
    return Relay(container.database, bus or MemoryBus(), node=node, batch=50,
                 lease_seconds=lease, clock=utcnow)


async def _drain(relay: Relay) -> None:
    while await relay.step():
        pass


async def _logged(container: Container) -> list[EventRecord]:
    return await container.queries.events_after(0, EVERYTHING, 100_000)


async def _outbox_rows(container: Container) -> int:
    async with container.database.read.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(outbox))).scalar_one())


async def test_concurrent_writes_get_gap_free_ids_in_one_order(fresh: Container) -> None:
    store, skus = await _stock(fresh)
    receipts = [ReceiveStock(location_id=store, quantities={skus[n % 3]: 1}) for n in range(60)]
    relay = _relay(fresh, "node-a")
    writers = asyncio.gather(*(fresh.executor.run(inventory.receive_stock, r, CALLER)
                               for r in receipts))
    moving = asyncio.create_task(_keep_moving(relay, writers))
    await writers
    await moving
    await _drain(relay)
    logged = await _logged(fresh)
    assert [e.id for e in logged] == list(range(1, len(logged) + 1))
    assert len(logged) == 3 + 60  # 3 products, 60 level changes (a location has no event)
    assert await _outbox_rows(fresh) == 0
    changes = [e for e in logged if e.type == "inventory.changed"]
    for sku in skus:  # each level's versions appear in order
        versions = [e.data["version"] for e in changes if e.sku == sku]
        assert versions == sorted(versions) and len(versions) == 20


async def _keep_moving(relay: Relay, writers: asyncio.Future[object]) -> None:
    while not writers.done():
        await relay.step()
        await asyncio.sleep(0.001)


async def test_only_the_lease_holder_moves_and_another_takes_over_when_it_lapses(
        fresh: Container) -> None:
    await _stock(fresh, skus=2)
    first, second = _relay(fresh, "node-a", lease=1.0), _relay(fresh, "node-b", lease=1.0)
    assert await first.step()
    assert not await second.step()  # node-a holds the lease
    await fresh.executor.run(catalog.create_product, CreateProduct(
        sku="LATE", name="n", category="c", attributes={}, price=None), CALLER)
    assert not await second.step()
    assert await _outbox_rows(fresh) == 1
    await asyncio.sleep(1.1)  # node-a stops renewing: its lease lapses
    assert await second.step()
    assert await _outbox_rows(fresh) == 0
    assert not await first.step()  # node-a finds the lease taken and stands down
    assert [e.id for e in await _logged(fresh)] == [1, 2, 3]


async def test_a_refused_write_logs_no_event(fresh: Container) -> None:
    await _stock(fresh, skus=1)
    with pytest.raises(NotFound):
        await fresh.executor.run(inventory.receive_stock, ReceiveStock(
            location_id="STORE", quantities={"SKU-0": 1, "NO-SUCH": 1}), CALLER)
    relay = _relay(fresh, "node-a")
    await _drain(relay)
    assert [e.type for e in await _logged(fresh)] == ["product.changed"]


async def test_events_wait_in_the_log_while_the_bus_is_down(fresh: Container) -> None:
    await _stock(fresh, skus=2)
    bus = _FlakyBus()
    relay = _relay(fresh, "node-a", bus=bus)
    hearing = await bus.listen()
    bus.down = True
    await _drain(relay)
    assert len(await _logged(fresh)) == 2
    assert await _published_through(fresh) == 0
    bus.down = False
    await _drain(relay)
    assert await _published_through(fresh) == 2
    heard = [await asyncio.wait_for(anext(hearing), 1) for _ in range(2)]
    assert [e.id for e in heard] == [1, 2]


class _FlakyBus(MemoryBus):
    down = False

    async def publish(self, records: list[EventRecord]) -> None:
        if self.down:
            raise BusUnavailable("broker stopped")
        await super().publish(records)


async def _published_through(container: Container) -> int:
    async with container.database.read.connect() as conn:
        return int((await conn.execute(select(relay_state.c.published_through))).scalar_one())


async def test_hub_delivers_each_event_once_in_order_filling_gaps_from_the_log(
        fresh: Container) -> None:
    store, skus = await _stock(fresh, skus=2)
    silent = MemoryBus()  # the hub hears nothing on it: only what we hand it
    hub = EventHub(fresh.queries, silent, poll_seconds=3600)
    await hub.start()
    try:
        everything = hub.subscribe(EVERYTHING)
        only_sku0 = hub.subscribe(EventFilter(skus=frozenset({skus[0]}),
                                              types=frozenset({"inventory.changed"})))
        await fresh.executor.run(inventory.receive_stock, ReceiveStock(
            location_id=store, quantities=dict.fromkeys(skus, 5)), CALLER)
        await _drain(_relay(fresh, "node-a"))
        logged = await _logged(fresh)
        # The bus brings the last one first, then repeats: the hub reads the gap from the log.
        await hub.receive(logged[-1])
        await hub.receive(logged[-1])
        await hub.receive(logged[0])
        got = [await everything.next(1) for _ in logged]
        assert [e.id for e in got if e] == [e.id for e in logged] == [1, 2, 3, 4]
        assert await everything.next(0.05) is None
        mine = await only_sku0.next(1)
        assert mine is not None and (mine.sku, mine.type) == (skus[0], "inventory.changed")
        assert await only_sku0.next(0.05) is None
    finally:
        await hub.close()


async def test_a_subscriber_that_falls_behind_is_cut_off_with_a_reason(
        fresh: Container) -> None:
    await _stock(fresh, skus=1)
    hub = EventHub(fresh.queries, MemoryBus(), poll_seconds=3600, queue_size=10)
    await hub.start()
    try:
        slow = hub.subscribe(EVERYTHING)
        now = datetime.now(UTC)
        for n in range(1, 12):
            await hub.receive(EventRecord(id=hub.last_id + 1, type="x", occurred_at=now,
                                          location_id=None, sku=None, data={"n": n}))
        with pytest.raises(SubscriptionClosed, match="slow_consumer"):
            await slow.next(0.1)
        assert hub.subscribers == 0
    finally:
        await hub.close()


async def test_pruning_forgets_old_published_events_only(fresh: Container) -> None:
    await _stock(fresh, skus=3)
    relay = _relay(fresh, "node-a")
    await _drain(relay)
    async with fresh.database.write.begin() as conn:  # age the first two events
        await conn.execute(update(events).where(events.c.id <= 2)
                           .values(logged_at=datetime.now(UTC) - timedelta(days=8)))
        await conn.execute(update(relay_state).values(published_through=1))
    assert await relay.prune(datetime.now(UTC)) == 1  # id 2 is not published yet
    assert await fresh.queries.event_log_bounds() == (1, 3)
    async with fresh.database.write.begin() as conn:
        await conn.execute(update(relay_state).values(published_through=3))
    assert await relay.prune(datetime.now(UTC)) == 1
    assert await fresh.queries.event_log_bounds() == (2, 3)
    assert [e.id for e in await _logged(fresh)] == [3]
