"""``Accept: text/csv`` on a list route: every matching row, one page at a time.

The rows come from the route itself. The middleware below sits under authentication and
the rate limit and hands the request on as it came; the route runs its checks
(``deps.ROUTE_CHECKS``: access rule, query, and ``check_accept``, which tells the
middleware that the route is a list) and answers its first page as JSON. A refusal (a
403, a 422) goes back as it is. A page goes out as CSV rows, and the middleware asks the
route for the next page in the same way, as the same caller (the principal of the
request) with the same query and the previous page's ``next_cursor``, until there is
none: the route's own filters, validation and location scope make every page, and each
page is written out before the next is read, so memory holds one page whatever the size
of the list.

The request pays for its first 500 rows as any request does; each further 500 rows take
one more token of the caller's rate limit (as a page of the event log replayed on a
stream does), and an export over the limit waits for its tokens rather than end short.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

import mimeparse  # type: ignore[import-untyped]
import orjson
import structlog
from starlette.requests import HTTPConnection
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockline.adapters.ratelimit import RateLimiter
from stockline.entrypoints.http.csvexport.shapes import CSV, ListShape, list_shape
from stockline.entrypoints.http.errors import NOT_ACCEPTABLE, ProblemError

log = structlog.get_logger("stockline.http")

JSON = "application/json"
# Rows a page after the first (the largest ?limit= a list takes) unless the request gave
# its own limit, and rows a token.
EXPORT_PAGE = 500
# Query parameters that say where a page starts: the export sets them for each page
# (``after`` is the event log's starting point, which the cursor replaces).
POSITION = frozenset({"cursor", "after"})
EXPORT_KEY = "stockline.csv_export"
NOT_CSV = ("text/csv is answered by the list routes only; this route answers "
           "application/json")


def qualities(scope: Scope) -> tuple[float, float]:
    """How much the request's Accept wants CSV and JSON (RFC 9110 §12.5.1: q-values, the
    most specific range first). No Accept, or one that does not parse: JSON."""
    header = b",".join(v for k, v in scope["headers"] if k == b"accept")
    if b"csv" not in header and b"*" not in header:  # takes no CSV: the common case, at once
        return 0.0, 1.0
    text = header.decode("latin-1")
    try:
        return float(mimeparse.quality(CSV, text)), float(mimeparse.quality(JSON, text))
    except ValueError:
        return 0.0, 1.0


def prefers_csv(wants_csv: float, wants_json: float) -> bool:
    """CSV only when asked for above JSON: on a tie (``*/*``) JSON, the API's own."""
    return wants_csv > wants_json


@dataclass(slots=True)
class Export:
    """What the route told the middleware: the list it answers (None: not a list)."""

    shape: ListShape | None = None


async def check_accept(connection: HTTPConnection) -> None:
    """A request that prefers CSV: a list route marks it for export; any other route
    answers JSON when the request takes it, else 406."""
    scope = connection.scope
    if scope["type"] != "http":
        return
    wants_csv, wants_json = qualities(scope)
    if not prefers_csv(wants_csv, wants_json):
        return
    template = getattr(scope.get("route"), "path", None)
    shape = None
    if isinstance(template, str):
        shape = list_shape(connection.app, scope["method"], template)
    export = scope.get(EXPORT_KEY)
    if shape is not None and isinstance(export, Export):
        export.shape = shape
    elif shape is None and wants_json == 0:
        raise ProblemError(NOT_ACCEPTABLE, NOT_CSV)


@dataclass(slots=True)
class Answer:
    """A route's answer to one page, as it sent it."""

    status: int = 500
    body: bytearray = field(default_factory=bytearray)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


class FirstPage:
    """Sends the route's answer on as it comes, unless it is a page of a list to export:
    that one is kept (``kept``) to be sent as CSV."""

    def __init__(self, send: Send, export: Export) -> None:
        self._send, self._export = send, export
        self.kept: Answer | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self._export.shape is not None \
                and message["status"] == 200:
            self.kept = Answer()
        if self.kept is not None:
            await self.kept.send(message)
        else:
            await self._send(message)


class ExportInterrupted(Exception):
    """A page after the first could not be read: the CSV already sent ends short, so the
    connection is dropped (no final chunk) rather than end as if it were complete."""


class CsvExportMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not prefers_csv(*qualities(scope)):
            await self.app(scope, receive, send)
            return
        base, export = dict(scope), Export()  # each page starts from the request as it came
        first = FirstPage(send, export)
        await self.app({**scope, EXPORT_KEY: export}, receive, first.send)
        if first.kept is None or export.shape is None:
            return
        pages = Pages(self.app, export.shape, base)
        response = StreamingResponse(
            pages.csv(first.kept), media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{export.shape.filename}.csv"'})
        await response(scope, receive, send)


class Pages:
    """The pages of one export, from the first (already read) to the last."""

    def __init__(self, app: ASGIApp, shape: ListShape, base: Scope) -> None:
        self.app, self.shape, self.base = app, shape, base
        query: bytes = base["query_string"]
        self.query = b"&".join(p for p in query.split(b"&") if p and _name(p) not in POSITION)
        if "limit" in shape.params and "limit" not in {_name(p) for p in query.split(b"&")}:
            self.query = b"&".join(p for p in (self.query, b"limit=%d" % EXPORT_PAGE) if p)

    async def csv(self, first: Answer) -> AsyncIterator[bytes]:
        items, cursor = self._read(first)
        yield self.shape.table.encode(items, header=True)
        sent, paid = len(items), EXPORT_PAGE
        while cursor is not None:
            while sent >= paid:
                await pay(self.base)
                paid += EXPORT_PAGE
            items, following = self._read(await self._page(cursor))
            yield self.shape.table.encode(items)
            sent += len(items)
            if following == cursor:
                raise ExportInterrupted("the list answered the same cursor twice")
            cursor = following

    async def _page(self, cursor: str) -> Answer:
        query = b"&".join(p for p in (self.query, b"cursor=" + quote(cursor).encode()) if p)
        headers = [*(h for h in self.base["headers"] if h[0] != b"accept"),
                   (b"accept", JSON.encode())]
        answer = Answer()
        await self.app({**self.base, "query_string": query, "headers": headers},
                       _bodyless, answer.send)
        if answer.status != 200:
            log.warning("csv_export_interrupted", status=answer.status,
                        problem=bytes(answer.body[:500]).decode(errors="replace"))
            raise ExportInterrupted(f"a page of the export answered {answer.status}")
        return answer

    def _read(self, answer: Answer) -> tuple[list[dict[str, Any]], str | None]:
        page = orjson.loads(answer.body)
        cursor = page.get("next_cursor") if "cursor" in self.shape.params else None
        return page[self.shape.key], cursor


async def pay(scope: Scope) -> None:
    """One token of the caller's rate limit, as a request takes; waits for it when the
    caller has none left (a client paging through the list would wait as long)."""
    principal = scope.get("state", {}).get("principal")
    if principal is None:
        return
    limiter: RateLimiter = scope["app"].state.container.limiter
    while True:
        decision = await limiter.check(principal.id, principal.role.value)
        if decision is None or decision.allowed:
            return
        await asyncio.sleep(decision.retry_after)


async def _bodyless() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _name(part: bytes) -> str:
    return unquote_plus(part.split(b"=", 1)[0].decode("latin-1"))
