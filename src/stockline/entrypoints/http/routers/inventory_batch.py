"""Many level changes in one request (an ERP's nightly sync): each answered on its own."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from stockline.domain.errors import DomainError
from stockline.domain.model import Level
from stockline.entrypoints.http.deps import WriterDep
from stockline.entrypoints.http.errors import (
    VALIDATION_ERROR,
    abridged,
    domain_problem,
    kept_problem,
    validation_problem,
)
from stockline.entrypoints.http.schemas.common import problems
from stockline.entrypoints.http.schemas.inventory import LevelOut
from stockline.entrypoints.http.schemas.inventory_batch import (
    BatchItem,
    BatchOut,
    InvalidItem,
    InventoryBatch,
)
from stockline.services.inventory_batch import MAX_CHANGES, update_inventory_many
from stockline.services.ports import StoredResponse

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])

# An item's answer: its status, its body, and what a replay answers instead (None: the body).
Answer = tuple[int, bytes, bytes | None]


def _refused(error: DomainError) -> Answer:
    status, body = domain_problem(error)
    return status, body, kept_problem(error, body)


def _invalid(item: InvalidItem) -> Answer:
    detail, body = validation_problem(item.error_dicts())
    return VALIDATION_ERROR.status, body, abridged(VALIDATION_ERROR, detail, body)


def _applied(level: Level) -> Answer:
    return 200, LevelOut.of(level).model_dump_json().encode(), None


def _document(bodies: Iterator[tuple[int, bytes]]) -> bytes:
    return orjson.dumps({"results": [
        {"index": index, "status": status, "body": orjson.Fragment(body)}
        for index, (status, body) in enumerate(bodies)]})


class BatchResponder:
    """The results document: each item answered as ``POST /v1/inventory/update`` answers
    it alone; the idempotency record keeps each refusal as that route's record would."""

    def __init__(self, items: list[BatchItem]) -> None:
        self._items = items

    def ok(self, outcomes: list[Level | DomainError]) -> StoredResponse:
        given = iter(outcomes)
        answers = [self._answer(item, given) for item in self._items]
        first = _document((status, body) for status, body, _ in answers)
        if all(kept is None for _, _, kept in answers):
            return StoredResponse(200, first)
        kept = _document((status, body if keep is None else keep)
                         for status, body, keep in answers)
        return StoredResponse(200, first, kept=kept)

    def error(self, error: DomainError) -> StoredResponse:
        status, body, kept = _refused(error)
        return StoredResponse(status, body, kept=kept)

    @staticmethod
    def _answer(item: BatchItem, outcomes: Iterator[Level | DomainError]) -> Answer:
        if isinstance(item, InvalidItem):
            return _invalid(item)
        outcome = next(outcomes)
        return _refused(outcome) if isinstance(outcome, DomainError) else _applied(outcome)


@router.post("/batch", response_model=BatchOut, responses=problems(),
             summary="Change many levels, each as POST /v1/inventory/update would",
             description=f"1 to {MAX_CHANGES} bodies of `POST /v1/inventory/update`, applied "
                         "in order, each on its own: a refused item changes nothing and "
                         "undoes no other. Each result carries the status and body that "
                         "route answers for that item alone (a body that does not validate "
                         "is that item's 422). Under one `Idempotency-Key` the batch is one "
                         "write: a retry replays the same results and applies nothing.")
async def update_inventory_batch(body: InventoryBatch, write: WriterDep) -> Response:
    return await write.answer(update_inventory_many, body.commands(), BatchResponder(body.items),
                              body=body)
