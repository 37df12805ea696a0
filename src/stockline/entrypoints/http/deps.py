"""FastAPI dependencies as Annotated aliases: the container, the writer, paging."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.requests import HTTPConnection
from starlette.responses import Response

from stockline.bootstrap import Container
from stockline.domain.errors import DomainError
from stockline.domain.security import Principal
from stockline.entrypoints.http.auth import PrincipalDep, caller_of
from stockline.entrypoints.http.bodyless import refuse_unexpected_body
from stockline.entrypoints.http.errors import (
    PROBLEM_JSON,
    UNSUPPORTED_MEDIA_TYPE,
    ProblemError,
    domain_problem,
    kept_problem,
)
from stockline.entrypoints.http.permissions import authorize
from stockline.entrypoints.http.schemas.common import Body
from stockline.services.batching import GroupCommit
from stockline.services.executor import Handler, Responder
from stockline.services.ports import IdempotencyClaim, StoredResponse

C = TypeVar("C")
R = TypeVar("R")


def _is_list(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" or any(_is_list(s) for s in schema.get("anyOf", []))


def _single_query_names(app: Any, method: str, template: str) -> frozenset[str]:
    """The query parameters of an operation that take one value, from its OpenAPI entry."""
    cache: dict[tuple[str, str], frozenset[str]] | None = getattr(
        app.state, "single_query_names", None)
    if cache is None:
        cache = app.state.single_query_names = {}
    if (method, template) not in cache:
        operation = app.openapi()["paths"].get(template, {}).get(method.lower(), {})
        cache[method, template] = frozenset(
            p["name"] for p in operation.get("parameters", [])
            if p["in"] == "query" and not _is_list(p.get("schema", {})))
    return cache[method, template]


async def check_query_values(connection: HTTPConnection) -> None:
    """Query values FastAPI would let through: a NUL character (text no database column
    takes: PostgreSQL refused it with an error, a 500), and a parameter that takes one
    value sent twice (FastAPI keeps the last and never checks the others:
    ``?cursor=junk&cursor=`` passed as no cursor)."""
    if not connection.scope.get("query_string"):
        return
    route = connection.scope.get("route")
    template = getattr(route, "path", None)
    if connection.scope["type"] != "http" or not isinstance(template, str):
        return
    items = connection.query_params.multi_items()
    if with_nul := sorted({name for name, value in items if "\x00" in value or "\x00" in name}):
        raise RequestValidationError([{"loc": ("query", n.replace("\x00", "\ufffd")),
                                       "type": "value_error",
                                       "msg": "must not contain a NUL character"}
                                      for n in with_nul])
    names = [name for name, _ in items]
    single = _single_query_names(connection.app, connection.scope["method"], template)
    repeated = sorted({n for n in names if n in single and names.count(n) > 1})
    if repeated:
        raise RequestValidationError([{"loc": ("query", n), "type": "value_error",
                                       "msg": "give this parameter once"} for n in repeated])


# An answer that carries a secret or a personal detail: kept by no cache, shared or private
# (RFC 9111; Pragma for HTTP/1.0 caches, as RFC 6749 §5.1 asks of token answers).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# What every route checks first, in this order: the app's own dependencies, and what a lean
# handler runs before it answers, so that both paths refuse the same requests alike.
ROUTE_CHECKS: tuple[Callable[[HTTPConnection], Awaitable[None]], ...] = (
    authorize, check_query_values, refuse_unexpected_body)


# Dependencies are coroutines: FastAPI runs a plain function in its thread pool, a thread
# hop per request for nothing.
async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500)")]
Cursor = Annotated[str | None, Query(max_length=512, description="From next_cursor")]
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255,
           pattern=IDEMPOTENCY_KEY_PATTERN,
           description="Makes the write safe to retry: the first answer is replayed"),
]


class JsonResponder(Generic[R]):
    """Renders a result as JSON and a refusal as problem+json; remembers what it rendered.

    ``shown_once`` renders the first answer of a result that carries a secret: the
    idempotency record keeps ``render``'s, so a replay never shows the secret again."""

    def __init__(self, render: Callable[[R], BaseModel], status: int,
                 shown_once: Callable[[R], BaseModel] | None = None) -> None:
        self._render, self._status, self._shown_once = render, status, shown_once
        self.result: R | None = None

    def ok(self, result: R) -> StoredResponse:
        self.result = result
        kept = self._render(result).model_dump_json().encode()
        if self._shown_once is None:
            return StoredResponse(self._status, kept)
        first = self._shown_once(result).model_dump_json().encode()
        return StoredResponse(self._status, first, kept=kept)

    def error(self, error: DomainError) -> StoredResponse:
        self.result = None
        status, body = domain_problem(error)
        return StoredResponse(status, body, kept=kept_problem(error, body))


def to_response(stored: StoredResponse) -> Response:
    media = PROBLEM_JSON if stored.status >= 400 else "application/json"
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return Response(stored.body, status_code=stored.status, media_type=media, headers=headers)


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
    """Runs a write through the executor, under the caller's idempotency key if sent."""

    def __init__(self, request: Request, container: ContainerDep, principal: PrincipalDep,
                 idempotency_key: IdempotencyKey = None) -> None:
        _require_json(request)
        self.request, self.container = request, container
        self.principal: Principal = principal
        self.key = idempotency_key

    async def __call__(self, handler: Handler[C, R], command: C,
                       render: Callable[[R], BaseModel], *, body: BaseModel | None,
                       status: int = 200,
                       on_success: Callable[[R], None] | None = None,
                       grouped: GroupCommit[C, R] | None = None,
                       shown_once: Callable[[R], BaseModel] | None = None) -> Response:
        """``grouped``: run it in a group commit with other requests of its kind;
        ``shown_once``: the first answer, which carries a secret (see JsonResponder)."""
        claim = self._claim(self.key, body) if self.key is not None else None
        responder = JsonResponder(render, status, shown_once)
        caller = caller_of(self.principal)
        if grouped is not None:
            stored = await grouped.submit(command, caller, responder, claim)
        else:
            stored = await self.container.executor.respond(handler, command, caller, responder,
                                                           claim)
        if on_success is not None and responder.result is not None and not stored.replayed:
            on_success(responder.result)
        return to_response(stored)

    async def answer(self, handler: Handler[C, R], command: C, responder: Responder[R], *,
                     body: BaseModel | None) -> Response:
        """As calling the writer, for an answer that ``responder`` renders itself (one
        document of several outcomes, say) rather than one model."""
        claim = self._claim(self.key, body) if self.key is not None else None
        return to_response(await self.container.executor.respond(
            handler, command, caller_of(self.principal), responder, claim))

    async def run(self, handler: Handler[C, R], command: C) -> R:
        """Run a write that keeps no idempotency record (one idempotent by nature, whose
        record would only link its key to what it names); a refusal raises."""
        return await self.container.executor.run(handler, command, caller_of(self.principal))

    def _claim(self, key: str, body: BaseModel | None) -> IdempotencyClaim:
        request = f"{self.request.method} {self.request.url.path}\n".encode()
        if body is not None:
            request += body.model_dump_json().encode()
        subject = body.subject() if isinstance(body, Body) else None
        return self.container.executor.digests.claim(key, request, subject=subject)


async def writer(request: Request, container: ContainerDep, principal: PrincipalDep,
                 idempotency_key: IdempotencyKey = None) -> Writer:
    return Writer(request, container, principal, idempotency_key)


WriterDep = Annotated[Writer, Depends(writer)]
