"""What every read-side query module shares: pages, cursors, the read engine."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stockline.adapters.replicas import ReadRouter
from stockline.domain.errors import InvalidInput

T = TypeVar("T")
# The locations a list may show (the caller's scope): None, all of them.
Within = frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of a list; ``key`` gives the keyset key of an item (None: no cursor but
    ``next_cursor`` is given out for it)."""

    items: list[T]
    next_cursor: str | None
    key: Callable[[T], Sequence[Any]] | None = field(default=None, compare=False, repr=False)

    def cursors(self) -> list[str]:
        """The cursor after each item: the list resumes after that item when it is given
        back, as it resumes after the last one with ``next_cursor``."""
        if self.key is None:
            raise ValueError("this page gives out no cursor per item")
        return [encode_cursor(self.key(item)) for item in self.items]


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """The key a cursor carries, checked against the types the list expects."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        key = None
    if not (isinstance(key, list) and len(key) == len(types)
            and all(_fits(v, t) for v, t in zip(key, types, strict=True))):
        raise InvalidInput("cursor", "is not a cursor this list gave out")
    return key


def _fits(value: Any, kind: type) -> bool:
    """Only keys this API could have given out: short printable text, 64-bit ids."""
    if kind is int:
        return type(value) is int and 0 <= value < 2**63
    return (type(value) is str and 0 < len(value) <= 64
            and all(32 < ord(c) < 127 for c in value))


def parse_time(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidInput("cursor", "is not a cursor this list gave out")
    return when




def older_than_cursor(cursor: str | None, when: ColumnElement[datetime],
                      key: ColumnElement[str]) -> list[ColumnElement[bool]]:
    """The keyset condition of a newest-first list: rows after the cursor's (time, id)."""
    if not cursor:
        return []
    at, after_id = decode_cursor(cursor, str, str)
    moment = parse_time(at)
    return [or_(when < moment, and_(when == moment, key < after_id))]


def time_and_id(when: datetime, key: str) -> list[str]:
    """The cursor key of an item of a newest-first list."""
    return [when.isoformat(), key]


class QueryBase:
    """Reads run on the read engine, or on a replica where the request allows it
    (``adapters.replicas``); each call is one short transaction."""

    def __init__(self, engine: AsyncEngine, router: ReadRouter | None = None) -> None:
        self._engine = engine  # the primary's: its dialect is every replica's
        self._router = router or ReadRouter(engine)

    async def _read(self, work: Callable[[AsyncConnection], Awaitable[T]],
                    **options: Any) -> T:
        """``work`` on one connection, where the router sends it (tried again on the
        primary if a replica fails: ``work`` must only read)."""
        return await self._router.run(work, **options)

    async def _all(self, stmt: Select[*tuple[Any, ...]],
                   params: dict[str, Any] | None = None) -> list[Any]:
        async def rows(conn: AsyncConnection) -> list[Any]:
            return list((await conn.execute(stmt, params)).all())
        return await self._read(rows)

    async def _first(self, stmt: Select[*tuple[Any, ...]],
                     params: dict[str, Any] | None = None) -> Any:
        async def row(conn: AsyncConnection) -> Any:
            return (await conn.execute(stmt, params)).first()
        return await self._read(row)


def page_of(items: list[T], limit: int, key: Callable[[T], Sequence[Any]]) -> Page[T]:
    """The first ``limit`` items, and a cursor after the last when there were more."""
    if len(items) > limit:
        items = items[:limit]
        return Page(items, encode_cursor(key(items[-1])), key)
    return Page(items, None, key)
