"""Problems (RFC 9457 answers) as typed exceptions, chosen by the problem's stable ``code``
(by the HTTP status when an answer has no code, e.g. from a proxy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class StocklineError(Exception):
    """Stockline refused a request, or could not be reached (``status`` 0: no answer).

    ``code`` is the problem's stable code (``insufficient_stock``, ``not_found``, ...),
    ``body`` the whole problem document."""

    def __init__(self, status: int, code: str, title: str, detail: str,
                 body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}" if status else f"{code}: {detail}")
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.body: dict[str, Any] = dict(body or {})


class Unauthorized(StocklineError):
    """No valid credential (401), or a stream's credential lapsed (``credential_revoked``,
    ``credential_expired``)."""


class Forbidden(StocklineError):
    """The credential's role or location scope does not allow this (403)."""


class NotFound(StocklineError):
    """No such resource (404); ``resource`` and ``key`` say which when the server knows."""

    @property
    def resource(self) -> str | None:
        return _text(self.body.get("resource"))

    @property
    def key(self) -> str | None:
        return _text(self.body.get("key"))


class Conflict(StocklineError):
    """The request is well-formed but conflicts with the current state (409)."""


class AlreadyExists(Conflict):
    """A resource with that code exists already."""


class InvalidState(Conflict):
    """The resource's state does not allow it (a released hold, a received transfer)."""

    @property
    def state(self) -> str | None:
        return _text(self.body.get("state"))


class VersionConflict(Conflict):
    """``expected_version`` is stale: the level moved on."""

    @property
    def current_version(self) -> int | None:
        value = self.body.get("current_version")
        return value if isinstance(value, int) else None


@dataclass(frozen=True, slots=True)
class ShortLine:
    """A line that lacks stock: what was asked for and what is available."""

    sku: str
    requested: int
    available: int
    lot: str | None = None


class InsufficientStock(Conflict):
    """Some lines lack available stock; nothing changed. ``lines`` names each short one."""

    @property
    def location_id(self) -> str | None:
        return _text(self.body.get("location_id"))

    @property
    def lines(self) -> list[ShortLine]:
        return [ShortLine(sku=str(x.get("sku")), requested=int(x.get("requested", 0)),
                          available=int(x.get("available", 0)), lot=_text(x.get("lot")))
                for x in _records(self.body.get("lines"))]


@dataclass(frozen=True, slots=True)
class ExcessLine:
    sku: str
    requested: int
    allowed: int


class QuantityExceeded(Conflict):
    """More than a document allows (returning more than was sold, receiving more than sent)."""

    @property
    def lines(self) -> list[ExcessLine]:
        return [ExcessLine(sku=str(x.get("sku")), requested=int(x.get("requested", 0)),
                           allowed=int(x.get("allowed", 0)))
                for x in _records(self.body.get("lines"))]


class LocationClosed(Conflict):
    """The location is closed: no new sales, holds, receipts or inbound transfers there."""

    @property
    def location_id(self) -> str | None:
        return _text(self.body.get("location_id"))


class ProductDiscontinued(Conflict):
    """The products named in ``skus`` are discontinued: no more receipts or orders."""

    @property
    def skus(self) -> list[str]:
        found = self.body.get("skus")
        return [str(x) for x in found] if isinstance(found, list) else []


