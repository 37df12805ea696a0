"""Event buses behind one port: in-process, NATS JetStream, Redis Streams, RabbitMQ streams."""

from stockline.adapters.bus.base import EVERYTHING, EventBus, EventFilter, EventRecord
from stockline.adapters.bus.factory import open_bus
from stockline.adapters.bus.nats import BusUnavailable

__all__ = ["EVERYTHING", "BusUnavailable", "EventBus", "EventFilter", "EventRecord", "open_bus"]
