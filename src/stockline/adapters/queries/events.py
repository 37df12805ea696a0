"""The read side of the event log: replay after an id, bounds for resume and reset."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import ColumnElement, or_, select

from stockline.adapters.bus.base import EventFilter, EventRecord
from stockline.adapters.queries.base import QueryBase
from stockline.adapters.tables import events, relay_state

E = events.c


def event_from_row(row: Any) -> EventRecord:
    return EventRecord(id=row.id, type=row.type, occurred_at=row.occurred_at,
                       location_id=row.location_id, sku=row.sku, data=orjson.loads(row.payload),
                       traceparent=row.traceparent)


def filter_conditions(wanted: EventFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.location_ids is not None:
        located = E.location_id.in_(sorted(wanted.location_ids))
        conditions.append(or_(located, E.location_id.is_(None)) if wanted.include_unlocated
                          else located)
    if wanted.skus is not None:
        conditions.append(E.sku.in_(sorted(wanted.skus)))
    if wanted.types is not None:
        conditions.append(E.type.in_(sorted(wanted.types)))
    return conditions


class EventQueries(QueryBase):
    async def events_after(self, after: int, wanted: EventFilter, limit: int) -> list[EventRecord]:
        """Logged events with an id above ``after`` that ``wanted`` matches, oldest first."""
        stmt = (select(events).where(E.id > after, *filter_conditions(wanted))
                .order_by(E.id).limit(limit))
        return [event_from_row(r) for r in await self._all(stmt)]

    async def event_log_bounds(self) -> tuple[int, int]:
        """(the last id pruned by retention, the last id assigned): replayable is between."""
        row = await self._first(select(relay_state.c.pruned_through, relay_state.c.last_event_id)
                                .where(relay_state.c.name == "relay"))
        return (int(row.pruned_through), int(row.last_event_id)) if row else (0, 0)
