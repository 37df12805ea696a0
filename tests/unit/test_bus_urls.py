"""STOCKLINE_BUS_URL picks the bus by its scheme; a scheme no bus serves is refused by the
settings with the schemes that work, and without the rest of the URL (it may hold a
password)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from stockline.adapters.bus import open_bus
from stockline.adapters.bus.rabbitmq import RabbitBus
from stockline.config import Settings


@pytest.mark.parametrize(("url", "bus"), [
    (None, "memory"), ("", "memory"), ("memory://", "memory"),
    ("nats://127.0.0.1:4222", "nats"), ("tls://nats.internal:4222", "nats"),
    ("redis://127.0.0.1:6379/0", "redis"), ("rediss://redis.internal:6380/0", "redis"),
    ("amqp://guest:guest@127.0.0.1:5672/", "rabbitmq"),
    ("amqps://stockline:secret@rabbitmq.internal:5671/shop", "rabbitmq"),
    ("AMQP://guest:guest@127.0.0.1/", "rabbitmq"),
])
def test_each_scheme_opens_its_bus(url: str | None, bus: str) -> None:
    settings = Settings(bus_url=url)
    assert open_bus(settings.bus_url, channel=settings.bus_channel).name == bus


@pytest.mark.parametrize("url", ["kafka://stockline:s3cret-pw@kafka:9092",
                                 "http://rabbitmq:15672", "stockline:s3cret-pw@rabbitmq:5672"])
def test_a_url_no_bus_serves_is_refused_naming_the_schemes_that_work(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(bus_url=url)
    (error,) = refused.value.errors()
    assert error["loc"] == ("bus_url",)
    message = error["msg"]
    assert all(scheme in message for scheme in ("nats://", "redis://", "amqp://", "amqps://"))
    assert "s3cret" not in message


def test_serve_with_an_unknown_bus_exits_with_the_reason_and_no_password(
        tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
    environment.update({"STOCKLINE_VAR_DIR": str(tmp_path / "var"),
                        "STOCKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
                        "STOCKLINE_BUS_URL": "kafka://stockline:s3cret-pw@kafka:9092"})
    done = subprocess.run([sys.executable, "-m", "stockline.entrypoints.cli", "serve",
                           "--port", "1"], env=environment, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2, done
    output = " ".join((done.stdout + done.stderr).split())
    assert "STOCKLINE_BUS_URL: no event bus for 'kafka://' URLs" in output
    assert "amqp:// (RabbitMQ)" in output
    assert "Traceback" not in output and "s3cret" not in output
    assert not (tmp_path / "never.db").exists()


def test_the_rabbitmq_stream_is_named_after_the_channel() -> None:
    settings = Settings(bus_url="amqp://guest:guest@127.0.0.1:5672/", bus_channel="shop-2")
    bus = open_bus(settings.bus_url, channel=settings.bus_channel)
    assert isinstance(bus, RabbitBus)
    assert bus.queue == "shop-2.events"
    assert RabbitBus(settings.bus_url or "", channel="shop-3").queue != bus.queue
