"""Refusals in no protocol's terms: a stable code and the data a client needs to act.

Every entrypoint tells a refusal by its code (REST's problem ``code``, GraphQL's
``userErrors.code``, gRPC's status details), and an idempotency record keeps a refusal as
its code, its detail and its data, so that a retry over any protocol answers the same.
"""

from __future__ import annotations

from typing import Any

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

# Codes are stable: clients branch on them.
CODES: dict[type[DomainError], str] = {
    NotFound: "not_found",
    AlreadyExists: "already_exists",
    InsufficientStock: "insufficient_stock",
    VersionConflict: "version_conflict",
    StaleVersion: "version_conflict",
    LocationClosed: "location_closed",
    ProductDiscontinued: "product_discontinued",
    InvalidState: "invalid_state",
    Forbidden: "forbidden",
    QuantityExceeded: "quantity_exceeded",
    InvalidInput: "validation_error",
    InvalidRows: "validation_error",
    IdempotencyKeyReused: "idempotency_key_reused",
    IdempotencyKeyInUse: "idempotency_key_in_use",
}


def code_of(error: DomainError) -> str:
    return next(code for kind, code in CODES.items() if isinstance(error, kind))


def data_of(error: DomainError) -> dict[str, Any]:
    """What a client needs to act on the refusal, besides its code and detail."""
    match error:
        case NotFound() | AlreadyExists():
            return {"resource": error.kind, "key": error.key}
        case InsufficientStock():
            return {"location_id": error.location_id,
                    "lines": [{"sku": s.sku, "requested": s.requested,
                               "available": s.available}
                              | ({"lot": s.lot} if s.lot is not None else {})
                              for s in error.lines]}
        case VersionConflict():
            return {"location_id": error.location_id, "sku": error.sku,
                    "expected_version": error.expected, "current_version": error.actual}
        case StaleVersion():
            return {"resource": error.kind, "key": error.key,
                    "expected_version": error.expected, "current_version": error.actual}
        case LocationClosed():
            return {"location_id": error.location_id}
        case ProductDiscontinued():
            return {"skus": list(error.skus)}
        case QuantityExceeded():
            return {"resource": error.kind, "key": error.key,
                    "lines": [{"sku": x.sku, "requested": x.requested, "allowed": x.allowed}
                              for x in error.lines]}
        case InvalidState():
            return {"resource": error.kind, "key": error.key, "state": error.state}
        case InvalidInput():
            return {"errors": [{"field": error.field, "message": error.message}]}
        case InvalidRows():
            return {"errors": [{"line": e.line, "field": e.field, "message": e.message}
                               for e in error.errors]}
    return {}
