"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockline.adapters.audit import AuditRecord, AuditTrail, outcome_of
from stockline.adapters.ratelimit import RateLimiter
from stockline.entrypoints.access import limit_refusal
from stockline.entrypoints.http.errors import PAYLOAD_TOO_LARGE, RATE_LIMITED, problem_response
from stockline.entrypoints.http.logged import loggable_path, loggable_query
from stockline.entrypoints.http.metrics import Metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = structlog.get_logger("stockline.access")

# Middlewares that only touch the start of an HTTP answer (headers, status) register a
# hook here instead of wrapping ``send``: every chunk of a stream would otherwise pass
# through each wrapper. The request context runs the hooks, innermost first.
START_HOOKS = "stockline.start_hooks"
StartHook = Callable[[Message], None]


def on_response_start(scope: Scope, hook: StartHook) -> bool:
    """Run ``hook`` on this HTTP answer's start message; False outside a request context."""
    hooks: list[StartHook] | None = scope.get(START_HOOKS)
    if hooks is None:
        return False
    hooks.append(hook)
    return True


class RequestContextMiddleware:
    """Gives each request an id (echoed in X-Request-ID), a log line and its metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        hooks: list[StartHook] = []
        scope[START_HOOKS] = hooks
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for hook in reversed(hooks):
                    hook(message)
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            log.info("request", method=scope["method"], path=loggable_path(scope),
                     query=loggable_query(scope), status=status,
                     duration_ms=round(elapsed * 1000, 2))
            structlog.contextvars.unbind_contextvars("request_id")


def with_start_hook(scope: Scope, send: Send, hook: StartHook) -> Send:
    """``send``, with ``hook`` run on the answer's start message: through the request
    context's hooks when there is one, else by wrapping ``send``."""
    if on_response_start(scope, hook):
        return send

    async def send_hooked(message: Message) -> None:
        if message["type"] == "http.response.start":
            hook(message)
        await send(message)

    return send_hooked


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.fullmatch(text) else None
    return None


class BodyLimitMiddleware:
    """Refuses a body over ``max_bytes`` with a 413 problem, whether declared or streamed.

    (Starlette's own limit answers a plain-text 413, which no client can branch on.) An
    imported file (``FILES``) may be larger: up to the import_max_body_bytes setting.
    """

    FILES = "/v1/imports/"

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope["path"].startswith(self.FILES):
            limit = scope["app"].state.settings.import_max_body_bytes
        detail = f"the request body is over {limit} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await problem_response(PAYLOAD_TOO_LARGE, detail)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, detail)  # answered as a problem by the error handlers
            return message

        await self.app(scope, receive_within_limit, send)


