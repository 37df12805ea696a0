"""Events as clients see them: log entries, pages of the log, the reset notice, and the
messages of the WebSocket stream."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from stockline.entrypoints.http.schemas.common import Body, CodeStr

EventId = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]


class EventType(StrEnum):
    """Every event type the log holds (API.md, Events)."""

    INVENTORY_CHANGED = "inventory.changed"
    INVENTORY_LOW_STOCK = "inventory.low_stock"
    SALE_RECORDED = "sale.recorded"
    SALE_RETURNED = "sale.returned"
    SALE_UPDATED = "sale.updated"
    TRANSFER_SHIPPED = "transfer.shipped"
    TRANSFER_RECEIVED = "transfer.received"
    TRANSFER_CANCELLED = "transfer.cancelled"
    TRANSFER_CLOSED = "transfer.closed"
    RESERVATION_CREATED = "reservation.created"
    RESERVATION_COMMITTED = "reservation.committed"
    RESERVATION_RELEASED = "reservation.released"
    RESERVATION_EXPIRED = "reservation.expired"
    PRODUCT_CHANGED = "product.changed"
    LOCATION_UPDATED = "location.updated"
    SUPPLIER_UPDATED = "supplier.updated"
    COUNT_TASK_OPENED = "count_task.opened"
    COUNT_TASK_COMPLETED = "count_task.completed"
    FEEDBACK_RECEIVED = "feedback.received"


class EventOut(BaseModel):
    """One logged event; ``id`` is global, gap-free and grows in commit order."""

    id: int
    type: str = Field(examples=["inventory.changed"])
    occurred_at: datetime
    location_id: str | None
    sku: str | None
    data: dict[str, Any]


class ResetOut(BaseModel):
    """The point asked for cannot be resumed exactly: what was skipped, where it goes on."""

    reason: Literal["pruned", "ahead_of_log"] = Field(
        description="`pruned`: events after the point were dropped by retention; "
                    "`ahead_of_log`: the point is beyond the newest event of this log")
    detail: str
    requested_after: int
    resumes_after: int = Field(description="The stream (or list) goes on after this id")


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None = Field(
        description="The id to pass as ?after= (or ?cursor=) for the next page; null on the "
                    "last page (then continue after the last item's id)")
    reset: ResetOut | None = Field(
        default=None, description="Set when ?after= named a point older than the retention: "
                                  "the page starts at the oldest event kept")


class SubscribeMessage(Body):
    """Start (or replace) the subscription of a WebSocket: filters, and where to start."""

    action: Literal["subscribe"]
    location_id: Annotated[list[CodeStr], Field(max_length=100)] | None = None
    sku: Annotated[list[CodeStr], Field(max_length=100)] | None = None
    types: Annotated[list[EventType], Field(max_length=20)] | None = None
    after: EventId | None = Field(
        default=None, description="Replay every matching event after this id first; "
                                  "without it, live events from now on")


class UnsubscribeMessage(Body):
    action: Literal["unsubscribe"]


ClientMessage = TypeAdapter[SubscribeMessage | UnsubscribeMessage](
    Annotated[SubscribeMessage | UnsubscribeMessage, Field(discriminator="action")])


class TicketOut(BaseModel):
    """A single-use ticket that opens one event stream in place of a key (``?ticket=``)."""

    ticket: str = Field(description="Shown once; spent by the first request that presents "
                                    "it, whatever the answer")
    expires_in: int = Field(description="Seconds within which it must be used",
                            examples=[60])
