"""Who is calling: an API key (``X-API-Key``) or a bearer token; 401 otherwise.

Authentication happens in ASGI middleware, before the router reads any body, so a caller
without a valid credential learns nothing but 401 (not even whether its body parses).
A WebSocket handshake is authenticated the same way before it is accepted; since browsers
cannot set headers on one, it may also carry the key as ``?api_key=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request, WebSocket, WebSocketException, status
from starlette.types import ASGIApp, Receive, Scope, Send

from stockline.adapters.authentication import AuthenticationFailed, Authenticator
from stockline.domain.security import Principal
from stockline.entrypoints.http.errors import UNAUTHORIZED, ProblemError, problem_response
from stockline.services.executor import Caller

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs",
                          "/docs/oauth2-redirect",
                          # the token route authenticates its client itself (RFC 6749 §2.3)
                          "/v1/oauth/token", "/.well-known/jwks.json"})

PUBLIC_PREFIXES = ("/docs/assets/",)  # Swagger UI's scripts and styles

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
    """Answers 401 before routing; puts the Principal in the request state otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] not in ("http", "websocket") or path in PUBLIC_PATHS
                or path.startswith(PUBLIC_PREFIXES)):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticate(scope)
        except ProblemError as refused:
            scope.setdefault("state", {})["auth_failure"] = refused.detail
            if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
                    "extensions", {}):
                await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
                return
            response = problem_response(refused.code, refused.detail, refused.headers)
            await response(scope, receive, send)  # a WebSocket gets it as its denial response
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Principal:
        given = credential_of(scope)
        authenticator: Authenticator = scope["app"].state.container.authenticator
        try:
            return await authenticator.authenticate(given)
        except AuthenticationFailed as exc:
            raise ProblemError(UNAUTHORIZED, str(exc),
                               {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


def credential_of(scope: Scope) -> str:
    """The key or token a request (or WebSocket handshake) carries; 401 without one. An
    open stream keeps it to check it again while it lasts."""
    headers: dict[bytes, bytes] = {k: v for k, v in scope["headers"]
                                   if k in (b"x-api-key", b"authorization")}
    api_key, authorization = headers.get(b"x-api-key"), headers.get(b"authorization")
    given = api_key.decode("latin-1") if api_key is not None else None
    if given is None and authorization is not None:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" and token.strip() else None
        if given is None:
            raise ProblemError(UNAUTHORIZED, "the Authorization header must be "
                               "'Bearer <key or token>'", {"WWW-Authenticate": "Bearer"})
    if given is None and scope["type"] == "websocket":
        given = _query_api_key(scope)
    if not given:
        raise ProblemError(UNAUTHORIZED, "send an API key in X-API-Key or a bearer token",
                           {"WWW-Authenticate": "Bearer"})
    return given


def _query_api_key(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    return next((v for k, v in parse_qsl(query) if k == "api_key"), None)


async def authenticate(request: Request) -> Principal:
    """The caller, as the middleware found it (the schemes are documented by
    ``document_security``, not by dependencies: each costs time on every request)."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise ProblemError(UNAUTHORIZED, "send an API key in X-API-Key or a bearer token",
                           {"WWW-Authenticate": "Bearer"})
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def authenticate_websocket(websocket: WebSocket) -> Principal:
    """The caller of a WebSocket, as the middleware found it at the handshake."""
    principal = getattr(websocket.state, "principal", None)
    if not isinstance(principal, Principal):
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "unauthorized")
    return principal


SocketPrincipalDep = Annotated[Principal, Depends(authenticate_websocket)]
