"""The one registry of problem codes, and problem+json (RFC 9457) for every error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Scope

from stockline.adapters.driver_errors import storage_down
from stockline.domain import refusals
from stockline.domain.errors import DomainError
from stockline.entrypoints.http.logged import loggable_path
from stockline.services.answers import kept_refusal, refusal
from stockline.services.executor import StorageUnavailable, TransientStorageError

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("stockline.http")


@dataclass(frozen=True, slots=True)
class Code:
    status: int
    code: str
    title: str


# Every code a client may see, in one place. Codes are stable: clients branch on them.
NOT_FOUND = Code(404, "not_found", "Not found")
ALREADY_EXISTS = Code(409, "already_exists", "Already exists")
INSUFFICIENT_STOCK = Code(409, "insufficient_stock", "Insufficient stock")
VERSION_CONFLICT = Code(409, "version_conflict", "Version conflict")
INVALID_STATE = Code(409, "invalid_state", "Invalid state")
QUANTITY_EXCEEDED = Code(409, "quantity_exceeded", "Quantity exceeded")
LOCATION_CLOSED = Code(409, "location_closed", "Location closed")
PRODUCT_DISCONTINUED = Code(409, "product_discontinued", "Product discontinued")
VALIDATION_ERROR = Code(422, "validation_error", "Invalid request")
IDEMPOTENCY_KEY_REUSED = Code(422, "idempotency_key_reused", "Idempotency key reused")
IDEMPOTENCY_KEY_IN_USE = Code(409, "idempotency_key_in_use", "Idempotency key in use")
UNAUTHORIZED = Code(401, "unauthorized", "Unauthorized")
FORBIDDEN = Code(403, "forbidden", "Forbidden")
METHOD_NOT_ALLOWED = Code(405, "method_not_allowed", "Method not allowed")
NOT_ACCEPTABLE = Code(406, "not_acceptable", "Not acceptable")
PAYLOAD_TOO_LARGE = Code(413, "payload_too_large", "Payload too large")
HEADERS_TOO_LARGE = Code(431, "headers_too_large", "Request header fields too large")
REQUEST_TIMEOUT = Code(408, "request_timeout", "Request timeout")
UNSUPPORTED_MEDIA_TYPE = Code(415, "unsupported_media_type", "Unsupported media type")
RATE_LIMITED = Code(429, "rate_limited", "Too many requests")
BAD_REQUEST = Code(400, "bad_request", "Bad request")
INTERNAL_ERROR = Code(500, "internal_error", "Internal server error")
SERVICE_UNAVAILABLE = Code(503, "service_unavailable", "Service unavailable")

# The HTTP status and title of each refusal code (domain.refusals gives the codes).
DOMAIN_CODES: dict[str, Code] = {c.code: c for c in (
    NOT_FOUND, ALREADY_EXISTS, INSUFFICIENT_STOCK, VERSION_CONFLICT, LOCATION_CLOSED,
    PRODUCT_DISCONTINUED, INVALID_STATE, FORBIDDEN, QUANTITY_EXCEEDED, VALIDATION_ERROR,
    IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_KEY_IN_USE)}
_BY_STATUS = {c.status: c for c in (BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND,
                                    METHOD_NOT_ALLOWED, NOT_ACCEPTABLE, PAYLOAD_TOO_LARGE,
                                    UNSUPPORTED_MEDIA_TYPE, VALIDATION_ERROR, RATE_LIMITED,
                                    SERVICE_UNAVAILABLE)}


class ProblemError(Exception):
    """Raised by the HTTP layer itself (auth, content type) to answer with a problem."""

    def __init__(self, code: Code, detail: str, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.code, self.detail, self.headers, self.extra = code, detail, headers, extra


def problem_body(code: Code, detail: str, **extra: Any) -> bytes:
    body = {"type": f"urn:stockline:problem:{code.code}", "title": code.title,
            "status": code.status, "detail": detail, "code": code.code, **extra}
    return orjson.dumps(body)


def problem_response(code: Code, detail: str, headers: Mapping[str, str] | None = None,
                     **extra: Any) -> Response:
    return Response(problem_body(code, detail, **extra), status_code=code.status,
                    media_type=PROBLEM_JSON, headers=headers)


def code_of(error: DomainError) -> Code:
    return DOMAIN_CODES[refusals.code_of(error)]


def refusal_problem(code: str, document: bytes) -> tuple[int, bytes]:
    """Status and problem+json of a refusal kept in no protocol's terms (services.answers:
    ``{"detail", "code", ...}``): the problem's own fields go in front, the rest as kept."""
    known = DOMAIN_CODES.get(code, INTERNAL_ERROR)
    head = orjson.dumps({"type": f"urn:stockline:problem:{known.code}",
                         "title": known.title, "status": known.status})
    return known.status, head[:-1] + b"," + document[1:]


def domain_problem(error: DomainError) -> tuple[int, bytes]:
    """Status and body for a domain error: the code plus the data a client needs to act."""
    answer = refusal(error)
    return refusal_problem(answer.outcome, answer.body)


def kept_problem(error: DomainError) -> bytes | None:
    """What an idempotency record keeps of a refusal rendered as a problem (None: the
    problem itself): services.answers abridges a long one."""
    answer = refusal(error)
    return None if answer.kept is None else refusal_problem(answer.outcome, answer.kept)[1]


