"""The read side of suppliers, purchase orders and replenishment suggestions."""

from __future__ import annotations

from stockline.adapters.queries.base import QueryBase


class PurchasingQueries(QueryBase):
    pass
