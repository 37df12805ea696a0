"""The sales repository's status writes (payment and fulfillment), apart from the sale path."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.tables import sales
from stockline.domain.model import Sale

S = sales.c


class SaleStatusWrites:
    _conn: AsyncConnection

    async def set_statuses(self, *, before: Sale, after: Sale) -> bool:
        """Write ``after``'s statuses if the row still holds ``before``'s (False if not)."""
        stmt = (sales.update()
                .where(S.id == after.id, S.payment_status == before.payment_status.value,
                       S.fulfillment_status == before.fulfillment_status.value)
                .values(payment_status=after.payment_status.value,
                        fulfillment_status=after.fulfillment_status.value)
                .returning(S.id))
        return (await self._conn.execute(stmt)).first() is not None
