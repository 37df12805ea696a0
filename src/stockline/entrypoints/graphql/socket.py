"""The graphql-transport-ws protocol, with each operation checked as a request is.

A request is authenticated and charged by the app's middleware; a WebSocket is so once,
at its handshake, and may then carry operations for hours. So, as on ``/v1/events/ws``,
every operation the client sends (``subscribe``) is checked first: its credential again
(a key revoked or expired since is refused, ``unauthorized``, and the socket closes, 4401)
and one token of the caller's rate limit (over it: ``rate_limited`` with ``retryAfter``,
and the operation does not run).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from stockline.entrypoints.graphql.context import Context
from stockline.entrypoints.http.errors import RATE_LIMITED, UNAUTHORIZED
from stockline.entrypoints.http.routers.events import guard_of

CREDENTIAL_LAPSED = 4401  # as /v1/events/ws: the key or token is no longer accepted


class CheckedOperations(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        context, request = self.context, self.context.request
        if not self.connection_acknowledged or request is None:
            await super().handle_subscribe(message)  # the protocol's own refusal
            return
        guard = guard_of(context.container, request.scope, context.principal)
        lapsed = await guard.recheck()
        if lapsed is not None:
            await self._refuse(message, lapsed, {"code": UNAUTHORIZED.code})
            await self.websocket.close(CREDENTIAL_LAPSED, lapsed[:120])
            return
        decision = await guard.charge()
        if decision is not None and not decision.allowed:
            await self._refuse(message, f"over this caller's rate limit of {decision.limit} "
                               f"requests at once; retry in {decision.retry_after} s",
                               {"code": RATE_LIMITED.code, "retryAfter": decision.retry_after})
            return
        await super().handle_subscribe(message)

    async def _refuse(self, message: SubscribeMessage, reason: str,
                      extensions: dict[str, Any]) -> None:
        error = GraphQLError(reason, extensions=extensions)
        await self.send_message({"id": message["id"], "type": "error",
                                 "payload": [error.formatted]})
