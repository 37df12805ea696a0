"""FastAPI dependencies as Annotated aliases: the container, the writer, paging."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Depends, Header, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIWebSocketRoute
from pydantic import BaseModel
from starlette.requests import HTTPConnection
from starlette.responses import Response

from stockline.bootstrap import Container
from stockline.domain.errors import InvalidInput
from stockline.domain.security import Principal
from stockline.entrypoints.http.auth import PrincipalDep, caller_of
from stockline.entrypoints.http.bodyless import refuse_unexpected_body
from stockline.entrypoints.http.csvexport import check_accept
from stockline.entrypoints.http.errors import (
    PROBLEM_JSON,
    UNSUPPORTED_MEDIA_TYPE,
    ProblemError,
    refusal_problem,
)
from stockline.entrypoints.http.permissions import authorize
from stockline.entrypoints.http.schemas.common import NO_NUL
from stockline.services.executor import Handler
from stockline.services.ports import StoredAnswer
from stockline.services.writes import Operation

C = TypeVar("C")
R = TypeVar("R")


def _takes_many(annotation: Any) -> bool:
    """A query parameter declared as a list (``?types=a&types=b``), optional or not."""
    if get_origin(annotation) in (Union, UnionType):
        return any(_takes_many(arg) for arg in get_args(annotation))
    origin = get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, list | tuple | set | frozenset)


@dataclass(frozen=True, slots=True)
class DeclaredQuery:
    """The query parameters a route declares: by name (``single``: those that take one
    value), and families of names by their prefix (``attr.<name>``)."""

    names: tuple[str, ...]
    single: frozenset[str]
    prefixes: tuple[str, ...]

    def takes(self, name: str) -> bool:
        return name in self.names or any(name.startswith(p) for p in self.prefixes)

    def listed(self) -> str:
        shown = [*self.names, *(f"{p}<name>" for p in self.prefixes)]
        return ", ".join(shown) if shown else "no query parameters"


class PrefixedQuery:
    """A dependency that declares, and reads, the query parameters named ``<prefix><name>``
    (for any name matching ``name_pattern``): ``{name: value}``."""

    def __init__(self, prefix: str, name_pattern: str, max_length: int) -> None:
        self.prefix, self.max_length = prefix, max_length
        self._name = re.compile(rf"{re.escape(prefix)}({name_pattern})")

    async def __call__(self, request: Request) -> dict[str, str]:
        found = {}
        for name, value in request.query_params.multi_items():
            if name.startswith(self.prefix):
                match = self._name.fullmatch(name)
                if match is None or len(value) > self.max_length or "\x00" in value:
                    raise InvalidInput(name, f"filters are {self.prefix}<name>=<value>")
                found[match.group(1)] = value
        return found


def _query_fields(dependant: Dependant) -> tuple[list[Any], list[str]]:
    """Every query field of a route's dependency tree (a pydantic model of query
    parameters as its fields), and the prefixes its PrefixedQuery dependencies declare."""
    fields: list[Any] = []
    prefixes: list[str] = []
    pending = [dependant]
    while pending:
        current = pending.pop(0)
        if isinstance(current.call, PrefixedQuery):
            prefixes.append(current.call.prefix)
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                fields.extend(model.model_fields.items())
            else:
                fields.append((field.alias, field.field_info))
        pending.extend(current.dependencies)
    return fields, prefixes


def declared_query(route: APIRoute | APIWebSocketRoute) -> DeclaredQuery:
    """What the route declares, read from its dependencies as FastAPI solved them (so it
    covers what the OpenAPI document leaves out, such as a WebSocket's parameters)."""
    fields, prefixes = _query_fields(route.dependant)
    names = tuple(dict.fromkeys(getattr(info, "alias", None) or name for name, info in fields))
    single = frozenset(getattr(info, "alias", None) or name for name, info in fields
                       if not _takes_many(info.annotation))
    return DeclaredQuery(names, single, tuple(prefixes))


def _declared(connection: HTTPConnection) -> DeclaredQuery | None:
    route = connection.scope.get("route")
    if not isinstance(route, APIRoute | APIWebSocketRoute) or (
            isinstance(route, APIRoute) and not route.include_in_schema):
        return None  # a page, not an operation (the OAuth2 redirect page takes any query)
    # By the route's identity (routes are not hashable): they live as long as the app.
    cache: dict[int, DeclaredQuery] | None = getattr(connection.app.state, "declared_query",
                                                     None)
    if cache is None:
        cache = connection.app.state.declared_query = {}
    if id(route) not in cache:
        cache[id(route)] = declared_query(route)
    return cache[id(route)]


def _refused(names: Iterable[str], message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", n.replace("\x00", "\ufffd")),
                                    "type": "value_error", "msg": message} for n in names])