class RateLimitMiddleware:
    """A token bucket per principal (placed after authentication, which names it).

    Every answer to a limited principal carries RateLimit-Limit, -Remaining and -Reset
    (draft-ietf-httpapi-ratelimit-headers); an empty bucket answers 429 ``rate_limited``
    with Retry-After. Unauthenticated requests never get here (401), and the public
    probes (/healthz, /readyz) have no principal, so they are never limited.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] == "http" else None
        if principal is None:
            await self.app(scope, receive, send)
            return
        limiter: RateLimiter = scope["app"].state.container.limiter
        decision = await limiter.check(principal.id, principal.role.value)
        if decision is None:
            await self.app(scope, receive, send)
            return
        fields = decision.headers()
        if (detail := limit_refusal(decision)) is not None:
            headers = {k.decode(): v.decode() for k, v in fields}
            headers["Retry-After"] = str(decision.retry_after)
            await problem_response(RATE_LIMITED, detail, headers,
                                   retry_after=decision.retry_after)(scope, receive, send)
            return

        def add_fields(message: Message) -> None:
            message["headers"] = [*message.get("headers", ()), *fields]

        await self.app(scope, receive, with_start_hook(scope, send, add_fields))


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditMiddleware:
    """One audit record for every write and every refused credential or permission
    (a burst of refusals for too many failed credentials is counted into one).

    Placed outside authentication (to see its 401s) and inside the request context (for
    the request id). Records who, what, outcome, request id, client address and time;
    never a body, a credential, or a query string (a WebSocket may carry its key there).
    The client address is the ASGI peer: uvicorn puts X-Forwarded-For there only for
    the proxies named in STOCKLINE_TRUSTED_PROXIES.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        at = datetime.now(UTC)
        status = 500 if kind == "http" else 0

        def note_status(message: Message) -> None:
            nonlocal status
            status = message["status"]

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            kind_of_message = message["type"]
            if kind_of_message in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
            elif kind_of_message == "websocket.accept":
                status = 101
            elif kind_of_message == "websocket.close" and status == 0:
                status = 403  # closed during the handshake: refused
            await send(message)

        hooked = kind == "http" and on_response_start(scope, note_status)
        try:
            await self.app(scope, receive, send if hooked else send_noting_status)
        finally:
            method = scope["method"] if kind == "http" else "WS"
            state = scope.get("state", {})
            throttled = state.get("auth_throttled", False)
            if "auth_failure" in state and status in (0, 403):
                status = 429 if throttled else 401  # a WebSocket refused for its credential
            if method in _WRITES or status in (401, 403) or "auth_failure" in state:
                audit: AuditTrail = scope["app"].state.container.audit
                record = _audit_record(scope, at, method, status)
                # Refused before any check, for too many failed credentials: counted, so
                # that a flood from one address is one entry, not one per request.
                (audit.count_refusal if throttled else audit.record)(record)


def _audit_record(scope: Scope, at: datetime, method: str, status: int) -> AuditRecord:
    state = scope.get("state", {})
    principal = state.get("principal")
    route = getattr(scope.get("route"), "path", None)
    path = loggable_path(scope)
    client = scope.get("client")
    return AuditRecord(
        at=at, principal_id=principal.id if principal else None,
        principal_name=principal.name if principal else None,
        role=principal.role.value if principal else None, method=method, path=path,
        route=route, status=status, outcome=outcome_of(status),
        request_id=state.get("request_id"), ip=client[0] if client else None,
        detail=state.get("auth_failure"))


API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The interactive docs (Swagger UI, GraphiQL) run scripts and styles (its page starts it with an
# inline script) and call the API from the page. Every asset is served by this server
# (entrypoints/http/docs.py), so no other origin is allowed anything.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
            "base-uri 'self'; form-action 'self'")
_DOCS_PREFIXES = ("/docs", "/graphql")  # the GraphQL explorer is such a page
# The dashboard: its own scripts and styles only (none inline), calls to this server only.
DASHBOARD_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
                 "data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                 "form-action 'self'")


class SecurityHeadersMiddleware:
    """Secure headers on every answer: no sniffing, no framing, no referrer, a strict
    Content-Security-Policy (a looser one for the docs pages), no caching of /v1 answers,
    and Strict-Transport-Security when the request came over TLS."""

    def __init__(self, app: ASGIApp, *, hsts_max_age: int) -> None:
        self.app = app
        common = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                  ("Referrer-Policy", "no-referrer")]
        self._api = [*common, ("Content-Security-Policy", API_CSP)]
        self._docs = [*common, ("Content-Security-Policy", DOCS_CSP)]
        self._dashboard = [*common, ("Content-Security-Policy", DASHBOARD_CSP)]
        self._hsts = f"max-age={hsts_max_age}; includeSubDomains" if hsts_max_age else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        fields = (self._docs if path.startswith(_DOCS_PREFIXES) else self._dashboard
                  if path.startswith("/dashboard") else self._api)
        no_store = path.startswith(("/v1/", "/dashboard")) and not path.startswith(
            "/dashboard/assets/") or path == "/v1"
        hsts = self._hsts if scope.get("scheme") == "https" else None

        def add_fields(message: Message) -> None:
            headers = MutableHeaders(scope=message)
            for name, value in fields:
                headers[name] = value
            if no_store:
                headers["Cache-Control"] = "no-store"
            if hsts is not None:
                headers["Strict-Transport-Security"] = hsts

        await self.app(scope, receive, with_start_hook(scope, send, add_fields))
