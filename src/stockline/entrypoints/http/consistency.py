"""Read-your-writes over HTTP, with reads served by replicas (adapters.replicas).

A successful write answers with ``Stockline-Position``: the primary's WAL position at or
after its commit. A read that sends it back as ``Stockline-Read-After`` is served by a
replica only once that replica has replayed that far, else by the primary. List, report,
ledger and event-log routes declare ``REPLICA_READ``: their reads may use a replica;
every other route reads the primary.
"""

from __future__ import annotations

import structlog
from fastapi import Depends
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockline.adapters.positions import BadPosition, format_position, parse_position
from stockline.adapters.replicas import mark_replica_read
from stockline.entrypoints.http.errors import BAD_REQUEST, ProblemError

POSITION = "Stockline-Position"
READ_AFTER = "Stockline-Read-After"
# The request state's flag saying whether the request wrote; unset, an unsafe method says.
WROTE = "stockline_wrote"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
log = structlog.get_logger("stockline")


def read_after(value: str | None) -> int | None:
    """The position a read must see, from ``Stockline-Read-After`` (None: not sent); one
    this server could not have given out is a 400."""
    if value is None:
        return None
    try:
        return parse_position(value)
    except BadPosition as exc:
        raise ProblemError(BAD_REQUEST, f"{READ_AFTER} {exc}") from exc


async def replica_read(connection: HTTPConnection) -> None:
    """This route's reads may run on a replica (one that has replayed the caller's
    ``Stockline-Read-After``, when sent)."""
    mark_replica_read(read_after(connection.headers.get(READ_AFTER)))


REPLICA_READ = Depends(replica_read)


def wrote(scope: Scope) -> bool:
    """Whether the request is a write: its method, unless the route said (GraphQL, whose
    POST may be a query)."""
    said = scope.get("state", {}).get(WROTE)
    return bool(said) if said is not None else scope["method"] not in _SAFE


class PositionMiddleware:
    """Adds ``Stockline-Position`` to each successful write's answer (PostgreSQL only).
    The position is read once the answer is ready, so after the write's commit; writes
    answered together share one read (``CommitPositions``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE:
            await self.app(scope, receive, send)
            return

        async def send_with_position(message: Message) -> None:
            if (message["type"] == "http.response.start" and 200 <= message["status"] < 300
                    and wrote(scope)):
                position = await _position(scope)
                if position is not None:
                    MutableHeaders(scope=message)[POSITION] = position
            await send(message)

        await self.app(scope, receive, send_with_position)


async def _position(scope: Scope) -> str | None:
    container = getattr(scope["app"].state, "container", None)
    positions = getattr(container, "positions", None)
    if positions is None:
        return None
    try:
        return format_position(await positions.now())
    except Exception as exc:  # the write is committed: its answer goes out all the same
        log.warning("position_unavailable", error=str(exc)[:300])
        return None

