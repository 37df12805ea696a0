"""``stockline.v1.Transfers`` and ``stockline.v1.Reservations``, and what every write over
gRPC shares: the REST body schema validates the request (the same rules, the same
refusals), and the operation the REST route hands the one write service
(``entrypoints.operations``) runs under the request's ``idempotency_key``: a key first
used over any protocol replays the same answer here."""

from __future__ import annotations

from typing import TypeVar

import orjson
from google.protobuf.message import Message

from stockline.bootstrap import Container
from stockline.entrypoints.grpc.calls import Call, Service, rpc
from stockline.entrypoints.grpc.convert import fields_of, message_from
from stockline.entrypoints.grpc.status import answer_refusal, invalid
from stockline.entrypoints.grpc.v1 import (
    reservations_pb2,
    reservations_pb2_grpc,
    transfers_pb2,
    transfers_pb2_grpc,
)
from stockline.entrypoints.http.auth import caller_of
from stockline.entrypoints.http.deps import IDEMPOTENCY_KEY
from stockline.entrypoints.http.permissions import ROUTES
from stockline.entrypoints.http.schemas.reservations import ReservationCreate
from stockline.entrypoints.http.schemas.transfers import TransferCreate
from stockline.entrypoints.limits import at_most_lines
from stockline.entrypoints.operations import RESERVE, SHIP_TRANSFER
from stockline.services import reservations
from stockline.services.ports import StoredAnswer
from stockline.services.writes import Operation, Outcome

C = TypeVar("C")
R = TypeVar("R")
M = TypeVar("M", bound=Message)
UNSENT = frozenset({"idempotency_key"})


async def perform(container: Container, operation: Operation[C, R], command: C,
                  call: Call, key: str) -> Outcome[R]:
    """The operation through the one write service, under the request's idempotency key
    (empty: none); ``outcome.answer`` is its answer in no protocol's terms (a replay's as
    first given)."""
    return await container.writes.execute(operation, command, caller_of(call.principal),
                                          key=key or None)


def answered(answer: StoredAnswer, kind: type[M]) -> M:
    """A ``kind`` message of the answer's document (the same whether the write ran now or
    is a replay of one first asked over any protocol); its refusal raised as a status."""
    if not answer.ok:
        raise answer_refusal(answer.outcome, answer.body)
    return message_from(orjson.loads(answer.body), kind)


def keyed(key: str) -> str:
    """An idempotency key as REST's Idempotency-Key header takes it; INVALID_ARGUMENT
    otherwise."""
    if key and not IDEMPOTENCY_KEY.fullmatch(key):
        raise invalid("idempotency_key", "must be 1-255 printable ASCII characters, no spaces")
    return key


class TransfersService(Service, transfers_pb2_grpc.TransfersServicer):
    NAME = transfers_pb2.DESCRIPTOR.services_by_name["Transfers"].full_name

    @rpc(ROUTES[("POST", "/v1/stock-movements/transfer")], write=True)
    async def Transfer(self, request: transfers_pb2.TransferRequest,
                       call: Call) -> transfers_pb2.TransferResult:
        key = keyed(request.idempotency_key)
        body = TransferCreate.model_validate(fields_of(request, leave_out=UNSENT))
        at_most_lines(self.container.settings, len(body.lines), "transfer")
        outcome = await perform(self.container, SHIP_TRANSFER, body.to_command(), call, key)
        return answered(outcome.answer, transfers_pb2.TransferResult)


class ReservationsService(Service, reservations_pb2_grpc.ReservationsServicer):
    NAME = reservations_pb2.DESCRIPTOR.services_by_name["Reservations"].full_name

    @rpc(ROUTES[("POST", "/v1/reservations")], write=True)
    async def Reserve(self, request: reservations_pb2.ReserveRequest,
                      call: Call) -> reservations_pb2.Reservation:
        key = keyed(request.idempotency_key)
        body = ReservationCreate.model_validate(fields_of(request, leave_out=UNSENT))
        settings = self.container.settings
        at_most_lines(self.container.settings, len(body.lines), "reservation")
        command = reservations.with_ttl(body.to_command(),
                                        default=settings.reservation_default_ttl_seconds,
                                        maximum=settings.reservation_max_ttl_seconds)
        outcome = await perform(self.container, RESERVE, command, call, key)
        return answered(outcome.answer, reservations_pb2.Reservation)
