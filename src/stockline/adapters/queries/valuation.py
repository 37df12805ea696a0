"""Stock on hand at an instant, valued at cost, by location, category and currency.

The cost of a unit of a SKU at an instant is, first, the unit cost of the purchase-order
line of its last receipt recorded by then (a receipt whose line has a cost; at any
location: what the business last paid); else its cheapest supplier cost today (supplier
costs have no history; the lowest amount, then the currency code, then the supplier code,
so the choice is the same each time); else none, and its units are counted as unvalued.
Currencies are never added together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from stockline.adapters.queries.base import QueryBase
from stockline.adapters.tables import (
    products,
    purchase_order_lines,
    stock_movements,
    supplier_products,
)
from stockline.domain.values import MovementType

M, POL, SP = stock_movements.c, purchase_order_lines.c, supplier_products.c
Cost = tuple[int, str]  # (amount in 1/10,000 of the currency unit, currency)
CHUNK = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class StockValue:
    """Units at a location in a category whose cost is in ``currency`` (None: the units
    of no known cost), and their value in 1/10,000 of that currency (0 when None)."""

    location_id: str
    category: str
    currency: str | None
    units: int
    value_units: int


class ValuationQueries(QueryBase):
    async def stock_value(self, as_of: datetime,
                          within: frozenset[str] | None) -> list[StockValue]:
        """On hand at ``as_of`` at the locations ``within`` (None: all), valued at cost,
        by location, category and currency."""
        on_hand = await self._on_hand(as_of, within)
        skus = sorted({sku for _, sku, _, _ in on_hand})
        costs = await self._supplier_costs(skus)
        costs.update(await self._paid(skus, as_of))
        units: dict[tuple[str, str, str | None], list[int]] = defaultdict(lambda: [0, 0])
        for location_id, sku, category, count in on_hand:
            cost = costs.get(sku)
            row = units[location_id, category, cost[1] if cost else None]
            row[0] += count
            row[1] += count * cost[0] if cost else 0
        return [StockValue(location_id=loc, category=cat, currency=cur, units=u, value_units=v)
                for (loc, cat, cur), (u, v) in sorted(units.items(), key=_order)]

    async def _on_hand(self, as_of: datetime, within: frozenset[str] | None
                       ) -> list[tuple[str, str, str, int]]:
        last = select(func.max(M.id).label("id")).where(M.recorded_at <= as_of)
        if within is not None:
            last = last.where(M.location_id.in_(sorted(within)))
        latest = last.group_by(M.location_id, M.sku).subquery()
        stmt = (select(M.location_id, M.sku, products.c.category, M.balance_after)
                .join(latest, M.id == latest.c.id)
                .join(products, products.c.sku == M.sku).where(M.balance_after > 0))
        return [(r.location_id, r.sku, r.category, int(r.balance_after))
                for r in await self._all(stmt)]

    async def _paid(self, skus: list[str], as_of: datetime) -> dict[str, Cost]:
        """The unit cost of each SKU's last purchase-order receipt recorded by ``as_of``."""
        found: dict[str, Cost] = {}
        line = and_(POL.purchase_order_id == M.reference, POL.sku == M.sku,
                    POL.unit_cost_amount.is_not(None), POL.currency.is_not(None))
        for start in range(0, len(skus), CHUNK):
            last = (select(func.max(M.id).label("id")).join(purchase_order_lines, line)
                    .where(M.sku.in_(skus[start:start + CHUNK]), M.recorded_at <= as_of,
                           M.type == MovementType.RECEIPT.value)
                    .group_by(M.sku).subquery())
            stmt = (select(M.sku, POL.unit_cost_amount, POL.currency)
                    .join(last, M.id == last.c.id).join(purchase_order_lines, line)
                    .order_by(M.sku, POL.line_no.desc()))
            found.update({r.sku: (int(r.unit_cost_amount), r.currency)
                          for r in await self._all(stmt)})
        return found

    async def _supplier_costs(self, skus: list[str]) -> dict[str, Cost]:
        """Each SKU's cheapest supplier cost."""
        found: dict[str, Cost] = {}
        for start in range(0, len(skus), CHUNK):
            stmt = (select(SP.sku, SP.cost_amount, SP.currency)
                    .where(SP.sku.in_(skus[start:start + CHUNK]))
                    .order_by(SP.sku, SP.cost_amount.desc(), SP.currency.desc(),
                              SP.supplier_code.desc()))
            # The last row of each SKU is its cheapest: it overwrites the dearer ones.
            found.update({r.sku: (int(r.cost_amount), r.currency)
                          for r in await self._all(stmt)})
        return found


def _order(item: tuple[tuple[str, str, str | None], list[int]]) -> tuple[str, str, str]:
    (location_id, category, currency), _ = item
    return location_id, category, currency or ""
