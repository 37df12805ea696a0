"""Event buses behind one port: in-process, NATS JetStream, Redis Streams."""

from stockline.adapters.bus.base import EventBus, EventRecord
from stockline.adapters.bus.factory import open_bus
from stockline.adapters.bus.nats import BusUnavailable

__all__ = ["BusUnavailable", "EventBus", "EventRecord", "open_bus"]
