"""The read side of reservations."""

from __future__ import annotations

from stockline.adapters.queries.base import QueryBase


class ReservationQueries(QueryBase):
    pass
