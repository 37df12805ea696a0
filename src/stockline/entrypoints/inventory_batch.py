"""Many level changes as one write (an ERP's nightly sync), whatever protocol carries it:
its operation, each item answered as ``POST /v1/inventory/update`` answers it alone, and
what identifies the request.

REST (``POST /v1/inventory/batch``) and GraphQL (``updateInventoryBatch``) hand
``batch_operation`` to the one write service; the results document is REST's, which each
protocol renders in its own terms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import orjson

from stockline.domain.commands import UpdateInventory
from stockline.domain.errors import DomainError
from stockline.domain.model import Level
from stockline.entrypoints.http.errors import (
    VALIDATION_ERROR,
    abridged,
    domain_problem,
    kept_problem,
    validation_problem,
)
from stockline.entrypoints.http.schemas.inventory import LevelOut
from stockline.entrypoints.http.schemas.inventory_batch import (
    BatchItem,
    InvalidItem,
    InventoryBatch,
)
from stockline.services.inventory_batch import update_inventory_many
from stockline.services.writes import Operation

# An item's answer: its status, its body, and what a replay answers instead (None: the body).
Answer = tuple[int, bytes, bytes | None]
NAME = "update_inventory_batch"


def _refused(error: DomainError) -> Answer:
    status, body = domain_problem(error)
    return status, body, kept_problem(error)


def _invalid(item: InvalidItem) -> Answer:
    detail, body = validation_problem(item.error_dicts())
    return VALIDATION_ERROR.status, body, abridged(VALIDATION_ERROR, detail, body)


def _applied(level: Level) -> Answer:
    return 200, LevelOut.of(level).model_dump_json().encode(), None


def _document(bodies: Iterator[tuple[int, bytes]]) -> bytes:
    return orjson.dumps({"results": [
        {"index": index, "status": status, "body": orjson.Fragment(body)}
        for index, (status, body) in enumerate(bodies)]})


Outcomes = list[Level | DomainError]


class BatchDocuments:
    """The results document: each item answered as ``POST /v1/inventory/update`` answers
    it alone (``first``); the idempotency record keeps each refusal as that route's record
    would (``kept``)."""

    def __init__(self, items: list[BatchItem]) -> None:
        self._items = items
        self._made: tuple[Outcomes, bytes, bytes] | None = None

    def first(self, outcomes: Outcomes) -> bytes:
        return self._documents(outcomes)[0]

    def kept(self, outcomes: Outcomes) -> bytes:
        return self._documents(outcomes)[1]

    def _documents(self, outcomes: Outcomes) -> tuple[bytes, bytes]:
        if self._made is None or self._made[0] is not outcomes:  # each made once
            given = iter(outcomes)
            answers = [self._answer(item, given) for item in self._items]
            first = _document((status, body) for status, body, _ in answers)
            kept = first if all(keep is None for _, _, keep in answers) else _document(
                (status, body if keep is None else keep) for status, body, keep in answers)
            self._made = outcomes, first, kept
        return self._made[1], self._made[2]

    @staticmethod
    def _answer(item: BatchItem, outcomes: Iterator[Level | DomainError]) -> Answer:
        if isinstance(item, InvalidItem):
            return _invalid(item)
        outcome = next(outcomes)
        return _refused(outcome) if isinstance(outcome, DomainError) else _applied(outcome)


def batch_operation(items: list[BatchItem]) -> Operation[Sequence[UpdateInventory], Outcomes]:
    documents = BatchDocuments(items)
    return Operation(NAME, update_inventory_many, documents.kept, shown_once=documents.first)


def batch_request(batch: InventoryBatch) -> bytes:
    """What identifies a batch, whatever protocol sent it: every item as validated (an
    invalid one as sent), in order; the valid items' commands alone would not tell two
    batches apart whose invalid items differ."""
    return NAME.encode() + b"\n" + batch.model_dump_json().encode()
