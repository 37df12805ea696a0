"""How ``stockline serve`` serves gRPC: with the HTTP certificate when TLS is on, from
every worker process on one port, not at all on port 0, refused on the HTTP port; what a
stopping server tells open event streams; what calls and health answer while the database
is down."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from stockline.entrypoints.grpc.v1 import (
    events_pb2,
    events_pb2_grpc,
    inventory_pb2,
    inventory_pb2_grpc,
)
from tests.conftest import ADMIN_KEY, Databases, free_port, start_server, stop_server
from tests.e2e.outages import throwaway_postgres
from tests.e2e.test_tls import self_signed
from tests.factories import migrate, stocked
from tests.grpc_support import start_grpc_server, stubs

ADMIN = (("x-api-key", ADMIN_KEY),)


async def test_grpc_serves_tls_with_the_http_certificate(
        databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("grpc-tls")
    cert, key = self_signed(directory)
    server = start_grpc_server(await databases.new("sqlite"), directory, scheme="https",
                               extra_env={"STOCKLINE_SSL_CERTFILE": str(cert),
                                          "STOCKLINE_SSL_KEYFILE": str(key)})
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        async with grpc.aio.secure_channel(server.target, trusted) as channel:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=30)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        async with stubs(server.target) as plain:  # plaintext on the TLS port: no answer
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await health_pb2_grpc.HealthStub(plain.channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=5)
            assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE,
                                            grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        stop_server(server.live)


async def test_every_worker_serves_grpc_on_the_one_port(
        databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_grpc_server(await databases.new("sqlite"),
                               tmp_path_factory.mktemp("grpc-workers"), workers=2)
    try:
        async with httpx.AsyncClient(base_url=server.live.base_url, timeout=30,
                                     headers={"X-API-Key": ADMIN_KEY}) as rest:
            store, (sku,) = await stocked(rest, quantity=6)
        # Each channel is one connection, which the kernel gives to one of the workers.
        for _ in range(8):
            async with stubs(server.target) as rpc:
                got = await rpc.inventory.GetLevel(
                    inventory_pb2.GetLevelRequest(location_id=store, sku=sku),
                    metadata=ADMIN, timeout=30)
                assert got.on_hand == 6
    finally:
        stop_server(server.live)


async def test_open_streams_are_closed_with_server_shutdown_when_the_server_stops(
        databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_grpc_server(await databases.new("sqlite"),
                               tmp_path_factory.mktemp("grpc-stop"))
    try:
        async with grpc.aio.insecure_channel(server.target) as channel:
            call = events_pb2_grpc.EventsStub(channel).WatchEvents(
                events_pb2.WatchEventsRequest(), metadata=ADMIN)
            messages = call.__aiter__()
            first = await asyncio.wait_for(messages.__anext__(), 60)
            assert first.WhichOneof("item") == "subscribed"
            server.live.process.send_signal(signal.SIGTERM)
            last = await asyncio.wait_for(messages.__anext__(), 60)
            while last.WhichOneof("item") == "heartbeat":
                last = await asyncio.wait_for(messages.__anext__(), 60)
            assert last.WhichOneof("item") == "closed", last
            assert last.closed.code == "server_shutdown"
        assert server.live.process.wait(timeout=60) == 0
    finally:
        stop_server(server.live)


async def test_port_zero_serves_no_grpc(databases: Databases,
                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    port = free_port()
    live = start_server(await databases.new("sqlite"), tmp_path_factory.mktemp("no-grpc"),
                        extra_env={"STOCKLINE_GRPC_PORT": "0"})
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await inventory_pb2_grpc.InventoryStub(channel).GetLevel(
                    inventory_pb2.GetLevelRequest(location_id="A", sku="B"), metadata=ADMIN,
                    timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "grpc_serving" not in live.log_path.read_text()
    finally:
        stop_server(live)


def test_serve_refuses_grpc_on_the_http_port(tmp_path: Path) -> None:
    port = str(free_port())
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
    environment.update({"STOCKLINE_VAR_DIR": str(tmp_path / "var"),
                        "STOCKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
                        "STOCKLINE_GRPC_PORT": port})
    done = subprocess.run([sys.executable, "-m", "stockline.entrypoints.cli", "serve",
                           "--port", port], env=environment, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, done
    said = done.stdout + done.stderr
    assert "STOCKLINE_GRPC_PORT and STOCKLINE_PORT are both" in said
    assert not (tmp_path / "never.db").exists()


@pytest.mark.slow
async def test_while_postgres_is_down_calls_are_unavailable_and_health_not_serving(
        tmp_path: Path) -> None:
    """Reads and writes answer UNAVAILABLE (never INTERNAL or UNKNOWN), health answers
    NOT_SERVING, and the same process serves again once PostgreSQL is back."""
    with throwaway_postgres() as pg:
        await migrate(pg.url)
        # No read cache: the level read here is the database's (a cached one may be served
        # for moments of an outage, until the process's event feed is known to be behind).
        server = start_grpc_server(pg.url, tmp_path, {"STOCKLINE_CACHE_TTL_SECONDS": "0"})
        try:
            async with httpx.AsyncClient(base_url=server.live.base_url, timeout=30,
                                         headers={"X-API-Key": ADMIN_KEY}) as rest:
                store, (sku,) = await stocked(rest, quantity=4)
            asked = inventory_pb2.GetLevelRequest(location_id=store, sku=sku)
            change = inventory_pb2.UpdateInventoryRequest(location_id=store, sku=sku, delta=1,
                                                          reason="found")
            async with stubs(server.target) as rpc:
                health = health_pb2_grpc.HealthStub(rpc.channel)
                assert (await rpc.inventory.GetLevel(asked, metadata=ADMIN)).on_hand == 4
                await asyncio.to_thread(pg.stop, "fast")
                for call in (rpc.inventory.GetLevel(asked, metadata=ADMIN, timeout=30),
                             rpc.inventory.UpdateInventory(change, metadata=ADMIN,
                                                           timeout=30)):
                    with pytest.raises(grpc.aio.AioRpcError) as down:
                        await call
                    assert down.value.code() == grpc.StatusCode.UNAVAILABLE, down.value
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=30)
                assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
                await asyncio.to_thread(pg.start)
                for _ in range(100):  # the pool reconnects within moments
                    answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=30)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                    await asyncio.sleep(0.2)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
                changed = await rpc.inventory.UpdateInventory(change, metadata=ADMIN)
                assert changed.on_hand == 5
        finally:
            stop_server(server.live)
