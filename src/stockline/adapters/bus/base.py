"""The bus port: published events go out at least once; every node hears every event.

The bus carries events that are already committed to the event log with their final,
gap-free id. It may deliver an event twice or, during an outage, not at all: each node
drops what it has seen (ids only grow) and fills any gap from the event log, so a bus
outage delays events but never loses one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from stockline.domain.security import WHOLE, EventShape


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event as clients see it: ``id`` is global, gap-free and grows in commit order."""

    id: int
    type: str
    occurred_at: datetime
    location_id: str | None
    sku: str | None
    data: dict[str, Any]
    # The W3C trace context of the write that made the event (tracing on): carried on the
    # bus beside the event, never part of its public JSON.
    traceparent: str | None = field(default=None, compare=False, repr=False)
    _json: bytes | None = field(default=None, init=False, compare=False, repr=False)
    _sse: bytes | None = field(default=None, init=False, compare=False, repr=False)
    # (JSON, SSE) by shape other than WHOLE: each encoded once too, for all who hear it so
    _shaped: dict[EventShape, tuple[bytes, bytes]] | None = field(
        default=None, init=False, compare=False, repr=False)

    def to_json(self) -> bytes:
        """The event as JSON, encoded once however many streams and webhooks send it."""
        if self._json is None:
            object.__setattr__(self, "_json", orjson.dumps(
                {"id": self.id, "type": self.type, "occurred_at": self.occurred_at,
                 "location_id": self.location_id, "sku": self.sku, "data": self.data},
                option=orjson.OPT_UTC_Z))
        assert self._json is not None
        return self._json

    def to_sse(self) -> bytes:
        """The event as one Server-Sent Events message (``id:``, ``event:`` its type, so
        that a browser's ``addEventListener(type)`` hears it, and ``data:``), also encoded
        once: a round of events is written to every open stream."""
        if self._sse is None:
            object.__setattr__(self, "_sse", b"id: %d\nevent: %s\ndata: %s\n\n" % (
                self.id, self.type.encode(), self.to_json()))
        assert self._sse is not None
        return self._sse

    def shaped(self, shape: EventShape) -> tuple[bytes, bytes]:
        """The event as JSON and as an SSE message, as ``shape`` lets its hearer read it:
        each shape encoded once too, however many streams of that shape send it."""
        if self.type not in shape.types:
            return self.to_json(), self.to_sse()
        if self._shaped is None:
            object.__setattr__(self, "_shaped", {})
        assert self._shaped is not None
        found = self._shaped.get(shape)
        if found is None:
            shaped = EventRecord(id=self.id, type=self.type, occurred_at=self.occurred_at,
                                 location_id=self.location_id, sku=self.sku,
                                 data=shape.apply(self.type, self.data))
            found = self._shaped[shape] = (shaped.to_json(), shaped.to_sse())
        return found

    def to_bus(self) -> bytes:
        """The event as the bus carries it: its JSON, with its ``traceparent`` when it has
        one (the hearers' spans link to it; they serve the event without it)."""
        if self.traceparent is None:
            return self.to_json()
        return self.to_json()[:-1] + b',"traceparent":%s}' % orjson.dumps(self.traceparent)

    @classmethod
    def from_json(cls, raw: bytes | str) -> EventRecord:
        body = orjson.loads(raw)
        return cls(id=int(body["id"]), type=body["type"],
                   occurred_at=datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00")),
                   location_id=body["location_id"], sku=body["sku"], data=body["data"],
                   traceparent=body.get("traceparent"))


Encoder = Callable[[EventRecord], bytes]


def json_encoder(shape: EventShape) -> Encoder:
    """How a stream of ``shape`` encodes each event as JSON: ``EventRecord.to_json`` itself
    for the whole shape, so that most streams pay nothing for shapes."""
    if shape == WHOLE:
        return EventRecord.to_json
    return lambda record: record.shaped(shape)[0]


def sse_encoder(shape: EventShape) -> Encoder:
    """As ``json_encoder``, for SSE messages."""
    if shape == WHOLE:
        return EventRecord.to_sse
    return lambda record: record.shaped(shape)[1]


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a subscriber wants: every set given must contain the event's value.

    ``include_unlocated`` lets events of no location (``product.changed``) through a
    ``location_ids`` set: a stream limited to a caller's locations still hears about the
    catalog, while a client that filters on locations itself gets only those.
    """

    location_ids: frozenset[str] | None = None
    skus: frozenset[str] | None = None
    types: frozenset[str] | None = None
    include_unlocated: bool = False

    def matches(self, record: EventRecord) -> bool:
        return ((self.location_ids is None or record.location_id in self.location_ids
                 or (self.include_unlocated and record.location_id is None))
                and (self.skus is None or record.sku in self.skus)
                and (self.types is None or record.type in self.types))


EVERYTHING = EventFilter()


class EventBus(Protocol):
    """Publishing from the relay, hearing on every node. A bus that can tell whether it is
    connected has a ``connected`` property (bool), which /metrics reports."""

    name: str

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def publish(self, records: list[EventRecord]) -> None:
        """Send committed events, in id order (a repeat of an id is harmless)."""
        ...

    async def listen(self) -> AsyncIterator[EventRecord]:
        """Events published from the moment this returns, in the order the bus keeps."""
        ...
