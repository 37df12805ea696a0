"""The one read of a single level and a single product, through the read cache.

REST (the declared route and its lean handler), GraphQL and gRPC all read one level or
one product here, so they answer alike; lists, reports and the past are read from the
database by their own queries. Nothing that decides about stock reads here: the services
read through their unit of work (a locked row, a guarded update), never the cache.

Where the cache answers from (``adapters.cache`` holds its rules):

1. nowhere, when it is off (``ttl`` 0), when the request asks to read after a given
   commit (``fresh``: the ``Stockline-Read-After`` header), or while this process's event
   feed is behind (its hub has not known itself caught up with the event log for
   ``feed_window`` seconds): the database answers;
2. this process's tier; 3. Redis, when configured; 4. the database, whose value is then
   kept in both tiers.

The cache learns of changes two ways: the events this process commits (``committed``,
called before the write's answer goes out: a writer reads its own write) and every event
of the log as this process's hub hears it (``heard``: the other processes' and nodes'
changes, within the event latency).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from stockline.adapters.bus.base import EventRecord
from stockline.adapters.cache import Fill, Key, LocalTier, level_key, product_key
from stockline.adapters.cache_redis import RedisTier
from stockline.adapters.hub import EventHub
from stockline.adapters.queries import Queries
from stockline.adapters.queries.hot import HotReads
from stockline.domain.events import Event, InventoryChanged, LowStock, ProductChanged
from stockline.domain.model import Level, Product

V = TypeVar("V", Level, Product)
LEVEL_EVENTS = frozenset({InventoryChanged.TYPE, LowStock.TYPE})
# Where a read was answered from: local, redis, database (the cache missed), read_after
# and feed_behind (the cache was passed by); the age of the value served, when cached.
ReadHook = Callable[[str, str, float | None], None]


class CachedReads:
    def __init__(self, queries: Queries, hot: HotReads, feed: EventHub, *, ttl: float,
                 max_entries: int, feed_window: float, redis: RedisTier | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._queries, self.hot, self._feed, self._window = queries, hot, feed, feed_window
        self._ttl, self._clock = ttl, clock
        self.local = LocalTier(ttl=ttl, max_entries=max_entries, clock=clock) if ttl else None
        self.redis = redis if ttl else None
        self.on_read: ReadHook = lambda kind, source, age: None
        # Told (kind, "commit" or "event") of each cached value a change dropped (metrics).
        self.on_dropped: Callable[[str, str], None] = lambda kind, source: None
        if self.local is not None:
            feed.add_listener(self.heard)

    # -- the reads --------------------------------------------------------------------
    async def level(self, location_id: str, sku: str, *, fresh: bool = False) -> Level | None:
        """The stored level (None: never stocked there, or no such location or SKU)."""
        async def load() -> Level | None:
            return (await self.hot.level(location_id, sku)
                    or await self._queries.level(location_id, sku))
        return await self._read(level_key(location_id, sku), load, fresh)

    async def product(self, sku: str, *, fresh: bool = False) -> Product | None:
        async def load() -> Product | None:
            return await self._queries.product(sku)
        return await self._read(product_key(sku), load, fresh)

    async def products(self, skus: Sequence[str], *, fresh: bool = False
                       ) -> dict[str, Product]:
        """Many products at once (GraphQL's loader): those this process holds, the rest
        in one query (kept here, not in Redis)."""
        local = self.local
        if local is None or not self._trusted("product", fresh, count=len(skus)):
            return await self._queries.products_by_sku(skus)
        found: dict[str, Product] = {}
        missing = []
        for sku in skus:
            entry = local.fresh(product_key(sku))
            if entry is None:
                missing.append(sku)
            else:
                found[sku] = entry.value
                self.on_read("product", "local", self._clock() - entry.stamp)
        if missing:
            evictions, stamp = local.evictions, self._clock()
            loaded = await self._queries.products_by_sku(missing)
            for _ in missing:
                self.on_read("product", "database", None)
            keep = local.evictions == evictions  # no tombstone forgotten meanwhile
            for sku, product in loaded.items():
                found[sku] = product
                if keep:
                    local.offer(product_key(sku), product, product.version, stamp)
        return found

    async def _read(self, key: Key, load: Callable[[], Awaitable[V | None]],
                    fresh: bool) -> V | None:
        local = self.local
        if local is None or not self._trusted(key[0], fresh):
            return await load()
        entry = local.fresh(key)
        if entry is not None:
            self.on_read(key[0], "local", self._clock() - entry.stamp)
            value: V = entry.value
            return value

        async def fill(ticket: Fill) -> tuple[V | None, str, float | None]:
            return await self._fill(key, ticket, load)
        found, source, age = await local.shared_fill(key, fill)
        self.on_read(key[0], source, age)
        return found  # type: ignore[no-any-return]

    def _trusted(self, kind: str, fresh: bool, count: int = 1) -> bool:
        """Whether the cache may answer: not for a read after a commit, nor while this
        process's feed of events is behind."""
        source = "read_after" if fresh else "feed_behind" if self._feed.behind(
            self._window) else None
        if source is None:
            return True
        for _ in range(count):
            self.on_read(kind, source, None)
        return False

    async def _fill(self, key: Key, fill: Fill, load: Callable[[], Awaitable[V | None]]
                    ) -> tuple[V | None, str, float | None]:
        assert self.local is not None
        if self.redis is not None:
            shared = await self.redis.get(key)
            if (shared is not None and shared.value is not None
                    and shared.version >= self.local.floor(key) and shared.age < self._ttl):
                self.local.offer(key, shared.value, shared.version,
                                 self._clock() - shared.age, fill)
                return shared.value, "redis", shared.age
        stamp, read_at = self._clock(), time.time()
        value = await load()
        if (value is not None and self.local.offer(key, value, value.version, stamp, fill)
                and self.redis is not None):
            self.redis.put(key, value, value.version, read_at)
        return value, "database", None

    # -- what changed -----------------------------------------------------------------
    def committed(self, events: Sequence[Event]) -> None:
        """Changes this process has just committed (before their answer goes out)."""
        if self.local is None:
            return
        for event in events:
            changed = _changed(event)
            if changed is not None:
                key, version = changed
                if self.local.changed(key, version):
                    self.on_dropped(key[0], "commit")
                if self.redis is not None:
                    self.redis.changed(key, version)

    def heard(self, record: EventRecord) -> None:
        """An event of the log, as this process's hub delivers it (in id order)."""
        if self.local is None:
            return
        key = _key_of(record)
        if key is not None and self.local.changed(key, _version(record.data)):
            self.on_dropped(key[0], "event")

    async def start(self) -> None:
        if self.redis is not None:
            self.redis.start()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.close()


def _changed(event: Event) -> tuple[Key, int] | None:
    if isinstance(event, InventoryChanged | LowStock):
        return level_key(event.level.location_id, event.level.sku), event.level.version
    if isinstance(event, ProductChanged):
        return product_key(event.product.sku), event.product.version
    return None


def _key_of(record: EventRecord) -> Key | None:
    if record.type in LEVEL_EVENTS and record.location_id and record.sku:
        return level_key(record.location_id, record.sku)
    if record.type == ProductChanged.TYPE and record.sku:
        return product_key(record.sku)
    return None


def _version(data: dict[str, Any]) -> int | None:
    version = data.get("version")
    return version if type(version) is int else None
