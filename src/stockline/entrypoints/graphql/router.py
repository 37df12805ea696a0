"""``/graphql``: operations by POST (and queries by GET, as GraphQL over HTTP has them),
subscriptions over WebSocket (graphql-transport-ws), and the explorer page (GraphiQL,
from this package's own copy) for a browser asking for HTML.

Callers are authenticated by the HTTP app's middleware and let in by its permission table
(``permissions.ROUTES``), as any route; each field then checks its own permission and
scope. A request the transport refuses (a body that is not JSON, no query, a mutation by
GET) is answered problem+json as REST answers it, not strawberry's plain text.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from cross_web import HTTPException
from fastapi import Path, Request
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from stockline.entrypoints.graphql.context import Context, context_of
from stockline.entrypoints.graphql.schema import build_schema
from stockline.entrypoints.graphql.socket import CheckedOperations
from stockline.entrypoints.http.auth import is_page_request
from stockline.entrypoints.http.errors import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    ProblemError,
)

PATH = "/graphql"
ASSETS = ("graphiql.min.js", "graphiql.min.css", "react.production.min.js",
          "react-dom.production.min.js")
_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
# A GraphQL request's body, declared so that the app's checks know this route takes one.
REQUEST_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "properties": {
        "query": {"type": "string"}, "variables": {"type": "object"},
        "operationName": {"type": "string"}}}}}}}


def _static(name: str) -> bytes:
    return files("stockline.entrypoints.graphql").joinpath("static", name).read_bytes()


@cache
def _page() -> str:
    return _static("graphiql.html").decode()


@cache
def _asset(name: str) -> bytes:
    return _static(f"{name}.gz")


async def asset(request: Request, name: str = Path(max_length=64)) -> Response:
    """A script or style of the explorer page, gzipped for whoever accepts it."""
    if name not in ASSETS:
        raise ProblemError(NOT_FOUND, "no such asset")
    media = _TYPES[name.rsplit(".", 1)[1]]
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        return Response(_asset(name), media_type=media,
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(_asset(name)), media_type=media, headers=headers)


class GraphQLEndpoint(GraphQLRouter[Context, None]):
    graphql_transport_ws_handler_class = CheckedOperations

    def __init__(self, allowed_origins: tuple[str, ...] = (),
                 extensions: Sequence[Any] = ()) -> None:
        super().__init__(build_schema(extensions), prefix=PATH, context_getter=context_of,
                         graphql_ide="graphiql", allow_queries_via_get=True,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         include_in_schema=False, allowed_origins=allowed_origins)
        for route in self.routes:
            if isinstance(route, APIRoute) and "POST" in (route.methods or ()):
                route.openapi_extra = REQUEST_BODY
        self.add_api_route("/assets/{name}", asset, methods=["GET"], include_in_schema=False)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(_page())

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        if is_page_request(request.scope):
            return await self.render_graphql_ide(request)
        _ = context.principal  # a credential, or 401 (the middleware admits only the page)
        try:
            return await super().run(request, context, root_value)
        except HTTPException as refused:
            raise _problem(request, refused) from refused


def _problem(request: Request, refused: HTTPException) -> ProblemError:
    """The transport's refusal as problem+json: a mutation by GET is a 405 (GraphQL over
    HTTP), anything else a 400 with strawberry's reason."""
    if request.method == "GET" and isinstance(refused.__cause__, InvalidOperationTypeError):
        return ProblemError(METHOD_NOT_ALLOWED, "only queries are served by GET; send "
                            "mutations by POST (subscriptions: graphql-transport-ws)",
                            {"Allow": "GET, POST"})
    return ProblemError(BAD_REQUEST, refused.reason)