async def check_query_values(connection: HTTPConnection) -> None:
    """Query parameters FastAPI would let through: one the route does not declare (FastAPI
    ignores it, so a client would believe a misspelt filter applied), a NUL character (text
    no database column takes: PostgreSQL refused it with an error, a 500), and a parameter
    that takes one value sent twice (FastAPI keeps the last and never checks the others:
    ``?cursor=junk&cursor=`` passed as no cursor)."""
    if not connection.scope.get("query_string"):
        return
    declared = _declared(connection)
    if declared is None:
        return
    items = connection.query_params.multi_items()
    if with_nul := sorted({name for name, value in items if "\x00" in value or "\x00" in name}):
        raise _refused(with_nul, "must not contain a NUL character")
    names = [name for name, _ in items]
    if unknown := sorted({n for n in names if not declared.takes(n)}):
        raise _refused(unknown, "unknown query parameter; this operation takes: "
                                + declared.listed())
    if repeated := sorted({n for n in names if n in declared.single and names.count(n) > 1}):
        raise _refused(repeated, "give this parameter once")


# An answer that carries a secret or a personal detail: kept by no cache, shared or private
# (RFC 9111; Pragma for HTTP/1.0 caches, as RFC 6749 §5.1 asks of token answers).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# What every route checks first, in this order: the app's own dependencies, and what a lean
# handler runs before it answers, so that both paths refuse the same requests alike.
ROUTE_CHECKS: tuple[Callable[[HTTPConnection], Awaitable[None]], ...] = (
    authorize, check_query_values, refuse_unexpected_body, check_accept)


# Dependencies are coroutines: FastAPI runs a plain function in its thread pool, a thread
# hop per request for nothing.
async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500)")]
Cursor = Annotated[str | None, Query(max_length=512, pattern=NO_NUL,
                                      description="From next_cursor")]
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255,
           pattern=IDEMPOTENCY_KEY_PATTERN,
           description="Makes the write safe to retry: the first answer is replayed"),
]


def json_document(render: Callable[[R], BaseModel]) -> Callable[[R], bytes]:
    """A result's JSON document, as a route's response model renders it."""
    def document(result: R) -> bytes:
        return render(result).model_dump_json().encode()
    return document


REPLAYED = {"Idempotent-Replayed": "true"}


def to_response(answer: StoredAnswer, status: int) -> Response:
    """A write's answer: ``status`` and the result's document, or the refusal's problem."""
    headers = REPLAYED if answer.replayed else None
    if answer.ok:
        return Response(answer.body, status_code=status, media_type="application/json",
                        headers=headers)
    refused, body = refusal_problem(answer.outcome, answer.body)
    return Response(body, status_code=refused, media_type=PROBLEM_JSON, headers=headers)


def declares_json(request: Request) -> bool:
    """The request's Content-Type is JSON (application/json or application/*+json)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


def _require_json(request: Request) -> None:
    """A body must be declared JSON; anything else is a 415, not a guess."""
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if has_body and not declares_json(request):
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        raise ProblemError(UNSUPPORTED_MEDIA_TYPE,
                           f"send the body as application/json (got '{media or 'nothing'}')")


class Writer:
    """Hands a route's write to the write service (services.writes), under the caller's
    idempotency key if sent, and renders its outcome."""

    def __init__(self, request: Request, container: ContainerDep, principal: PrincipalDep,
                 idempotency_key: IdempotencyKey = None, *,
                 require_media: Callable[[Request], None] = _require_json) -> None:
        require_media(request)
        self.request, self.container = request, container
        self.principal: Principal = principal
        self.key = idempotency_key

    async def perform(self, operation: Operation[C, R], command: C, *,
                      body: BaseModel | None, status: int = 200,
                      on_success: Callable[[R], None] | None = None,
                      identity: bytes | None = None) -> Response:
        """Run an operation (one of entrypoints.operations, shared by every protocol: its
        key is matched by the command, or by ``identity`` when the command holds what the
        server made for the request)."""
        request = self._request(body) if self.key is not None else None
        outcome = await self.container.writes.execute(
            operation, command, caller_of(self.principal), key=self.key,
            request=identity, legacy=request)
        if on_success is not None and outcome.result is not None:
            on_success(outcome.result)
        return to_response(outcome.answer, status)

    async def run(self, handler: Handler[C, R], command: C) -> R:
        """Run a write that keeps no idempotency record (one idempotent by nature, whose
        record would only link its key to what it names); a refusal raises."""
        return await self.container.writes.run(handler, command, caller_of(self.principal))

    def _request(self, body: BaseModel | None) -> bytes:
        """The request as REST identifies it: method, path and body."""
        request = f"{self.request.method} {self.request.url.path}\n".encode()
        if body is not None:
            request += body.model_dump_json().encode()
        return request


async def writer(request: Request, container: ContainerDep, principal: PrincipalDep,
                 idempotency_key: IdempotencyKey = None) -> Writer:
    return Writer(request, container, principal, idempotency_key)


WriterDep = Annotated[Writer, Depends(writer)]