def abridged(code: Code, detail: str, body: bytes) -> bytes | None:
    """``body``, a problem of this code and detail, as an idempotency record keeps it: None
    (the body itself) up to the kept size, else the code and the start of the detail,
    marked ``abridged``."""
    kept = kept_refusal(code.code, detail, body)
    return None if kept is None else refusal_problem(code.code, kept)[1]


def _field(loc: tuple[Any, ...], kind: str) -> str:
    if kind == "json_invalid":  # its loc carries a character offset, not a field
        return "body"
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    return [{"field": _field(tuple(e.get("loc", ())), e.get("type", "")),
             "location": str(e["loc"][0]) if e.get("loc") else "body",
             "message": e.get("msg", "invalid"), "type": e.get("type", "value_error")}
            for e in errors]


def validation_problem(errors: Any) -> tuple[str, bytes]:
    """The detail and body of the 422 for a request whose fields do not validate
    (``errors`` as pydantic and RequestValidationError give them)."""
    listed = validation_errors(errors)
    detail = f"invalid fields: {', '.join(sorted({e['field'] for e in listed}))}"
    return detail, problem_body(VALIDATION_ERROR, detail, errors=listed)


def _allowed_methods(app: FastAPI, path: str) -> str:
    """Every method of every route whose template matches ``path`` (routing names only one)."""
    methods: set[str] = set()
    paths = app.openapi()["paths"]
    if path in paths:  # a fixed path is its own resource (/v1/sales/record, not a sale id)
        return ", ".join(sorted(m.upper() for m in paths[path]))
    for template, operations in paths.items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods.update(m.upper() for m in operations)
    return ", ".join(sorted(methods))


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Problems answered before any route runs, so no route declares them itself: a body that is
# not UTF-8 JSON or nests too deep (400), over the size limit (413), not JSON (415); a
# credential header sent twice or a body where the route takes none (400), a missing
# credential (401), a role or scope that does not allow it (403), the rate limit.
_BODY_PROBLEMS = (400, 413, 415)
_GUARDED_PROBLEMS = (400, 401, 403, 429)
_RATE_LIMIT_HEADERS = {
    name: {"description": description, "schema": {"type": "integer", "minimum": 0}}
    for name, description in (("Retry-After", "Seconds to wait before retrying"),
                              ("RateLimit-Limit", "Requests allowed per window"),
                              ("RateLimit-Remaining", "Requests left in this window"),
                              ("RateLimit-Reset", "Seconds until the window resets"))}


def _problem_answer(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": "Problem details (RFC 9457)",
                              "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
    if status == 429:
        answer["headers"] = {"Retry-After": {**_RATE_LIMIT_HEADERS["Retry-After"],
                                             "required": True}}
    return answer


def _is_problem(status: str) -> bool:
    return status[:1] in ("4", "5")


def document_problems(spec: dict[str, Any]) -> None:
    """Declare the problems every operation can get from the middleware, and describe each
    problem answer as it is sent: ``application/problem+json`` with the Problem schema, and
    no other media type (a route's ``responses=problems(...)`` puts the schema under the
    route's own media type, ``text/event-stream`` for the stream)."""
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            answers: dict[str, Any] = operation["responses"]
            for key, answer in answers.items():
                if _is_problem(key):
                    answer["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
            extra = (_BODY_PROBLEMS if "requestBody" in operation else ()) + (
                _GUARDED_PROBLEMS if operation.get("security") else ())
            for status in extra:
                answers.setdefault(str(status), _problem_answer(status))


def denies_with_response(scope: Scope) -> bool:
    """The server can refuse this WebSocket handshake with an HTTP answer."""
    return "websocket.http.response" in scope.get("extensions", {})


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        status, body = domain_problem(exc)
        return Response(body, status_code=status, media_type=PROBLEM_JSON)

    async def on_problem(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.code, exc.detail, exc.headers, **exc.extra)

    async def on_validation(connection: HTTPConnection, exc: Exception) -> Response | None:
        assert isinstance(exc, RequestValidationError)
        detail, body = validation_problem(exc.errors())
        if isinstance(connection, WebSocket) and not denies_with_response(connection.scope):
            await connection.close(1008, f"validation_error: {detail}"[:120])
            return None
        # A WebSocket handshake gets it as its denial response (Starlette sends it so).
        return Response(body, status_code=VALIDATION_ERROR.status, media_type=PROBLEM_JSON)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _BY_STATUS.get(exc.status_code, Code(exc.status_code, "error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else code.title
        headers = exc.headers
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such route"
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(app, request.url.path)}
        return problem_response(code, detail, headers)

    async def on_unavailable(_request: Request, exc: Exception) -> Response:
        log.warning("storage_unavailable", error=str(exc))
        return problem_response(SERVICE_UNAVAILABLE,
                                "the database is unavailable; nothing was changed",
                                {"Retry-After": "1"})

    async def on_driver_error(request: Request, exc: Exception) -> Response:
        """A read's driver error or refused connection (writes' are translated by the
        executor): the database being down is a 503, anything else stays a bug."""
        if storage_down(exc):
            return await on_unavailable(request, exc)
        return await on_unexpected(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=loggable_path(request.scope))
        return problem_response(INTERNAL_ERROR, "an unexpected error occurred")

    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(ProblemError, on_problem)
    # Takes a request or a WebSocket handshake (Starlette types the two apart).
    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(StorageUnavailable, on_unavailable)
    app.add_exception_handler(TransientStorageError, on_unavailable)
    app.add_exception_handler(DBAPIError, on_driver_error)
    app.add_exception_handler(OSError, on_driver_error)
    app.add_exception_handler(Exception, on_unexpected)
