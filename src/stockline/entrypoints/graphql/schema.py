"""The schema: the root types, the limits, and the errors' codes."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.errors import describe
from stockline.entrypoints.graphql.events import (
    EVENT_ID_SCALAR,
    EventId,
    EventNotice,
    event_notices,
)
from stockline.entrypoints.graphql.limits import QueryLimits
from stockline.entrypoints.graphql.mutations import StockMutation
from stockline.entrypoints.graphql.mutations_access import AccessMutation
from stockline.entrypoints.graphql.mutations_bulk import BulkMutation
from stockline.entrypoints.graphql.mutations_catalog import CatalogMutation
from stockline.entrypoints.graphql.mutations_documents import DocumentMutation
from stockline.entrypoints.graphql.query import StockQuery
from stockline.entrypoints.graphql.query_documents import DocumentQuery
from stockline.entrypoints.graphql.routing import ReadRouting

Query = merge_types("Query", (StockQuery, DocumentQuery))
Mutation = merge_types("Mutation", (StockMutation, CatalogMutation, DocumentMutation,
                                    BulkMutation, AccessMutation))


@strawberry.type
class Subscription:
    @strawberry.subscription(description=(
        "Live events, as the SSE stream sends them (GET /v1/events/stream): first "
        "`Subscribed`, then every matching event after `after` (replayed from the log) and "
        "on as they happen, with no gap and no duplicate; an `EventReset` when `after` was "
        "pruned or is ahead of the log. The server ends it with an error whose "
        "`extensions.code` says why (`slow_consumer`, `server_shutdown`, `rate_limited`, "
        "`credential_revoked`, ...) and whose `lastId` is where to resume. Filters and "
        "scope as the stream's: asking for another location, or a type the role may not "
        "read, is `forbidden`."))
    async def events(self, info: Info, types: list[str] | None = None,
                     location_ids: list[str] | None = None, skus: list[str] | None = None,
                     after: EventId | None = None
                     ) -> AsyncGenerator[EventNotice, None]:
        async for notice in event_notices(info, types, location_ids, skus, after):
            yield notice


class StocklineSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        """Every error gets its REST code (``errors.describe``); unexpected ones are
        logged there, the refusals of bad input are not."""
        describe(errors)


def parser_cache() -> ParserCache:
    """Each request's extension; the parsed documents are shared (module-level LRU)."""
    return ParserCache(maxsize=256)


def build_schema() -> strawberry.Schema:
    return StocklineSchema(query=Query, mutation=Mutation, subscription=Subscription,
                           # documents parsed once; not validated once: the limits read
                           # each request's variables (`first: $n`)
                           extensions=[parser_cache, QueryLimits, ReadRouting],
                           config=StrawberryConfig(scalar_map={EventId: EVENT_ID_SCALAR}))


def schema_text(schema: Any | None = None) -> str:
    """The schema in SDL, as docs/schema.graphql holds it."""
    return (schema or build_schema()).as_str() + "\n"
