"""Refusals as gRPC statuses: one table from the domain's errors to status codes.

Every refusal carries, in its google.rpc.Status details (the ``grpc-status-details-bin``
trailer), a google.rpc.ErrorInfo whose ``reason`` is the REST problem code
(``insufficient_stock``, ``version_conflict``, ...), so that a client branches on the same
codes whatever protocol it speaks; and the data to act on: the short lines of an
``insufficient_stock``, the versions of a ``version_conflict``, the fields of an invalid
request (google.rpc.BadRequest), when to retry (google.rpc.RetryInfo).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import grpc
import orjson
import structlog
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from pydantic import ValidationError

from stockline.adapters.driver_errors import storage_down
from stockline.domain.errors import (
    AlreadyExists,
    DomainError,
    Forbidden,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidInput,
    InvalidState,
    LocationClosed,
    NotFound,
    ProductDiscontinued,
    QuantityExceeded,
    StaleVersion,
    VersionConflict,
)
from stockline.domain.imports import InvalidRows
from stockline.domain.refusals import CODES
from stockline.entrypoints.grpc.v1 import common_pb2
from stockline.entrypoints.http.errors import validation_errors
from stockline.services.answers import refusal

DOMAIN = "stockline"
DETAILS_KEY = "grpc-status-details-bin"
S = grpc.StatusCode
log = structlog.get_logger("stockline.grpc")

# The one table from the domain's errors to gRPC codes (the REST registry gives each its
# problem code, carried as ErrorInfo.reason).
DOMAIN_STATUS: dict[type[DomainError], Any] = {
    NotFound: S.NOT_FOUND,
    AlreadyExists: S.ALREADY_EXISTS,
    InsufficientStock: S.FAILED_PRECONDITION,
    VersionConflict: S.ABORTED,
    StaleVersion: S.ABORTED,
    LocationClosed: S.FAILED_PRECONDITION,
    ProductDiscontinued: S.FAILED_PRECONDITION,
    InvalidState: S.FAILED_PRECONDITION,
    QuantityExceeded: S.FAILED_PRECONDITION,
    Forbidden: S.PERMISSION_DENIED,
    InvalidInput: S.INVALID_ARGUMENT,
    InvalidRows: S.INVALID_ARGUMENT,
    IdempotencyKeyReused: S.INVALID_ARGUMENT,
    IdempotencyKeyInUse: S.ABORTED,
}
# The same table by the refusal's code, as an idempotency record keeps it.
CODE_STATUS: dict[str, Any] = {CODES[kind]: status for kind, status in DOMAIN_STATUS.items()}


# What each status is among HTTP answers: the audit trail records gRPC calls beside HTTP
# requests, by status and outcome.
HTTP_EQUIVALENT: dict[Any, int] = {
    S.OK: 200, S.INVALID_ARGUMENT: 422, S.NOT_FOUND: 404, S.ALREADY_EXISTS: 409,
    S.FAILED_PRECONDITION: 409, S.ABORTED: 409, S.UNAUTHENTICATED: 401,
    S.PERMISSION_DENIED: 403, S.RESOURCE_EXHAUSTED: 429, S.UNIMPLEMENTED: 501,
    S.UNAVAILABLE: 503, S.INTERNAL: 500}


class Refusal(Exception):
    """A status to end the call with: code, message, and detail messages."""

    def __init__(self, code: Any, message: str, reason: str,
                 details: Sequence[Message] = (), **metadata: str) -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason
        self.throttled = False  # refused for the address's refused credentials
        info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata)
        self.details: tuple[Message, ...] = (info, *details)

    def status(self) -> status_pb2.Status:
        """The google.rpc.Status of the refusal (as RecordSales answers one sale's)."""
        packed = []
        for detail in self.details:
            wrapped = any_pb2.Any()
            wrapped.Pack(detail)
            packed.append(wrapped)
        return status_pb2.Status(code=self.code.value[0], message=self.message,
                                 details=packed)


def invalid(field: str, message: str) -> Refusal:
    """INVALID_ARGUMENT naming the field, as REST's 422 ``validation_error``."""
    return Refusal(S.INVALID_ARGUMENT, f"{field}: {message}", "validation_error",
                   [_bad_request([(field, message)])])


def retry_later(code: Any, message: str, reason: str, retry_after: int) -> Refusal:
    delay = duration_pb2.Duration(seconds=retry_after)
    return Refusal(code, message, reason, [error_details_pb2.RetryInfo(retry_delay=delay)],
                   retry_after=str(retry_after))


def _bad_request(fields: Sequence[tuple[str, str]]) -> error_details_pb2.BadRequest:
    return error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field=f, description=m)
        for f, m in fields])


