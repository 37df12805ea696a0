"""Which bus a URL names."""

from __future__ import annotations

from collections.abc import Callable

from stockline.adapters.bus.base import EventBus
from stockline.adapters.bus.memory import MemoryBus
from stockline.adapters.bus.nats import NatsBus
from stockline.adapters.bus.rabbitmq import RabbitBus
from stockline.adapters.bus.redis import RedisBus

# By URL scheme: NATS JetStream, Redis Streams, a RabbitMQ stream queue.
_BUSES: dict[str, Callable[..., EventBus]] = {
    "nats": NatsBus, "tls": NatsBus, "redis": RedisBus, "rediss": RedisBus,
    "amqp": RabbitBus, "amqps": RabbitBus}


def unknown_bus(url: str | None) -> str | None:
    """Why ``url`` names no bus, or None when it names one (or none: in-process)."""
    if not url or url == "memory://":
        return None
    scheme, separator, _ = url.partition("://")
    if separator and scheme.lower() in _BUSES:
        return None
    # The scheme only: the rest of a URL may hold a password.
    named = f"'{scheme}://' URLs" if separator else "a URL without a scheme"
    return (f"no event bus for {named}: use nats://, redis://, amqp:// (RabbitMQ), their "
            "TLS forms (tls://, rediss://, amqps://), or leave it empty")


def open_bus(url: str | None, *, channel: str = "stockline") -> EventBus:
    """``nats://...`` (JetStream), ``redis://...`` (Streams), ``amqp://...`` (a RabbitMQ
    stream), or in-process when empty."""
    if problem := unknown_bus(url):
        raise ValueError(problem)
    if not url or url == "memory://":
        return MemoryBus()
    return _BUSES[url.partition("://")[0].lower()](url, channel=channel)
