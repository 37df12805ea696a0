"""What the use cases need from storage of stock: levels and their lots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

from stockline.domain.lots import Lot
from stockline.domain.model import Level
from stockline.domain.values import LocationStatus


class LevelRepository(Protocol):
    async def get(self, location_id: str, sku: str, *, for_update: bool = False) -> Level | None:
        ...

    async def lock_many(self, keys: Sequence[tuple[str, str]]
                        ) -> dict[tuple[str, str], Level]:
        """The levels of these (location, SKU) keys, locked for this transaction in key
        order; missing ones are left out."""
        ...

    async def save_many(self, levels: Sequence[Level]) -> None:
        """Write ``on_hand``, ``reserved``, ``version`` and ``updated_at`` of levels this
        transaction locked with ``lock_many``."""
        ...

    async def change(self, location_id: str, sku: str, *, now: datetime, on_hand: int = 0,
                     reserved: int = 0, in_transit: int = 0, incoming: int = 0,
                     expected_version: int | None = None) -> Level | None:
        """Add the deltas to an existing level in one guarded statement.

        None when the level is missing, not at ``expected_version``, or when the result
        would break a rule: ``available`` below 0, or a negative reserved, in transit or
        incoming. A concurrent writer waits on the row lock and then re-checks the guard,
        so nothing can oversell.
        """
        ...

    async def change_for_sale(self, location_id: str, sku: str, *, now: datetime,
                              quantity: int, from_reserved: bool = False
                              ) -> tuple[Level, LocationStatus] | None:
        """``change`` taking ``quantity`` off ``on_hand`` (and ``reserved`` too when
        ``from_reserved``), with the status of the level's location read by the same
        statement: a sale learns whether its location is open at no extra round trip."""
        ...

    async def lock_for_sale(self, keys: Sequence[tuple[str, str]]
                            ) -> tuple[dict[tuple[str, str], Level], dict[str, LocationStatus]]:
        """``lock_many``, with the status of the locations of the levels found, read by
        the same statement."""
        ...

    async def get_many(self, location_id: str, skus: Sequence[str], *,
                       for_update: bool = False) -> dict[str, Level]:
        """The levels of these SKUs that exist at the location, by SKU."""
        ...

    async def create(self, location_id: str, sku: str, on_hand: int, *,
                     now: datetime) -> Level | None:
        """Insert a new level; None when it was created concurrently."""
        ...

    async def create_many(self, location_id: str, quantities: Mapping[str, int], *,
                          now: datetime) -> list[Level]:
        """Insert the levels that do not exist yet; the ones created, in SKU order."""
        ...

    async def ensure(self, location_id: str, sku: str, *, now: datetime) -> None:
        """Create an empty level unless one exists (the caller checked the keys exist)."""
        ...

    async def mark_lotted(self, location_id: str, sku: str) -> None:
        """From now on the level keeps its stock in lots."""
        ...

    async def set_on_hand(self, location_id: str, sku: str, on_hand: int, *,
                          now: datetime) -> Level:
        """Set ``on_hand`` of an existing level that the caller holds locked."""
        ...

    async def set_settings(self, location_id: str, sku: str, *, reorder_point: int | None,
                           reorder_quantity: int | None, safety_stock: int | None,
                           now: datetime) -> Level:
        """Set the reorder settings, creating an empty level when there is none."""
        ...


class LotRepository(Protocol):
    async def list(self, location_id: str, sku: str, *, for_update: bool = False) -> list[Lot]:
        ...

    async def add(self, location_id: str, sku: str, lot: str, quantity: int, *,
                  expires_on: date | None, now: datetime) -> None:
        """Raise a lot (creating it); an expiry already known is kept."""
        ...

    async def take(self, location_id: str, sku: str, lot: str, quantity: int) -> bool:
        """Lower a lot if it holds ``quantity``; False otherwise."""
        ...
