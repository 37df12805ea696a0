"""Where a GraphQL operation reads and what its answer carries, as REST's routes have it
(entrypoints.http.consistency): a query's reads may use a replica (one that has replayed
the caller's ``Stockline-Read-After``, when sent); a mutation is a write, whose answer
carries ``Stockline-Position``."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.requests import HTTPConnection
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from stockline.adapters.replicas import replica_reads
from stockline.entrypoints.graphql.context import Context
from stockline.entrypoints.http.consistency import WROTE


class ReadRouting(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        kind = self.execution_context.operation_type
        if not isinstance(context, Context):
            yield
            return
        if kind is OperationType.MUTATION:
            if isinstance(context.request, HTTPConnection):
                setattr(context.request.state, WROTE, True)
            yield
        elif kind is OperationType.QUERY:
            with replica_reads(context.read_after):
                yield
        else:
            yield
