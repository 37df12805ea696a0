"""Data loaders: the nested fields of a page of objects read together, in one statement
per kind of field and level of the query, whatever the page's size.

A loader gathers the keys every resolver of one tick asks for and reads them all at once
(``adapters.queries.nested``). Lists nested in a page (a product's levels) are loaded per
set of arguments: the parents that ask the same page share a statement. Nothing is cached
between ticks (``cache=False``): a WebSocket keeps one context for all its operations,
which must not see each other's stale reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from stockline.adapters.queries import Page, Queries
from stockline.adapters.queries.base import Within
from stockline.adapters.reads import CachedReads
from stockline.domain.lots import Lot
from stockline.domain.model import Level, LocationStock, Product, Sale
from stockline.domain.values import LocationType

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class LevelsAsked:
    """The page of levels a nested field asks of each of its parents."""

    location_type: LocationType | None
    below_reorder_point: bool | None
    limit: int
    cursor: str | None
    within: Within


@dataclass(frozen=True, slots=True)
class SalesAsked:
    """The page of sales a location's nested field asks for."""

    start: datetime | None
    end: datetime | None
    sku: str | None
    channel: str | None
    limit: int
    cursor: str | None
    within: Within


def _by_key(read: Callable[[list[K]], Awaitable[dict[K, V]]]
            ) -> Callable[[list[K]], Awaitable[list[V | None]]]:
    async def load(keys: list[K]) -> list[V | None]:
        found = await read(keys)
        return [found.get(k) for k in keys]
    return load


def _grouped(read: Callable[[Any, list[str]], Awaitable[dict[str, Page[V]]]]
             ) -> Callable[[list[tuple[str, Any]]], Awaitable[list[Page[V]]]]:
    """A loader of (parent, arguments) keys: one read per distinct set of arguments."""
    async def load(keys: list[tuple[str, Any]]) -> list[Page[V]]:
        parents: dict[Any, list[str]] = defaultdict(list)
        for parent, asked in keys:
            parents[asked].append(parent)
        pages: dict[tuple[str, Any], Page[V]] = {}
        for asked, group in parents.items():
            for parent, page in (await read(asked, group)).items():
                pages[(parent, asked)] = page
        return [pages[key] for key in keys]
    return load


class Loaders:
    """One request's loaders, over the read queries."""

    def __init__(self, queries: Queries, reads: CachedReads, *, fresh: bool = False) -> None:
        self._queries, self._reads, self._fresh = queries, reads, fresh
        self.products: DataLoader[str, Product | None] = DataLoader(
            _by_key(self._products), cache=False)
        self.locations: DataLoader[str, LocationStock | None] = DataLoader(
            _by_key(self._locations), cache=False)
        self.lots: DataLoader[tuple[str, str], list[Lot] | None] = DataLoader(
            _by_key(queries.lots_of), cache=False)
        self.levels_of_product: DataLoader[tuple[str, LevelsAsked], Page[Level]] = DataLoader(
            _grouped(self._levels("sku")), cache=False)
        self.levels_at: DataLoader[tuple[str, LevelsAsked], Page[Level]] = DataLoader(
            _grouped(self._levels("location_id")), cache=False)
        self.sales_at: DataLoader[tuple[str, SalesAsked], Page[Sale]] = DataLoader(
            _grouped(self._sales), cache=False)

    async def _products(self, skus: list[str]) -> dict[str, Product]:
        """Through the read cache, as REST reads one product."""
        return await self._reads.products(skus, fresh=self._fresh)

    async def _locations(self, codes: list[str]) -> dict[str, LocationStock]:
        """Locations with the units they hold, as REST answers a location."""
        found = await self._queries.locations_by_code(codes)
        units = await self._queries.on_hand_units(list(found))
        return {code: LocationStock(location=x, on_hand_units=units[code])
                for code, x in found.items()}

    def _levels(self, by: str) -> Callable[[LevelsAsked, Sequence[str]],
                                           Awaitable[dict[str, Page[Level]]]]:
        async def read(asked: LevelsAsked, parents: Sequence[str]) -> dict[str, Page[Level]]:
            return await self._queries.levels_of(
                by=by, parents=parents, location_type=asked.location_type,
                below_reorder_point=asked.below_reorder_point, limit=asked.limit,
                cursor=asked.cursor, within=asked.within)
        return read

    async def _sales(self, asked: SalesAsked, parents: Sequence[str]) -> dict[str, Page[Sale]]:
        return await self._queries.sales_at(
            parents=parents, start=asked.start, end=asked.end, sku=asked.sku,
            channel=asked.channel, limit=asked.limit, cursor=asked.cursor,
            within=asked.within)
