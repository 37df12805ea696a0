"""The read side of transfers."""

from __future__ import annotations

from stockline.adapters.queries.base import QueryBase


class TransferQueries(QueryBase):
    pass
