"""What a caller may hear of the event log, and the filters it asks for (query strings).

Every stream and page is limited to what its caller may hear (``scoped``): the locations
of its ``events:read`` scope (plus events of no location, such as ``product.changed``),
and the event types whose objects its role may read (a partner: availability and the
catalog). A filter asking for more is a 403. What it hears of each event is shaped by
the same rule as REST answers (``Principal.event_shape``). Each caller may have at most
``max_streams_per_principal`` streams (SSE or WebSocket) open on one node at once.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import WithJsonSchema

from stockline.adapters.bus import EventFilter
from stockline.adapters.hub import EventHub, StreamSlot, TooManyStreams
from stockline.domain.errors import Forbidden
from stockline.domain.security import Permission, Principal
from stockline.domain.values import CODE_PATTERN
from stockline.entrypoints.http.errors import RATE_LIMITED, ProblemError
from stockline.entrypoints.http.schemas.events import EventType

MAX_FILTER_VALUES = 100
MAX_ID = 2**63 - 1
STREAM_RETRY_AFTER = "10"  # seconds: streams last long, a slot frees when one ends
_CODE = re.compile(CODE_PATTERN)
_TYPES = frozenset(t.value for t in EventType)


def _listed(one: str) -> str:
    """A pattern for what _split takes: comma-separated values of ``one``, blanks allowed,
    at most MAX_FILTER_VALUES of them."""
    return rf"^\s*({one})?\s*(,\s*({one})?\s*){{0,{MAX_FILTER_VALUES - 1}}}$"


# What the filters take, declared item by item (the checks themselves are below).
CodeList = Annotated[str, WithJsonSchema({"type": "string", "pattern": _listed(
    CODE_PATTERN.strip("^$"))})]
TypeList = Annotated[str, WithJsonSchema({"type": "string", "pattern": _listed(
    "|".join(re.escape(t) for t in sorted(_TYPES)))})]

# Who may hear an event: whoever may read the object it is about.
EVENT_READS: Mapping[EventType, Permission] = {
    EventType.INVENTORY_CHANGED: Permission.INVENTORY_READ,
    EventType.INVENTORY_LOW_STOCK: Permission.INVENTORY_READ,
    EventType.SALE_RECORDED: Permission.SALES_READ,
    EventType.SALE_RETURNED: Permission.SALES_READ,
    EventType.SALE_UPDATED: Permission.SALES_READ,
    EventType.TRANSFER_SHIPPED: Permission.TRANSFERS_READ,
    EventType.TRANSFER_RECEIVED: Permission.TRANSFERS_READ,
    EventType.TRANSFER_CANCELLED: Permission.TRANSFERS_READ,
    EventType.TRANSFER_CLOSED: Permission.TRANSFERS_READ,
    EventType.RESERVATION_CREATED: Permission.RESERVATIONS_READ,
    EventType.RESERVATION_COMMITTED: Permission.RESERVATIONS_READ,
    EventType.RESERVATION_RELEASED: Permission.RESERVATIONS_READ,
    EventType.RESERVATION_EXPIRED: Permission.RESERVATIONS_READ,
    EventType.PRODUCT_CHANGED: Permission.CATALOG_READ,
    EventType.LOCATION_UPDATED: Permission.LOCATIONS_READ,
    EventType.SUPPLIER_UPDATED: Permission.SUPPLIERS_READ,
    EventType.COUNT_TASK_OPENED: Permission.INVENTORY_COUNT,
    EventType.COUNT_TASK_COMPLETED: Permission.INVENTORY_COUNT,
    EventType.FEEDBACK_RECEIVED: Permission.FEEDBACK_READ,
}


def _split(given: list[str] | None) -> list[str]:
    """Repeated and/or comma-separated values."""
    return [v.strip() for item in given or [] for v in item.split(",") if v.strip()]


def _refuse(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": message,
                                    "type": "value_error"}])


def _codes(name: str, given: list[str] | None) -> frozenset[str] | None:
    values = _split(given)
    if wrong := [v for v in values if not _CODE.fullmatch(v)]:
        raise _refuse(name, f"not a code (1-64 of A-Z a-z 0-9 - _ .): {', '.join(wrong[:5])}")
    if len(given or ()) > MAX_FILTER_VALUES or any(
            len(_split([item])) > MAX_FILTER_VALUES for item in given or ()):
        raise _refuse(name, f"at most {MAX_FILTER_VALUES} values in one parameter, and the "
                            f"parameter at most {MAX_FILTER_VALUES} times")
    return frozenset(values) or None


def _types(given: list[str] | None) -> frozenset[str] | None:
    values = frozenset(_split(given))
    if wrong := values - _TYPES:
        raise _refuse("types", f"unknown event types: {', '.join(sorted(wrong)[:5])} "
                               f"(known: {', '.join(sorted(_TYPES))})")
    return values or None


async def event_filter(
    location_id: Annotated[list[CodeList] | None, Query(
        max_length=MAX_FILTER_VALUES,
        description="Only events of these locations (repeat, or separate with commas)")] = None,
    sku: Annotated[list[CodeList] | None, Query(
        max_length=MAX_FILTER_VALUES,
        description="Only events of these SKUs (repeat, or separate with commas)")] = None,
    types: Annotated[list[TypeList] | None, Query(
        description="Only these event types (repeat, or separate with commas), e.g. "
                    "`types=sale.recorded,inventory.low_stock`")] = None,
) -> EventFilter:
    return EventFilter(location_ids=_codes("location_id", location_id),
                       skus=_codes("sku", sku), types=_types(types))


def audible_types(principal: Principal) -> frozenset[str]:
    """The event types whose objects the caller's role may read."""
    return frozenset(t.value for t, needed in EVENT_READS.items() if principal.may(needed))


