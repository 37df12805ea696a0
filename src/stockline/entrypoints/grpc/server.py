"""The gRPC server of a process: grpc.aio on the event loop that serves HTTP, over the
same container (engines, hub, limiter), started and stopped by the app's lifespan.

Every worker process of ``stockline serve`` listens on ``STOCKLINE_GRPC_PORT`` with
SO_REUSEPORT (gRPC's default on Linux), as uvicorn's workers share the HTTP port: the
kernel spreads new connections over the workers. A gRPC connection is long-lived and
carries many calls, so a client that wants its load spread over the workers opens
several channels. With TLS files set, gRPC serves TLS with the same certificate as HTTP.
Server reflection and the standard health service (``grpc.health.v1``) are on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from stockline.bootstrap import Container
from stockline.config import Settings
from stockline.entrypoints.grpc.events import EventsService
from stockline.entrypoints.grpc.inventory import InventoryService
from stockline.entrypoints.grpc.sales import SalesService
from stockline.entrypoints.grpc.v1 import (
    events_pb2,
    events_pb2_grpc,
    inventory_pb2,
    inventory_pb2_grpc,
    reservations_pb2,
    reservations_pb2_grpc,
    sales_pb2,
    sales_pb2_grpc,
    transfers_pb2,
    transfers_pb2_grpc,
)
from stockline.entrypoints.grpc.writes import ReservationsService, TransfersService
from stockline.entrypoints.http.metrics import Metrics
from stockline.entrypoints.tracing import grpc_interceptors

log = structlog.get_logger("stockline.grpc")
GRACE_SECONDS = 5.0  # for calls under way when the server stops
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
SERVICE_NAMES = tuple(module.DESCRIPTOR.services_by_name[name].full_name for module, name in (
    (inventory_pb2, "Inventory"), (sales_pb2, "Sales"), (transfers_pb2, "Transfers"),
    (reservations_pb2, "Reservations"), (events_pb2, "Events")))


def address_of(settings: Settings) -> str:
    host = settings.host
    return f"[{host}]:{settings.grpc_port}" if ":" in host else f"{host}:{settings.grpc_port}"


def credentials_of(settings: Settings) -> Any:
    """The server's TLS credentials from the HTTP certificate and key (None: plaintext)."""
    if settings.ssl_certfile is None or settings.ssl_keyfile is None:
        return None
    return grpc.ssl_server_credentials([(settings.ssl_keyfile.read_bytes(),
                                         settings.ssl_certfile.read_bytes())])


class ReadyHealth(health.aio.HealthServicer):  # type: ignore[misc]
    """The standard health service, whose Check answers NOT_SERVING while the database
    does not answer (as /readyz answers 503): a load balancer sends calls elsewhere."""

    def __init__(self, ping: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self._ping = ping

    async def Check(self, request: Any, context: Any) -> Any:
        answer = await super().Check(request, context)
        if answer.status != health_pb2.HealthCheckResponse.SERVING:
            return answer
        try:
            await self._ping()
        except Exception as exc:  # whatever the failure, this node cannot serve
            log.warning("grpc_not_ready", error=type(exc).__name__)
            return health_pb2.HealthCheckResponse(
                status=health_pb2.HealthCheckResponse.NOT_SERVING)
        return answer


class GrpcServer:
    def __init__(self, container: Container, metrics: Metrics | None = None) -> None:
        self._container, self._metrics = container, metrics
        self._server: Any = None
        self._health = ReadyHealth(container.queries.ping)
        self._events = EventsService(container, metrics)

    async def start(self) -> int:
        """Listen and serve; the port bound. RuntimeError when it cannot be bound."""
        settings = self._container.settings
        server = grpc.aio.server(interceptors=grpc_interceptors(self._container.tracing),
                                 options=[
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])
        for add, servicer in self._servicers():
            add(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME), server)
        tls, address = credentials_of(settings), address_of(settings)
        port = (server.add_insecure_port(address) if tls is None
                else server.add_secure_port(address, tls))
        await server.start()
        self._server = server
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc_serving", address=address, tls=tls is not None)
        return int(port)

    def _servicers(self) -> list[tuple[Callable[[Any, Any], None], Any]]:
        container, metrics = self._container, self._metrics
        return [
            (inventory_pb2_grpc.add_InventoryServicer_to_server,
             InventoryService(container, metrics)),
            (transfers_pb2_grpc.add_TransfersServicer_to_server,
             TransfersService(container, metrics)),
            (reservations_pb2_grpc.add_ReservationsServicer_to_server,
             ReservationsService(container, metrics)),
            (events_pb2_grpc.add_EventsServicer_to_server, self._events),
            (sales_pb2_grpc.add_SalesServicer_to_server, SalesService(container, metrics))]

    async def stop(self) -> None:
        """Stop taking calls: health answers NOT_SERVING, open event streams get their
        ``closed`` (server_shutdown), calls under way get GRACE_SECONDS to finish."""
        if self._server is None:
            return
        await self._health.enter_graceful_shutdown()
        self._events.shut_down()
        await self._server.stop(GRACE_SECONDS)
        self._server = None
