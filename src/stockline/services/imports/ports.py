"""What importing a file needs from storage beyond the other use cases: bulk reads and
writes of whole rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from stockline.domain.documents import Supplier
from stockline.domain.model import Location, Product


class ImportRepository(Protocol):
    async def products(self, skus: Sequence[str]) -> dict[str, Product]:
        """The products of these SKUs that exist, locked until the transaction ends."""
        ...

    async def add_products(self, made: Sequence[Product]) -> int:
        """Insert those whose SKU is free; how many were (fewer: one was made meanwhile)."""
        ...

    async def update_products(self, changed: Sequence[Product]) -> None: ...

    async def locations(self, codes: Sequence[str]) -> dict[str, Location]:
        """The locations of these codes that exist, locked until the transaction ends."""
        ...

    async def existing_locations(self, codes: Sequence[str]) -> set[str]:
        """Which of these codes name a location (nothing locked)."""
        ...

    async def add_locations(self, made: Sequence[Location]) -> int: ...

    async def update_locations(self, changed: Sequence[Location]) -> None:
        """Store everything but the type, which a code keeps for good."""
        ...

    async def suppliers(self, codes: Sequence[str]) -> dict[str, Supplier]:
        """The suppliers of these codes that exist (without their products), locked."""
        ...

    async def add_suppliers(self, made: Sequence[Supplier]) -> int: ...

    async def update_suppliers(self, changed: Sequence[Supplier]) -> None:
        """Store name, contact, lead time and updated_at (their products stay)."""
        ...