def domain_refusal(error: DomainError) -> Refusal:
    """A domain error's status, as ``answer_refusal`` renders its stored answer."""
    answer = refusal(error)
    return answer_refusal(answer.outcome, answer.body)


def answer_refusal(code: str, document: bytes) -> Refusal:
    """A refusal kept in no protocol's terms (services.answers: ``{"detail", "code",
    ...data}``) as a status: its code from CODE_STATUS, its data in the details. A write
    answers its refusal this way, and a replay of its key the same."""
    status = CODE_STATUS.get(code, S.INTERNAL)
    kept: dict[str, Any] = orjson.loads(document)
    detail = str(kept.get("detail", ""))
    if kept.get("abridged"):
        return Refusal(status, detail, code)
    match code:
        case "insufficient_stock":
            short = common_pb2.InsufficientStock(location_id=kept["location_id"], lines=[
                common_pb2.ShortLine(sku=s["sku"], requested=s["requested"],
                                     available=s["available"], lot=s.get("lot"))
                for s in kept["lines"]])
            return Refusal(status, detail, code, [short], location_id=kept["location_id"])
        case "version_conflict":
            level = "sku" in kept
            return Refusal(status, detail, code, [common_pb2.VersionConflict(
                resource="level" if level else kept["resource"],
                key=f"{kept['location_id']}/{kept['sku']}" if level else kept["key"],
                expected_version=kept["expected_version"],
                current_version=kept["current_version"])])
        case "not_found" | "already_exists":
            return Refusal(status, detail, code, [error_details_pb2.ResourceInfo(
                resource_type=kept["resource"], resource_name=kept["key"])])
        case "validation_error" if "errors" in kept:
            return Refusal(status, detail, code, [_bad_request(
                [(f"line {e['line']}: {e['field']}" if "line" in e else e["field"],
                  e["message"]) for e in kept["errors"]])])
    return Refusal(status, detail, code)


def validation_refusal(error: ValidationError) -> Refusal:
    """A request whose fields the REST schema refuses: INVALID_ARGUMENT naming them."""
    listed = validation_errors(error.errors())
    fields = sorted({e["field"] for e in listed})
    return Refusal(S.INVALID_ARGUMENT, f"invalid fields: {', '.join(fields)}",
                   "validation_error",
                   [_bad_request([(e["field"], e["message"]) for e in listed])])


def unavailable(error: Exception) -> Refusal:
    log.warning("storage_unavailable", error=str(error))
    return retry_later(S.UNAVAILABLE, "the database is unavailable; nothing was changed",
                       "service_unavailable", 1)


def refusal_of(error: Exception) -> Refusal:
    """What to answer for an exception a call raised; INTERNAL (logged) for a bug."""
    match error:
        case Refusal():
            return error
        case DomainError():
            return domain_refusal(error)
        case ValidationError():
            return validation_refusal(error)
        case _ if storage_down(error):
            return unavailable(error)
    log.error("unhandled_error", exc_info=error)
    return Refusal(S.INTERNAL, "an unexpected error occurred", "internal_error")


async def abort(context: Any, refusal: Refusal) -> NoReturn:
    """End the call with the refusal's status and its details."""
    await context.abort(refusal.code, refusal.message, trailing_metadata=(
        (DETAILS_KEY, refusal.status().SerializeToString()),))
    raise AssertionError("abort returned")  # pragma: no cover - abort raises
