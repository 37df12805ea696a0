"""Customers (SQL): the reference and contact a sale may carry, kept apart from sales."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.dialects import upsert
from stockline.adapters.tables import customers, sales
from stockline.domain.customers import CustomerDetails

C = customers.c


class SqlCustomers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def remember(self, details: CustomerDetails, now: datetime, *,
                       update_contact: bool) -> None:
        """Add the customer; with ``update_contact``, an existing one takes the newer
        contact (a sale without one keeps the old)."""
        insert = upsert(self._conn, customers).values(
            ref=details.ref, contact=details.contact, created_at=now, updated_at=now)
        if details.contact is None or not update_contact:
            await self._conn.execute(insert.on_conflict_do_nothing())
            return
        await self._conn.execute(insert.on_conflict_do_update(
            index_elements=[C.ref], set_={"contact": details.contact, "updated_at": now}))

    async def erase(self, ref: str, pseudonym: str, now: datetime) -> int | None:
        """Put ``pseudonym`` in place of ``ref`` everywhere and drop the contact; the number
        of sales changed, or None for an unknown reference."""
        found = (await self._conn.execute(
            select(C.ref).where(C.ref == ref).with_for_update())).first()
        if found is None:
            return None
        changed = await self._conn.execute(
            update(sales).where(sales.c.customer_ref == ref).values(customer_ref=pseudonym))
        await self._conn.execute(update(customers).where(C.ref == ref).values(
            ref=pseudonym, contact=None, erased_at=now, updated_at=now))
        return changed.rowcount