def scoped(principal: Principal, wanted: EventFilter) -> EventFilter:
    """``wanted`` limited to what the caller may hear; Forbidden when it asks for more.

    Without a location filter, a caller limited to some locations hears theirs and the
    events of no location; without a type filter, the types its role may read.
    """
    location_ids, unlocated = wanted.location_ids, wanted.include_unlocated
    visible = principal.visible(Permission.EVENTS_READ)
    if visible is not None:
        if location_ids is None:
            location_ids, unlocated = visible, True
        elif outside := sorted(location_ids - visible):
            raise Forbidden(f"events are limited to this key's locations; "
                            f"{', '.join(outside[:5])} is not one of them")
    types, audible = wanted.types, audible_types(principal)
    if types is None:
        types = None if audible == _TYPES else audible
    elif unheard := sorted(types - audible):
        raise Forbidden(f"the {principal.role.value} role may not hear {', '.join(unheard)}")
    return dataclasses.replace(wanted, location_ids=location_ids, types=types,
                               include_unlocated=unlocated)


def open_stream(hub: EventHub, principal: Principal, limit: int,
                protocol: str = "sse") -> StreamSlot:
    """A slot for one more stream of the caller on this node (429 beyond ``limit``)."""
    try:
        return hub.open_stream(principal.id, limit, protocol)
    except TooManyStreams as exc:
        raise ProblemError(RATE_LIMITED, f"{exc}; close one or retry later",
                           {"Retry-After": STREAM_RETRY_AFTER}) from exc


FilterDep = Annotated[EventFilter, Depends(event_filter)]
After = Annotated[int | None, Query(ge=0, le=MAX_ID, description=(
    "Start after this event id (replays every stored matching event after it)"))]
# What event_id takes: blank (no point given) or an id up to MAX_ID (19 digits may pass it).
LAST_EVENT_ID_PATTERN = r"^\s*([0-9]{1,18})?\s*$"
_MAX_ID_DIGITS = len(str(MAX_ID))


def event_id(location: str, name: str, value: str | None) -> int | None:
    """An event id given as text (a header, a cursor): None when blank, a 422 unless it is
    a non-negative integer up to MAX_ID. Its length is checked before it is converted:
    Python refuses to convert more than 4,300 digits (and a long one costs time)."""
    if value is None or not value.strip():  # an empty Last-Event-ID: no point given
        return None
    value = value.strip()
    if (len(value) > _MAX_ID_DIGITS or not value.isascii() or not value.isdigit()
            or int(value) > MAX_ID):
        raise RequestValidationError([{"loc": (location, name), "type": "int_parsing",
                                       "msg": "must be an event id (a non-negative integer "
                                              f"up to {MAX_ID})"}])
    return int(value)
