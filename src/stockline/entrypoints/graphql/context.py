"""What every resolver gets: the container, the caller, and the request's data loaders."""

from __future__ import annotations

import strawberry
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from stockline.bootstrap import Container
from stockline.domain.security import Permission, Principal
from stockline.entrypoints.graphql.loaders import Loaders
from stockline.entrypoints.http.auth import SocketApiKey
from stockline.entrypoints.http.consistency import READ_AFTER, WROTE, read_after
from stockline.entrypoints.http.errors import UNAUTHORIZED, ProblemError
from stockline.entrypoints.http.metrics import Metrics
from stockline.entrypoints.http.routers.scope import require_of, within


class Context(BaseContext):
    def __init__(self, container: Container, principal: Principal | None,
                 metrics: Metrics | None = None, read_after: int | None = None) -> None:
        super().__init__()
        self.container, self.metrics = container, metrics
        self._principal = principal
        self.loaders = Loaders(container.queries)
        self.read_after = read_after  # the caller's Stockline-Read-After (a query's reads)

    @property
    def principal(self) -> Principal:
        """The caller, as the authentication middleware found it (401 without one: only
        the explorer page is served without a credential)."""
        if self._principal is None:
            raise ProblemError(UNAUTHORIZED, "send an API key in X-API-Key or a bearer token")
        return self._principal

    def seen(self, permission: Permission, asked: str | None = None) -> frozenset[str] | None:
        """Where a list may look, as a REST list route decides it: the role must hold the
        permission (the route's rule), a location asked for must be in the caller's scope
        (else forbidden), and without one the list keeps to the scope (None: all)."""
        self.principal.require(permission)
        return within(self.principal, permission, asked)

    def require_of(self, permission: Permission, what: str, *location_ids: str) -> None:
        """As REST's one-object routes: forbidden unless one of its locations is seen."""
        require_of(self.principal, permission, what, *location_ids)


Info = strawberry.Info[Context, None]


async def context_of(connection: HTTPConnection,
                     _api_key: SocketApiKey = None) -> Context:
    """A request's context (a WebSocket's: its connection's). ``api_key`` is declared for
    the WebSocket handshake, which a browser cannot give headers: the middleware reads it."""
    principal = getattr(connection.state, "principal", None)
    metrics = getattr(connection.app.state, "metrics", None)
    after = read_after(connection.headers.get(READ_AFTER))  # a malformed one: a 400
    setattr(connection.state, WROTE, False)  # until a mutation runs (graphql.routing)
    return Context(connection.app.state.container,
                   principal if isinstance(principal, Principal) else None,
                   metrics if isinstance(metrics, Metrics) else None, after)

