"""Which bus a URL names."""

from __future__ import annotations

from stockline.adapters.bus.base import EventBus
from stockline.adapters.bus.memory import MemoryBus
from stockline.adapters.bus.nats import NatsBus
from stockline.adapters.bus.redis import RedisBus


def open_bus(url: str | None, *, channel: str = "stockline") -> EventBus:
    """``nats://...`` (JetStream), ``redis://...`` (Streams), or in-process when empty."""
    if not url or url == "memory://":
        return MemoryBus()
    if url.startswith(("nats://", "tls://")):
        return NatsBus(url, channel=channel)
    if url.startswith(("redis://", "rediss://")):
        return RedisBus(url, channel=channel)
    raise ValueError(f"no event bus for '{url}': use nats://, redis://, or leave it empty")
