"""What a caller may hear on the event log and streams, and how many streams it may hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stockline.adapters.bus.base import EventFilter, EventRecord
from stockline.adapters.hub import EventHub, TooManyStreams
from stockline.domain.errors import Forbidden
from stockline.domain.security import PARTNER_EVENT_TYPES, Principal, Role
from stockline.entrypoints.http.schemas.events import EventType
from stockline.entrypoints.http.streams.scope import EVENT_READS, audible_types, scoped

HOME, FOREIGN = "STORE-1", "STORE-9"


def principal(role: Role, *locations: str) -> Principal:
    return Principal(id=f"key_{role.value}", name=role.value, role=role,
                     locations=frozenset(locations) if locations else None)


def record(type: str, location_id: str | None) -> EventRecord:
    return EventRecord(id=1, type=type, occurred_at=datetime.now(UTC), location_id=location_id,
                       sku="SKU-A", data={})


def test_every_event_type_has_a_permission_to_hear_it() -> None:
    assert set(EVENT_READS) == set(EventType)


def test_a_partner_hears_the_partner_event_types_and_nothing_else() -> None:
    assert audible_types(principal(Role.PARTNER, HOME)) == PARTNER_EVENT_TYPES


def test_a_scoped_caller_hears_its_locations_and_events_of_no_location() -> None:
    wanted = scoped(principal(Role.STORE_STAFF, HOME), EventFilter())
    assert wanted.location_ids == {HOME} and wanted.include_unlocated
    assert wanted.matches(record("sale.recorded", HOME))
    assert wanted.matches(record("product.changed", None))
    assert not wanted.matches(record("sale.recorded", FOREIGN))


def test_a_location_filter_of_its_own_keeps_events_of_no_location_out() -> None:
    wanted = scoped(principal(Role.STORE_STAFF, HOME),
                    EventFilter(location_ids=frozenset({HOME})))
    assert not wanted.include_unlocated
    assert not wanted.matches(record("product.changed", None))


@pytest.mark.parametrize(("role", "asked"), [
    (Role.STORE_STAFF, EventFilter(location_ids=frozenset({HOME, FOREIGN}))),
    (Role.PARTNER, EventFilter(types=frozenset({"sale.recorded"}))),
    (Role.WAREHOUSE_STAFF, EventFilter(types=frozenset({"reservation.created"}))),
])
def test_asking_for_more_than_may_be_heard_is_forbidden(role: Role, asked: EventFilter) -> None:
    with pytest.raises(Forbidden):
        scoped(principal(role, HOME), asked)


def test_a_partner_stream_is_limited_to_availability_and_catalog() -> None:
    wanted = scoped(principal(Role.PARTNER, HOME), EventFilter())
    assert wanted.types == PARTNER_EVENT_TYPES
    assert not wanted.matches(record("sale.recorded", HOME))
    assert wanted.matches(record("inventory.changed", HOME))


def test_an_unscoped_manager_hears_everything_as_asked() -> None:
    asked = EventFilter(location_ids=frozenset({FOREIGN}))
    assert scoped(principal(Role.MANAGER, HOME), asked) == asked
    assert scoped(principal(Role.ADMIN), EventFilter()) == EventFilter()


class _NoLog:
    async def events_after(self, after: int, wanted: EventFilter,
                           limit: int) -> list[EventRecord]:
        return []


def test_streams_are_counted_per_owner_and_freed_once() -> None:
    hub = EventHub(_NoLog(), bus=None)  # type: ignore[arg-type]  # neither is used here
    first, second = hub.open_stream("a", 2), hub.open_stream("a", 2)
    hub.open_stream("b", 2)
    with pytest.raises(TooManyStreams):
        hub.open_stream("a", 2)
    first.release()
    first.release()  # twice is once
    assert hub.streams_of("a") == 1
    third = hub.open_stream("a", 2)
    second.release()
    third.release()
    assert (hub.streams_of("a"), hub.streams_of("b")) == (0, 1)