class IdempotencyKeyInUse(Conflict):
    """A request with the same Idempotency-Key is still being processed."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """What is wrong with one field; ``line``: the file's line (an imported CSV file, whose
    header is line 1)."""

    field: str
    message: str
    location: str | None = None
    type: str | None = None
    line: int | None = None


class ValidationFailed(StocklineError):
    """The request is invalid (422); ``errors`` names each field and what is wrong."""

    @property
    def errors(self) -> list[FieldError]:
        return [FieldError(field=str(x.get("field", "")), message=str(x.get("message", "")),
                           location=_text(x.get("location")), type=_text(x.get("type")),
                           line=x["line"] if isinstance(x.get("line"), int) else None)
                for x in _records(self.body.get("errors"))]


class IdempotencyKeyReused(ValidationFailed):
    """The Idempotency-Key was used before with a different request."""


class RateLimited(StocklineError):
    """Too many requests (429); ``retry_after`` is how many seconds to wait, when said."""

    def __init__(self, *args: Any, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


class Unavailable(StocklineError):
    """The server cannot answer now (503, e.g. its database is unreachable); nothing
    was changed."""


class ServerError(StocklineError):
    """An unexpected failure of the server (5xx other than 503)."""


class ConnectionFailed(StocklineError):
    """No answer at all (connection refused, reset or timed out), after the retries."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(0, "connection_failed", "Connection failed",
                         f"{type(error).__name__}: {error}")


@dataclass(frozen=True, slots=True)
class Reset:
    """The stream's resume point was dropped by retention (``pruned``) or is beyond the
    log (``ahead_of_log``): events after ``requested_after`` up to ``resumes_after`` will
    not be delivered."""

    reason: str
    detail: str
    requested_after: int
    resumes_after: int


class StreamReset(Exception):
    """Raised by an event iterator on a ``reset`` when no ``on_reset`` handler was given:
    events were skipped, so state built from them must be rebuilt from the API."""

    def __init__(self, reset: Reset) -> None:
        super().__init__(f"{reset.reason}: {reset.detail}")
        self.reset = reset


_BY_CODE: dict[str, type[StocklineError]] = {
    "unauthorized": Unauthorized, "credential_revoked": Unauthorized,
    "credential_expired": Unauthorized, "forbidden": Forbidden, "not_found": NotFound,
    "already_exists": AlreadyExists, "invalid_state": InvalidState,
    "version_conflict": VersionConflict, "insufficient_stock": InsufficientStock,
    "quantity_exceeded": QuantityExceeded, "idempotency_key_in_use": IdempotencyKeyInUse,
    "location_closed": LocationClosed, "product_discontinued": ProductDiscontinued,
    "validation_error": ValidationFailed, "idempotency_key_reused": IdempotencyKeyReused,
    "rate_limited": RateLimited, "service_unavailable": Unavailable,
}
_BY_STATUS: dict[int, type[StocklineError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 422: ValidationFailed,
    429: RateLimited, 503: Unavailable,
}


def retry_after(headers: httpx.Headers) -> float | None:
    """``Retry-After`` in seconds (given as seconds or as an HTTP date), None when absent."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def problem_of(response: httpx.Response) -> StocklineError:
    """The exception for an answer that is not a success (its body must have been read)."""
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    return problem_in(response.status_code, parsed, title=response.reason_phrase,
                      detail=response.text[:500], wait=retry_after(response.headers))


def problem_in(status: int, document: object, *, title: str = "", detail: str = "",
               wait: float | None = None) -> StocklineError:
    """The exception for a problem document answered with ``status`` (``title`` and
    ``detail``: what to say when the document has none; ``wait``: its Retry-After)."""
    body: dict[str, Any] = document if isinstance(document, dict) else {}
    code = str(body.get("code") or f"http_{status}")
    kind = _BY_CODE.get(code) or _BY_STATUS.get(status) or (
        ServerError if status >= 500 else StocklineError)
    args = (status, code, str(body.get("title") or title), str(body.get("detail") or detail),
            body)
    if issubclass(kind, RateLimited):
        return kind(*args, retry_after=wait)
    return kind(*args)


def closed_stream_error(code: str, reason: str, body: Mapping[str, Any]) -> StocklineError:
    """The exception for a stream the server ended for good (a ``close`` event that
    reconnecting at once cannot cure)."""
    kind = _BY_CODE.get(code, StocklineError)
    return kind(401 if kind is Unauthorized else 0, code, "Stream closed", reason, body)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _records(value: object) -> list[dict[str, Any]]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []
