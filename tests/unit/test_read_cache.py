"""The read cache's rules: versions only go forward, a fill that raced a change is not kept,
entries age out, a writer reads its own write, and the cache is passed by when asked or
while the event feed is behind. Over in-memory reads and a hand-driven clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from stockline.adapters.bus.base import EventRecord
from stockline.adapters.cache import Fill, LocalTier, level_key
from stockline.adapters.reads import CachedReads
from stockline.domain.events import InventoryChanged, ProductChanged
from stockline.domain.model import Level, Product

NOW = datetime(2026, 12, 4, tzinfo=UTC)
KEY = level_key("S1", "P1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tier(clock: Clock, *, ttl: float = 2.0, max_entries: int = 100) -> LocalTier:
    return LocalTier(ttl=ttl, max_entries=max_entries, clock=clock)


# -- versions ----------------------------------------------------------------------------

def test_a_value_read_is_served_until_it_is_older_than_the_ttl() -> None:
    clock = Clock()
    local = tier(clock)
    assert local.offer(KEY, "v3", 3, clock.now)
    clock.now += 1.9
    entry = local.fresh(KEY)
    assert entry is not None and entry.value == "v3"
    clock.now += 0.2
    assert local.fresh(KEY) is None


def test_a_cleared_cache_serves_nothing_and_takes_back_no_older_value() -> None:
    clock = Clock()
    local = tier(clock)
    assert local.offer(KEY, "v3", 3, clock.now)
    local.clear()
    assert local.fresh(KEY) is None and len(local) == 0
    assert not local.offer(KEY, "v2", 2, clock.now)  # read before the clear, answered late
    assert local.offer(KEY, "v3", 3, clock.now)


def test_a_newer_version_drops_the_value_and_refuses_older_reads() -> None:
    clock = Clock()
    local = tier(clock)
    local.offer(KEY, "v3", 3, clock.now)
    assert local.changed(KEY, 4)  # the value is dropped
    assert local.fresh(KEY) is None
    assert not local.offer(KEY, "v3", 3, clock.now)  # an older read is not put back
    assert local.offer(KEY, "v4", 4, clock.now)  # the version heard of is
    assert local.fresh(KEY).value == "v4"  # type: ignore[union-attr]


def test_a_late_event_never_replaces_a_newer_value() -> None:
    clock = Clock()
    local = tier(clock)
    local.offer(KEY, "v5", 5, clock.now)
    assert not local.changed(KEY, 4)
    assert not local.changed(KEY, 5)  # the version held: nothing newer
    assert local.fresh(KEY).value == "v5"  # type: ignore[union-attr]


def test_a_late_event_for_a_key_not_held_leaves_the_newest_version_known() -> None:
    clock = Clock()
    local = tier(clock)
    local.changed(KEY, 7)
    local.changed(KEY, 6)  # arrives late
    assert local.floor(KEY) == 7
    assert not local.offer(KEY, "v6", 6, clock.now)


def test_a_change_of_unknown_version_drops_the_entry() -> None:
    clock = Clock()
    local = tier(clock)
    local.offer(KEY, "v1", 1, clock.now)
    assert local.changed(KEY, None)
    assert local.fresh(KEY) is None


def test_the_oldest_written_entry_makes_room() -> None:
    clock = Clock()
    local = tier(clock, max_entries=2)
    for n in range(3):
        local.offer(level_key("S", f"P{n}"), n, 1, clock.now)
    assert len(local) == 2 and local.evictions == 1
    assert local.fresh(level_key("S", "P0")) is None
    assert local.fresh(level_key("S", "P2")) is not None


def test_the_events_of_keys_not_held_never_take_a_values_room() -> None:
    clock = Clock()
    local = tier(clock, max_entries=2)
    local.offer(KEY, "held", 1, clock.now)
    for n in range(10):
        local.changed(level_key("S", f"P{n}"), 3)
    assert local.fresh(KEY).value == "held"  # type: ignore[union-attr]
    assert local.floor(level_key("S", "P9")) == 3
    assert local.floor(level_key("S", "P0")) == 0  # forgotten for room: the TTL bounds it


# -- fills -------------------------------------------------------------------------------

async def test_a_fill_begun_before_a_change_and_finished_after_it_is_not_kept() -> None:
    clock = Clock()
    local = tier(clock)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_read(fill: Fill) -> str:
        started.set()
        await release.wait()
        kept = local.offer(KEY, "old", 1, clock.now, fill)
        return f"old kept={kept}"

    first = asyncio.create_task(local.shared_fill(KEY, slow_read))
    await started.wait()
    local.changed(KEY, None)  # a change whose version the event did not say
    release.set()
    assert await first == "old kept=False"
    assert local.fresh(KEY) is None


async def test_a_fill_that_read_the_version_an_event_brings_is_kept() -> None:
    clock = Clock()
    local = tier(clock)
    started, release = asyncio.Event(), asyncio.Event()

    async def read(fill: Fill) -> bool:
        started.set()
        await release.wait()
        return local.offer(KEY, "v2", 2, clock.now, fill)

    filling = asyncio.create_task(local.shared_fill(KEY, read))
    await started.wait()
    local.changed(KEY, 2)  # the event of the write the fill already read
    release.set()
    assert await filling
    assert local.fresh(KEY).value == "v2"  # type: ignore[union-attr]


async def test_a_request_after_a_change_does_not_join_a_fill_begun_before_it() -> None:
    clock = Clock()
    local = tier(clock)
    release = asyncio.Event()
    reads: list[str] = []

    def read(value: str) -> Any:
        async def run(fill: Fill) -> str:
            reads.append(value)
            await release.wait()
            local.offer(KEY, value, 2 if value == "new" else 1, clock.now, fill)
            return value
        return run

    before = asyncio.create_task(local.shared_fill(KEY, read("old")))
    joined = asyncio.create_task(local.shared_fill(KEY, read("never run")))
    await asyncio.sleep(0)
    local.changed(KEY, 2)  # the write commits: its event arrives
    after = asyncio.create_task(local.shared_fill(KEY, read("new")))
    await asyncio.sleep(0)
    release.set()
    assert (await before, await joined, await after) == ("old", "old", "new")
    assert reads == ["old", "new"]  # the second request joined the first read
    assert local.fresh(KEY).value == "new"  # type: ignore[union-attr]


# -- the read path -----------------------------------------------------------------------

class Reads:
    """The database's answers, counted."""

    def __init__(self) -> None:
        self.levels: dict[tuple[str, str], Level] = {}
        self.products: dict[str, Product] = {}
        self.calls = 0

    async def level(self, location_id: str, sku: str) -> Level | None:
        self.calls += 1
        return self.levels.get((location_id, sku))

    async def product(self, sku: str) -> Product | None:
        self.calls += 1
        return self.products.get(sku)

    async def products_by_sku(self, skus: Sequence[str]) -> dict[str, Product]:
        self.calls += 1
        return {s: self.products[s] for s in skus if s in self.products}

    async def close(self) -> None:
        return None


