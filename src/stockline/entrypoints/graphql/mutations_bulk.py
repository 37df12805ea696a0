"""Writes of many things at once: a batch of level changes and a CSV file, each its REST
route (``POST /v1/inventory/batch``, ``POST /v1/imports/{kind}``) through the same
operation, the same checks first, under ``idempotencyKey`` as one write."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import strawberry
from pydantic import ValidationError
from strawberry.experimental.pydantic import type as from_model

from stockline.domain.errors import DomainError
from stockline.domain.imports import ImportKind
from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.inputs import UpdateInventoryInput, plain
from stockline.entrypoints.graphql.mutations import LEVEL, Key
from stockline.entrypoints.graphql.payloads import (
    Around,
    UserError,
    answer_errors,
    invalid,
    perform,
    require_route,
    shown,
    user_errors,
)
from stockline.entrypoints.graphql.stock import Level
from stockline.entrypoints.http.routers.scope import require_at
from stockline.entrypoints.http.schemas.imports import ImportOut, ImportRequest
from stockline.entrypoints.http.schemas.inventory_batch import InventoryBatch
from stockline.entrypoints.imports import digest, read_file
from stockline.entrypoints.inventory_batch import batch_operation, batch_request
from stockline.entrypoints.operations import IMPORT_FILE, import_request
from stockline.services.imports.common import PERMISSIONS
from stockline.services.inventory_batch import MAX_CHANGES

IMPORTS = ("POST", "/v1/imports/{kind}")
BATCH = ("POST", "/v1/inventory/batch")


@strawberry.type(description="One item of a batch, as `updateInventory` answers it alone")
class BatchItemResult:
    index: int = strawberry.field(description="The item's position in `items`, from 0")
    level: Level | None
    user_errors: list[UserError]


@strawberry.type
class InventoryBatchPayload:
    results: list[BatchItemResult] | None = strawberry.field(
        description="One per item, in the order given (null: the batch itself was refused)")
    user_errors: list[UserError]


@from_model(model=ImportOut, all_fields=True, description="What an import did (or would do)")
class ImportResult:
    pass


@strawberry.type
class ImportPayload:
    result: ImportResult | None
    user_errors: list[UserError]


def _result(index: int, status: int, body: dict[str, Any]) -> BatchItemResult:
    if status == 200:
        return BatchItemResult(index=index, level=LEVEL(orjson.dumps(body)), user_errors=[])
    return BatchItemResult(index=index, level=None,
                           user_errors=answer_errors(body["code"], orjson.dumps(body)))


def _results(document: bytes) -> list[BatchItemResult]:
    return [_result(r["index"], r["status"], r["body"])
            for r in orjson.loads(document)["results"]]


def _batch(items: list[UpdateInventoryInput]) -> InventoryBatch:
    """The REST body: each item validated on its own (a bad one is that item's refusal)."""
    return InventoryBatch.model_validate({"items": [plain(item) for item in items]})


async def _file(info: Info, kind: ImportKind, csv: str, dry_run: bool) -> Any:
    """The file read as REST reads it, once the caller may import this kind (checked
    before the file is read, as REST does)."""
    require_at(require_route(info, IMPORTS), PERMISSIONS[kind])
    return await asyncio.to_thread(read_file, kind, csv.encode(),
                                   max_rows=info.context.container.settings.import_max_rows,
                                   dry_run=dry_run)


@strawberry.type
class BulkMutation:
    @strawberry.mutation(description=f"Change 1 to {MAX_CHANGES} levels, each as "
                                     "`updateInventory` would, in order and each on its own "
                                     "(POST /v1/inventory/batch): a refused item changes "
                                     "nothing and undoes no other. Under one "
                                     "`idempotencyKey` the batch is one write.")
    async def update_inventory_batch(self, info: Info, items: list[UpdateInventoryInput],
                                     idempotency_key: Key = None) -> InventoryBatchPayload:
        try:
            require_route(info, BATCH)  # the role first, as REST: then the body
            batch = _batch(items)
        except ValidationError as exc:
            return InventoryBatchPayload(results=None, user_errors=invalid(exc))
        except DomainError as error:
            return InventoryBatchPayload(results=None, user_errors=user_errors(error))
        results, errors = await perform(
            info, BATCH, batch_operation(batch.items), batch.commands, _results,
            idempotency_key, Around(identity=lambda _: batch_request(batch)))
        return InventoryBatchPayload(results=results, user_errors=errors)

    @strawberry.mutation(description="Import a CSV file of products, locations, levels or "
                                     "suppliers (POST /v1/imports/{kind}), checked whole and "
                                     "applied whole: each bad row is a `validation_error` "
                                     "naming its column and line, and nothing changes")
    async def import_file(self, info: Info, kind: ImportKind, csv: str, dry_run: bool = False,
                          idempotency_key: Key = None) -> ImportPayload:
        try:
            file = await _file(info, kind, csv, dry_run)
        except DomainError as error:
            return ImportPayload(result=None, user_errors=user_errors(error))
        fingerprint = ImportRequest(kind=kind, dry_run=dry_run, sha256=digest(csv.encode()))
        found, errors = await perform(
            info, IMPORTS, IMPORT_FILE, lambda: file, shown(ImportResult, ImportOut),
            idempotency_key, Around(identity=lambda _: import_request(fingerprint)))
        return ImportPayload(result=found, user_errors=errors)
