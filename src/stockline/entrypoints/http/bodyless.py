"""A body sent to a route that takes none is a 400, on every route alike.

Such a body would be ignored, so a client that sent it (a filter in a GET body, a reason
in a DELETE body) would believe it had been heard. The check is one of the checks every
route makes first (deps.ROUTE_CHECKS): an app-wide dependency, run once the route has
matched and the caller is known, and run by a lean handler before it answers.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute
from starlette.types import Scope

from stockline.entrypoints.http.errors import BAD_REQUEST, ProblemError

NO_BODY = ("this route takes no request body: send none (no Content-Length over 0, "
           "no Transfer-Encoding)")


def takes_body(route: BaseRoute | None) -> bool:
    """Whether the route reads a body: a body parameter, or one it declares and parses
    itself (the token route's form). Routes of no API (docs pages) take none."""
    if not isinstance(route, APIRoute):
        return False
    return route.body_field is not None or "requestBody" in (route.openapi_extra or {})


def has_body(scope: Scope) -> bool:
    """A request carries a body when it declares one (RFC 9112 §6.3): a Content-Length
    other than 0, or any Transfer-Encoding."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and (not value.strip().isdigit() or int(value) > 0):
            return True
    return False


def unexpected_body(scope: Scope) -> bool:
    """A body sent to the matched route, which takes none."""
    return scope["type"] == "http" and has_body(scope) and not takes_body(scope.get("route"))


async def refuse_unexpected_body(connection: HTTPConnection) -> None:
    if unexpected_body(connection.scope):
        raise ProblemError(BAD_REQUEST, NO_BODY)
