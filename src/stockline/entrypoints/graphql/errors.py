"""GraphQL errors with the REST problem codes: ``extensions.code`` is the ``code`` that the
same refusal has over REST (``not_found``, ``forbidden``, ``validation_error``, ...), with
the same data beside it (an ``insufficient_stock``'s lines, a ``not_found``'s resource).

The codes come from the one registry (``entrypoints/http/errors.py``): a domain error is
rendered by ``domain_problem`` and its problem body becomes the extensions. A document
that does not parse or validate, or arguments that do not coerce, are bad input:
``validation_error``. An error nobody expected is logged and answered as
``internal_error`` without its message (which may name internals).
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi.exceptions import RequestValidationError
from graphql import GraphQLError

from stockline.domain.errors import DomainError
from stockline.entrypoints.http.errors import (
    INTERNAL_ERROR,
    SERVICE_UNAVAILABLE,
    VALIDATION_ERROR,
    ProblemError,
    domain_problem,
    validation_errors,
)
from stockline.services.executor import StorageUnavailable, TransientStorageError

log = structlog.get_logger("stockline.graphql")

# What a problem body says that a GraphQL error says already (its message) or not at all.
_NOT_EXTENSIONS = frozenset({"type", "title", "detail"})


class StreamClosed(Exception):
    """The server ends a subscription: ``code`` says why (``slow_consumer``,
    ``rate_limited``, ``credential_revoked``, ...), ``last_id`` where to resume."""

    def __init__(self, reason: str, code: str, last_id: int,
                 retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.code, self.last_id, self.retry_after = code, last_id, retry_after


def extensions_of(error: GraphQLError) -> dict[str, Any]:
    """The extensions of an error, by the type of what caused it; sets the message of an
    unexpected one to say nothing of it."""
    original = error.original_error
    match original:
        case DomainError():
            _, body = domain_problem(original)
            problem = orjson.loads(body)
            return {k: v for k, v in problem.items() if k not in _NOT_EXTENSIONS}
        case ProblemError():
            return {"code": original.code.code, "status": original.code.status,
                    **original.extra}
        case RequestValidationError():
            error.message = "invalid arguments"
            return {"code": VALIDATION_ERROR.code, "status": VALIDATION_ERROR.status,
                    "errors": validation_errors(original.errors())}
        case StreamClosed():
            found = {"code": original.code, "lastId": original.last_id}
            return found | ({} if original.retry_after is None
                            else {"retryAfter": original.retry_after})
        case StorageUnavailable() | TransientStorageError():
            log.warning("storage_unavailable", error=str(original))
            error.message = "the database is unavailable; nothing was changed"
            return {"code": SERVICE_UNAVAILABLE.code, "status": SERVICE_UNAVAILABLE.status}
    if error.path is None and (original is None or isinstance(original, GraphQLError | ValueError
                                                              | TypeError)):
        # Before execution: the document or its variables (bad input).
        return {"code": VALIDATION_ERROR.code, "status": VALIDATION_ERROR.status}
    log.error("graphql_unexpected_error", path=error.path, exc_info=original)
    error.message = "an unexpected error occurred"
    return {"code": INTERNAL_ERROR.code, "status": INTERNAL_ERROR.status}


def describe(errors: list[GraphQLError]) -> None:
    """Give every error its code (in place: the transports send what is there)."""
    for error in errors:
        code = (error.extensions or {}).get("code")
        if code is None:
            error.extensions = {**(error.extensions or {}), **extensions_of(error)}
