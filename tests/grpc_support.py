"""gRPC test helpers: a live ``stockline serve`` with its gRPC port, stubs, metadata, and
the details of a refused call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
from google.rpc import error_details_pb2, status_pb2

from stockline.entrypoints.grpc.status import DETAILS_KEY
from stockline.entrypoints.grpc.v1 import (
    common_pb2,
    events_pb2_grpc,
    inventory_pb2_grpc,
    reservations_pb2_grpc,
    sales_pb2_grpc,
    transfers_pb2_grpc,
)
from tests.conftest import LiveServer, free_port, start_server, stop_server


@dataclass(frozen=True)
class GrpcServer:
    live: LiveServer
    target: str  # host:port of its gRPC

    def metadata(self, key: str | None = None) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", key or self.live.admin_key),)


def start_grpc_server(database_url: str, var_dir: Path,
                      extra_env: dict[str, str] | None = None, *, workers: int = 1,
                      scheme: str = "http") -> GrpcServer:
    """``stockline serve`` on free HTTP and gRPC ports."""
    port = free_port()
    live = start_server(database_url, var_dir, workers=workers, scheme=scheme,
                        extra_env={"STOCKLINE_GRPC_PORT": str(port), **(extra_env or {})})
    return GrpcServer(live, f"127.0.0.1:{port}")



@contextmanager
def serving(database_url: str, var_dir: Path) -> Iterator[GrpcServer]:
    """A ``stockline serve`` with gRPC for the length of the block (a module's fixture)."""
    started = start_grpc_server(database_url, var_dir)
    try:
        yield started
    finally:
        stop_server(started.live)


def rest_client(server: GrpcServer, *, timeout: float = 30.0,
                limits: httpx.Limits | None = None) -> httpx.AsyncClient:
    """An admin's REST client of the same server."""
    return httpx.AsyncClient(base_url=server.live.base_url, timeout=timeout,
                             limits=limits or httpx.Limits(),
                             headers={"X-API-Key": server.live.admin_key})


@dataclass
class Stubs:
    channel: Any
    inventory: Any
    events: Any
    transfers: Any
    reservations: Any
    sales: Any


@asynccontextmanager
async def stubs(target: str) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(target) as channel:
        yield Stubs(channel, inventory_pb2_grpc.InventoryStub(channel),
                    events_pb2_grpc.EventsStub(channel),
                    transfers_pb2_grpc.TransfersStub(channel),
                    reservations_pb2_grpc.ReservationsStub(channel),
                    sales_pb2_grpc.SalesStub(channel))


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status the server put in the trailers."""
    for key, value in error.trailing_metadata() or ():
        if key == DETAILS_KEY:
            found = status_pb2.Status()
            found.ParseFromString(value)
            return found
    raise AssertionError(f"no status details in {error!r}")


def detail(error: grpc.aio.AioRpcError, kind: type[Any]) -> Any:
    """The first detail of this message type in the refusal's status."""
    for packed in status_of(error).details:
        if packed.Is(kind.DESCRIPTOR):
            found = kind()
            packed.Unpack(found)
            return found
    raise AssertionError(f"no {kind.__name__} in {status_of(error)}")


def reason(error: grpc.aio.AioRpcError) -> str:
    """The REST problem code the refusal carries (ErrorInfo.reason)."""
    info: error_details_pb2.ErrorInfo = detail(error, error_details_pb2.ErrorInfo)
    assert info.domain == "stockline"
    return info.reason


async def refused(call: Any) -> grpc.aio.AioRpcError:
    """The error a call that must fail ends with."""
    try:
        answer = await call
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError(f"the call succeeded: {answer}")


__all__ = ["GrpcServer", "Stubs", "common_pb2", "detail", "reason", "refused",
           "start_grpc_server", "status_of", "stubs"]
