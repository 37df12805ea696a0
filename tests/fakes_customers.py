"""In-memory fake of the customer repository (see tests/fakes.py for the shared rules).

Customers live in ``uow.store.table("customers")`` by reference; each sale's reference in
``uow.store.table("sale_customers")`` by sale id, as the sales table's column keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from stockline.domain.customers import CustomerDetails


@dataclass(frozen=True, slots=True)
class StoredCustomer:
    ref: str
    contact: str | None
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime


class FakeCustomers:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _rows(self) -> dict[str, StoredCustomer]:
        rows: dict[str, StoredCustomer] = self._uow.store.table("customers")
        return rows

    def _sales(self) -> dict[str, str]:
        refs: dict[str, str] = self._uow.store.table("sale_customers")
        return refs

    def link(self, sale_id: str, ref: str) -> None:
        self._sales()[sale_id] = ref

    async def remember(self, details: CustomerDetails, now: datetime, *,
                       update_contact: bool) -> None:
        rows = self._rows()
        known = rows.get(details.ref)
        if known is None:
            rows[details.ref] = StoredCustomer(details.ref, details.contact, None, now, now)
        elif details.contact is not None and update_contact:
            rows[details.ref] = replace(known, contact=details.contact, updated_at=now)

    async def erase(self, ref: str, pseudonym: str, now: datetime) -> int | None:
        rows = self._rows()
        known = rows.pop(ref, None)
        if known is None:
            return None
        rows[pseudonym] = replace(known, ref=pseudonym, contact=None, erased_at=now,
                                  updated_at=now)
        sales = self._sales()
        changed = [sale_id for sale_id, r in sales.items() if r == ref]
        for sale_id in changed:
            sales[sale_id] = pseudonym
        return len(changed)


def stored_customers(uows: Any) -> dict[str, StoredCustomer]:
    """The committed customers of a FakeUnitOfWorkFactory, by reference."""
    return dict(uows.committed.table("customers"))


def sale_customers(uows: Any) -> dict[str, str]:
    """The committed customer reference of each sale that has one, by sale id."""
    return dict(uows.committed.table("sale_customers"))
