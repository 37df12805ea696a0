"""The read cache of single levels and products: this process's tier, versioned.

Each entry holds a value with the ``version`` it had in the database and when it was read
from there. The rules, in one place (``LocalTier``):

- **Versions only go forward.** What the cache learns of a newer version (an event heard
  from the event log, or a change this process committed) leaves a *tombstone* at that
  version unless the entry already holds it or a later one: a late event never replaces a
  newer value, and a value read from the database (or from the shared tier) is kept only
  when its version is at least the newest the cache has heard of.
- **A fill that raced a change is dropped.** A read of the database begun before a change
  and finished after its event would put back the old value: the fill under way learns
  the event's version and keeps only a value at least that new (the tombstone's version
  refuses it too), and a request that comes after the event starts a fill of its own
  instead of joining one that may have read the database before the change.
- **Entries age out.** A value older than the TTL (counted from its read of the database,
  whichever tier it passed through) is read again, so a lost event leaves a value stale
  for at most the TTL.

The cache holds at most ``max_entries`` entries (values, and tombstones of keys it held),
forgetting the oldest written first, and as many versions heard of for keys it does not
hold (the events of every key pass through; they never take a value's room).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Key = tuple[str, ...]  # ("level", location_id, sku) or ("product", sku)


def level_key(location_id: str, sku: str) -> Key:
    return ("level", location_id, sku)


def product_key(sku: str) -> Key:
    return ("product", sku)


@dataclass(slots=True)
class Entry:
    value: Any  # None: a tombstone (this version exists; its value is not held here)
    version: int
    stamp: float  # monotonic time the value was read from the database


@dataclass(slots=True, eq=False)
class Fill:
    """One read of the database under way for a key, shared by the requests that wait on
    it. ``newest``: the newest version the key changed to meanwhile (a value older than
    that is not kept); ``spoiled`` when it changed to a version not told."""

    task: asyncio.Task[Any] | None = None
    newest: int = 0
    spoiled: bool = False


class LocalTier:
    def __init__(self, *, ttl: float, max_entries: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._max, self._clock = ttl, max_entries, clock
        self._entries: dict[Key, Entry] = {}
        # The newest version heard of for keys not held: a floor that never takes a held
        # value's room (the events of every key in the system pass through here).
        self._heard: dict[Key, int] = {}
        self._fills: dict[Key, Fill] = {}
        self.evictions = 0  # entries forgotten for room: a batch fill that saw one keeps none

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every value held (the versions heard of stay: none can come back older)."""
        for key, entry in list(self._entries.items()):
            self._hear(key, entry.version)
        self._entries.clear()

    def fresh(self, key: Key) -> Entry | None:
        """The entry of ``key`` if it holds a value younger than the TTL."""
        entry = self._entries.get(key)
        if entry is None or entry.value is None or self._clock() - entry.stamp >= self.ttl:
            return None
        return entry

    def floor(self, key: Key) -> int:
        """The newest version of ``key`` the cache has heard of (0: none)."""
        entry = self._entries.get(key)
        return self._heard.get(key, 0) if entry is None else entry.version

    def offer(self, key: Key, value: Any, version: int, stamp: float,
              fill: Fill | None = None) -> bool:
        """Keep ``value`` (read at ``stamp``) unless a newer version is known (to the cache,
        or to the fill it came from), or it is already too old; whether it was kept."""
        if fill is not None and (fill.spoiled or version < fill.newest):
            return False
        entry = self._entries.get(key)
        if entry is not None and (entry.version > version or (
                entry.version == version and entry.value is not None
                and entry.stamp >= stamp)):
            return False
        if self._heard.get(key, 0) > version or self._clock() - stamp >= self.ttl:
            return False
        self._heard.pop(key, None)
        self._put(key, Entry(value, version, stamp))
        return True

    def changed(self, key: Key, version: int | None) -> bool:
        """``key`` is at ``version`` now (None: at some version not told): an older entry
        becomes a tombstone, a fill under way keeps its value only if it is at least that
        version, and a request from now on starts a fill of its own (the one under way
        may have read the database before the change); whether a value was dropped."""
        fill = self._fills.pop(key, None)
        if fill is not None:
            fill.newest = max(fill.newest, version or 0)
            fill.spoiled = fill.spoiled or version is None
        entry = self._entries.get(key)
        if version is None:
            self._heard.pop(key, None)
            dropped = self._entries.pop(key, None)
            return dropped is not None and dropped.value is not None
        if entry is None:
            self._hear(key, version)
            return False
        if entry.version >= version:
            return False
        self._put(key, Entry(None, version, self._clock()))
        return entry.value is not None

    def _hear(self, key: Key, version: int) -> None:
        """Keep ``version`` as the floor of a key not held (the newest heard of wins)."""
        newest = max(version, self._heard.pop(key, 0))
        if len(self._heard) >= self._max:
            del self._heard[next(iter(self._heard))]
            self.evictions += 1
        self._heard[key] = newest

    def _put(self, key: Key, entry: Entry) -> None:
        if self._entries.pop(key, None) is None and len(self._entries) >= self._max:
            oldest = next(iter(self._entries))
            del self._entries[oldest]
            self.evictions += 1
        self._entries[key] = entry  # at the end: the order is the order of writing

    async def shared_fill(self, key: Key, read: Callable[[Fill], Awaitable[Any]]) -> Any:
        """``read(fill)``, run once for the requests that miss ``key`` together: a later
        request joins the fill under way unless the key changed since it began."""
        fill = self._fills.get(key)
        if fill is None:
            fill = self._fills[key] = Fill()
            fill.task = asyncio.ensure_future(self._run(key, fill, read))
        assert fill.task is not None
        # Shielded: one waiter going away (a client hung up) cancels no other's read.
        return await asyncio.shield(fill.task)

    async def _run(self, key: Key, fill: Fill, read: Callable[[Fill], Awaitable[Any]]) -> Any:
        try:
            return await read(fill)
        finally:
            if self._fills.get(key) is fill:
                del self._fills[key]
