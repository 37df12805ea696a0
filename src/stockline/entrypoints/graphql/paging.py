"""Relay connections over the REST lists' pages: ``first`` is REST's ``limit`` (1-500,
50 by default), ``after`` is REST's ``cursor``; each edge's cursor resumes the list after
its node, ``pageInfo.endCursor`` is REST's ``next_cursor`` when there is a next page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from stockline.adapters.queries import Page
from stockline.domain.errors import InvalidInput

N = TypeVar("N")
T = TypeVar("T")

DEFAULT_FIRST = 50
MAX_FIRST = 500
MAX_CURSOR_LENGTH = 512


@strawberry.type(description="Where a page stands in its list (forward paging only).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="Whether the page was asked for after a cursor")
    start_cursor: str | None
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page")


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor: str = strawberry.field(description="Pass as `after` to resume after this node")


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo


def page_size(first: int | None) -> int:
    """``first`` as REST takes ``limit``: 1 to 500 (validation_error otherwise)."""
    if first is None:
        return DEFAULT_FIRST
    if not 1 <= first <= MAX_FIRST:
        raise InvalidInput("first", f"must be between 1 and {MAX_FIRST}")
    return first


def cursor_of(after: str | None) -> str | None:
    if after is not None and len(after) > MAX_CURSOR_LENGTH:
        raise InvalidInput("after", f"at most {MAX_CURSOR_LENGTH} characters")
    return after or None


def connection(page: Page[T], render: Callable[[T], N], after: str | None) -> Connection[N]:
    """The page as a connection of its items rendered."""
    return connection_of([render(x) for x in page.items], page.cursors(), page.next_cursor,
                         after)


def connection_of(nodes: Sequence[N], cursors: Sequence[str], next_cursor: str | None,
                  after: str | None) -> Connection[N]:
    edges = [Edge(node=n, cursor=c) for n, c in zip(nodes, cursors, strict=True)]
    info = PageInfo(has_next_page=next_cursor is not None, has_previous_page=after is not None,
                    start_cursor=cursors[0] if cursors else None,
                    end_cursor=cursors[-1] if cursors else None)
    return Connection(edges=edges, page_info=info)


def empty() -> Connection[N]:
    return Connection(edges=[], page_info=PageInfo(has_next_page=False,
                                                   has_previous_page=False,
                                                   start_cursor=None, end_cursor=None))
