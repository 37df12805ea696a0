"""The read side of customers: a reference's contact and how many sales carry it."""

from __future__ import annotations

from sqlalchemy import func, select

from stockline.adapters.queries.base import QueryBase
from stockline.adapters.tables import customers, sales
from stockline.domain.customers import Customer

C = customers.c


class CustomerQueries(QueryBase):
    async def customer(self, ref: str) -> Customer | None:
        """A customer not erased (an erased one is known by no reference any more)."""
        row = await self._first(select(customers).where(C.ref == ref, C.erased_at.is_(None)))
        if row is None:
            return None
        counted = await self._first(select(func.count(), func.max(sales.c.occurred_at))
                                    .where(sales.c.customer_ref == ref))
        assert counted is not None
        return Customer(ref=row.ref, contact=row.contact, sales=counted[0],
                        last_sale_at=counted[1], created_at=row.created_at,
                        updated_at=row.updated_at)
