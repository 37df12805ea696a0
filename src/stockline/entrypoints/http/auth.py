"""Who is calling: an API key (``X-API-Key``) or a bearer token; 401 otherwise.

Authentication happens in ASGI middleware, before the router reads any body, so a caller
without a valid credential learns nothing but 401 (not even whether its body parses).
A WebSocket handshake is authenticated the same way before it is accepted; since browsers
cannot set headers on one, it may also carry the key as ``?api_key=``. The event streams
also take a single-use ticket (``?ticket=``, from ``POST /v1/events/tickets``) in place of
a credential, so that a browser's EventSource never puts a long-lived key in a URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Query, Request, WebSocket, WebSocketException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockline.adapters.auth_failures import FailureBudget
from stockline.adapters.authentication import AuthenticationFailed, Authenticator
from stockline.adapters.tickets import TicketStore
from stockline.domain.security import Principal
from stockline.entrypoints.access import (
    MISSING,
    CredentialRefused,
    Throttled,
    credential_headers,
    credential_in,
    guarded,
)
from stockline.entrypoints.http.errors import (
    BAD_REQUEST,
    RATE_LIMITED,
    UNAUTHORIZED,
    ProblemError,
    problem_response,
)
from stockline.entrypoints.http.middleware import with_start_hook
from stockline.entrypoints.http.session import session_cookie, session_principal
from stockline.services.executor import Caller

PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/openapi.json", "/docs",
                          "/docs/oauth2-redirect",
                          # the dashboard's page (a sign-in form without a session), its
                          # sign-in (which checks the key itself) and sign-out
                          "/dashboard", "/dashboard/session", "/dashboard/sign-out",
                          # the token route authenticates its client itself (RFC 6749 §2.3)
                          "/v1/oauth/token", "/.well-known/jwks.json"})

# the explorers' and the dashboard's scripts and styles
PUBLIC_PREFIXES = ("/docs/assets/", "/graphql/assets/", "/dashboard/assets/")
# Paths that are a page for a browser when asked for HTML without a query (the GraphQL
# explorer): public, as /docs is; anything else asked of them needs a credential.
PAGE_PATHS = frozenset({"/graphql"})
SELF_AUTHENTICATED = frozenset({"/v1/oauth/token"})  # public, but refuses bad clients (401)
TICKET_PATHS = frozenset({"/v1/events/stream", "/v1/events/ws"})  # may take ?ticket=
_TICKETED = "stream_ticket"  # request state: the principal came from a ticket or session

SECURITY_SCHEMES = {
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "An API key; the admin key is printed by `stockline serve`"},
    "HTTPBearer": {"type": "http", "scheme": "bearer",
                   "description": "An API key, or an access token from /v1/oauth/token"},
}


def document_security(spec: dict[str, Any], public: Callable[[str, str], bool]) -> None:
    """Declare the schemes, and require one on every operation but the public ones."""
    spec.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and not public(method.upper(), path):
                operation["security"] = [{"APIKeyHeader": []}, {"HTTPBearer": []}]


def caller_of(principal: Principal) -> Caller:
    """The caller the services see: id for idempotency, name for the ledger, the scope."""
    return Caller(principal=principal.id, actor=principal.name, access=principal)


class AuthMiddleware:
    """Answers 401 before routing; puts the Principal in the request state otherwise.

    A client address over its budget of refused credentials is answered 429 before its
    credential is checked (the token route, which checks its client itself, included).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or (
                (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES))
                and path not in SELF_AUTHENTICATED) or is_page_request(scope):
            await self.app(scope, receive, send)
            return
        budget: FailureBudget = scope["app"].state.container.auth_failures
        address = _address(scope)
        if path in SELF_AUTHENTICATED:
            over = budget.admit(address)
            if over is not None:
                await _refuse(scope, receive, send, _throttled(scope, over.retry_after))
                return
            await self._client_authenticated(scope, receive, send, budget, address)
            return
        try:
            principal = await guarded(budget, address, lambda: self._authenticate(scope),
                                      refusals=(ProblemError,))
        except Throttled as over:  # spent by requests under way since admit() above
            await _refuse(scope, receive, send, _throttled(scope, over.retry_after))
            return
        except ProblemError as refused:
            await _refuse(scope, receive, send, refused)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _client_authenticated(self, scope: Scope, receive: Receive, send: Send,
                                    budget: FailureBudget, address: str | None) -> None:
        """A route that authenticates its client itself: its 401s count all the same."""
        status = 0

        def note_status(message: Message) -> None:
            nonlocal status
            status = message["status"]

        try:
            await self.app(scope, receive, with_start_hook(scope, send, note_status))
            if status == 401:
                await budget.spend(address)
        finally:
            budget.release(address)

    async def _authenticate(self, scope: Scope) -> Principal:
        authenticator: Authenticator = scope["app"].state.container.authenticator
        ticket = ticket_of(scope)
        try:
            if ticket is not None:
                return await self._redeem(scope, authenticator, ticket)
            cookie = session_cookie(scope) if not _credential_headers(scope) else None
            if cookie is not None:  # a dashboard page: its stream checks the session's
                scope.setdefault("state", {})[_TICKETED] = True  # principal, as a ticket's
                return await session_principal(scope, cookie,
                                               scope["app"].state.container.sessions,
                                               authenticator)
            return await authenticator.authenticate(credential_of(scope))
        except AuthenticationFailed as exc:
            raise ProblemError(UNAUTHORIZED, str(exc),
                               {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc

    @staticmethod
    async def _redeem(scope: Scope, authenticator: Authenticator, ticket: str) -> Principal:
        """The principal of a stream ticket, spent by this request whatever its answer,
        while what it was issued to is still accepted."""
        tickets: TicketStore = scope["app"].state.container.tickets
        principal = await tickets.redeem(ticket)
        if principal is None:
            raise AuthenticationFailed("the ticket is not valid (unknown, used or expired): "
                                       "get a new one from POST /v1/events/tickets")
        principal = await authenticator.confirm(principal)
        scope.setdefault("state", {})[_TICKETED] = True
        return principal


def _throttled(scope: Scope, retry_after: int) -> ProblemError:
    scope.setdefault("state", {})["auth_throttled"] = True
    return ProblemError(RATE_LIMITED, str(Throttled(retry_after)),
                        {"Retry-After": str(retry_after)}, retry_after=retry_after)


async def _refuse(scope: Scope, receive: Receive, send: Send, refused: ProblemError) -> None:
    """Answer ``refused`` (a WebSocket gets it as its denial response, or a close)."""
    scope.setdefault("state", {})["auth_failure"] = refused.detail
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
            "extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
        return
    await problem_response(refused.code, refused.detail, refused.headers,
                           **refused.extra)(scope, receive, send)


def _address(scope: Scope) -> str | None:
    """The client address: the ASGI peer (uvicorn sets it from X-Forwarded-For only for
    STOCKLINE_TRUSTED_PROXIES)."""
    client = scope.get("client")
    return str(client[0]) if client else None


def _credential_headers(scope: Scope) -> dict[str, str]:
    """X-API-Key and Authorization, each sent at most once (``credential_headers``)."""
    try:
        return credential_headers((name.decode("latin-1"), value.decode("latin-1"))
                                  for name, value in scope["headers"])
    except CredentialRefused as refused:
        raise ProblemError(BAD_REQUEST, refused.detail) from None


def credential_of(scope: Scope) -> str:
    """The key or token a request (or WebSocket handshake) carries; 401 without one. An
    open stream keeps it to check it again while it lasts."""
    headers = _credential_headers(scope)
    fallback = _query_api_key(scope) if scope["type"] == "websocket" else None
    try:
        return credential_in(headers, fallback)
    except CredentialRefused as refused:
        raise ProblemError(UNAUTHORIZED, refused.detail,
                           {"WWW-Authenticate": "Bearer"}) from None


def _query_values(scope: Scope, name: str) -> list[str]:
    query = scope.get("query_string", b"").decode("latin-1")
    return [v for k, v in parse_qsl(query, keep_blank_values=True) if k == name]


def is_page_request(scope: Scope) -> bool:
    """A browser asking for the page of a path in PAGE_PATHS: a GET (or HEAD) that accepts
    HTML and carries no ``query`` parameter (GraphQL over HTTP: a GET with one is an
    operation, which needs a credential)."""
    if scope["type"] != "http" or scope.get("path") not in PAGE_PATHS or scope.get(
            "method") not in ("GET", "HEAD") or _query_values(scope, "query"):
        return False
    accept = b",".join(value for name, value in scope["headers"] if name == b"accept")
    return b"text/html" in accept.lower()


def _query_api_key(scope: Scope) -> str | None:
    return next(iter(_query_values(scope, "api_key")), None)


def ticket_of(scope: Scope) -> str | None:
    """The stream ticket a request to an event stream carries (None: none); a 400 when
    it carries two; a 401 when a credential comes beside it (which of them would count?
    the request authenticates as neither, as OAuth 2.0 refuses a token sent two ways)."""
    if scope.get("path") not in TICKET_PATHS or b"ticket" not in scope.get("query_string",
                                                                          b""):
        return None
    tickets = _query_values(scope, "ticket")
    if not tickets:
        return None
    if len(tickets) > 1:
        raise ProblemError(BAD_REQUEST, "send one ticket, not several")
    if _credential_headers(scope) or _query_values(scope, "api_key"):
        raise ProblemError(UNAUTHORIZED, "send a ticket or a credential, not both",
                           {"WWW-Authenticate": "Bearer"})
    return tickets[0]


def stream_credential(scope: Scope) -> str | None:
    """What an open stream checks again while it lasts: the key or token it was opened
    with, or None when it was opened with a ticket (``Authenticator.confirm`` then checks
    the principal's own key again)."""
    if scope.get("state", {}).get(_TICKETED):
        return None
    return credential_of(scope)


async def authenticate(request: Request) -> Principal:
    """The caller, as the middleware found it (the schemes are documented by
    ``document_security``, not by dependencies: each costs time on every request)."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise ProblemError(UNAUTHORIZED, MISSING, {"WWW-Authenticate": "Bearer"})
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


# Read by the middleware (credential_of); declared here as the WebSocket's parameter.
SocketApiKey = Annotated[str | None, Query(alias="api_key", include_in_schema=False,
                                           description="The API key, for browsers")]


async def authenticate_websocket(websocket: WebSocket,
                                 _api_key: SocketApiKey = None) -> Principal:
    """The caller of a WebSocket, as the middleware found it at the handshake."""
    principal = getattr(websocket.state, "principal", None)
    if not isinstance(principal, Principal):
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "unauthorized")
    return principal


SocketPrincipalDep = Annotated[Principal, Depends(authenticate_websocket)]