class Feed:
    def __init__(self) -> None:
        self.listeners: list[Any] = []
        self.is_behind = False

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)

    def behind(self, within: float) -> bool:
        return self.is_behind


@pytest.fixture
def db() -> Reads:
    reads = Reads()
    reads.levels["S1", "P1"] = Level(location_id="S1", sku="P1", on_hand=5, version=3)
    reads.products["P1"] = Product(sku="P1", name="One", category="c", version=2,
                                   created_at=NOW, updated_at=NOW)
    return reads


@pytest.fixture
def feed() -> Feed:
    return Feed()


@pytest.fixture
def cached(db: Reads, feed: Feed) -> CachedReads:
    return CachedReads(db, db, feed, ttl=2.0, max_entries=100,  # type: ignore[arg-type]
                       feed_window=2.0)


def sold(db: Reads, units: int) -> Level:
    level = db.levels["S1", "P1"]
    db.levels["S1", "P1"] = replace(level, on_hand=level.on_hand - units,
                                    version=level.version + 1)
    return db.levels["S1", "P1"]


async def test_a_second_read_is_served_from_the_cache(cached: CachedReads, db: Reads) -> None:
    sources: list[str] = []
    cached.on_read = lambda kind, source, age: sources.append(source)
    assert (await cached.level("S1", "P1")).on_hand == 5  # type: ignore[union-attr]
    assert (await cached.level("S1", "P1")).on_hand == 5  # type: ignore[union-attr]
    assert sources == ["database", "local"]


async def test_a_writer_reads_its_own_write(cached: CachedReads, db: Reads) -> None:
    await cached.level("S1", "P1")
    after = sold(db, 2)
    cached.committed([InventoryChanged(occurred_at=NOW, level=after, delta=-2, cause="sale",
                                       reference=None)])
    assert (await cached.level("S1", "P1")).on_hand == 3  # type: ignore[union-attr]


def record(version: int, *, type: str = "inventory.changed") -> EventRecord:
    return EventRecord(id=version, type=type, occurred_at=NOW, location_id="S1", sku="P1",
                       data={"on_hand": 0, "version": version})


async def test_an_event_heard_drops_an_older_value_and_a_late_one_drops_nothing(
        cached: CachedReads, db: Reads, feed: Feed) -> None:
    (heard,) = feed.listeners
    await cached.level("S1", "P1")  # version 3
    heard(record(3))  # the version held: nothing newer
    calls = db.calls
    await cached.level("S1", "P1")
    assert db.calls == calls
    sold(db, 1)
    heard(record(4))
    assert (await cached.level("S1", "P1")).on_hand == 4  # type: ignore[union-attr]
    assert db.calls == calls + 1


async def test_a_product_change_drops_the_product(cached: CachedReads, db: Reads,
                                                  feed: Feed) -> None:
    assert (await cached.product("P1")).name == "One"  # type: ignore[union-attr]
    db.products["P1"] = changed = replace(db.products["P1"], name="Two", version=3)
    cached.committed([ProductChanged(occurred_at=NOW, product=changed, created=False)])
    assert (await cached.product("P1")).name == "Two"  # type: ignore[union-attr]
    assert (await cached.products(["P1"]))["P1"].name == "Two"


async def test_read_after_and_a_feed_behind_pass_the_cache_by(
        cached: CachedReads, db: Reads, feed: Feed) -> None:
    sources: list[str] = []
    cached.on_read = lambda kind, source, age: sources.append(source)
    await cached.level("S1", "P1")
    sold(db, 1)  # no event heard yet
    assert (await cached.level("S1", "P1", fresh=True)).on_hand == 4  # type: ignore[union-attr]
    feed.is_behind = True
    assert (await cached.level("S1", "P1")).on_hand == 4  # type: ignore[union-attr]
    feed.is_behind = False
    assert (await cached.level("S1", "P1")).on_hand == 5  # type: ignore[union-attr]
    assert sources == ["database", "read_after", "feed_behind", "local"]


async def test_a_ttl_of_zero_turns_the_cache_off(db: Reads, feed: Feed) -> None:
    off = CachedReads(db, db, feed, ttl=0, max_entries=100,  # type: ignore[arg-type]
                      feed_window=2.0)
    await off.level("S1", "P1")
    await off.level("S1", "P1")
    assert db.calls == 2 and off.local is None and not feed.listeners
