"""Administration: the reconciliation check of every level against its documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from stockline.adapters.reconcile import Reconciler
from stockline.domain.reconcile import MAX_DRIFT_ITEMS, Check, ReconcileReport
from stockline.domain.values import CODE_PATTERN
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep
from stockline.entrypoints.http.schemas.common import problems
from stockline.services.executor import utcnow

router = APIRouter(prefix="/v1/admin", tags=["admin"])
NDJSON = "application/x-ndjson"


class DriftOut(BaseModel):
    check: Check = Field(description="Which invariant does not hold")
    location_id: str | None
    sku: str | None
    expected: int | None = Field(description="What the documents say (the ledger, live "
                                              "reservations, ...); for `event_missing`, the "
                                              "level's version; for `outbox_stuck`, 0")
    actual: int | None = Field(description="What the level keeps; for `event_missing`, the "
                                           "version its newest event carries (null: none); "
                                           "for `outbox_stuck`, the rows waiting")
    detail: str


class ReconcileOut(BaseModel):
    checked: int = Field(description="Levels checked")
    drift: list[DriftOut] = Field(description=f"The first {MAX_DRIFT_ITEMS} drifts found; "
                                              "empty when every invariant holds")
    drift_total: int = Field(description="Every drift found (more than listed when truncated)")
    truncated: bool
    by_check: dict[str, int] = Field(description="Drifts found per check")


DESCRIPTION = f"""\
Checks every level (or the levels of `location_id`) against what stands behind its numbers,
with set-based queries over chunks of whole locations:

- `on_hand_ledger`: `on_hand` is the sum of the level's ledger deltas; `ledger_balance`: its
  last ledger row's `balance_after` is `on_hand`;
- `reserved_reservations`: `reserved` is the sum of its active reservations' lines;
- `in_transit_transfers`: `in_transit` is what transfers to it still in transit (or partly
  received) carry, less what was received or cancelled;
- `lots_total`: a lotted level's `on_hand` is the sum of its lots;
- `incoming_orders`: `incoming` is what open purchase orders (ordered, partly received)
  still await;
- `event_missing`: for a level with nothing waiting in the outbox, its newest logged
  `inventory.changed` event carries its current `version` (and, while the event log was never
  pruned, a level past its first version has such an event); `outbox_stuck`: no outbox row
  is older than 60 s. Together: every committed change has its event, or is about to.

Each check reads one consistent snapshot, so changes made meanwhile cause no false drift.
`drift` lists at most {MAX_DRIFT_ITEMS} items; `drift_total` and `by_check` count them all.

**Streaming.** With `Accept: {NDJSON}` the answer is NDJSON: a line
`{{"progress": {{"checked": n, "of": total}}}}` after each chunk of levels (about 100,000),
then the report above as the last line. Admins only."""


@router.get("/reconcile", response_model=ReconcileOut, responses={
    **problems(403), 200: {"content": {NDJSON: {}}, "description": "The report (JSON), or "
                                                                   "progress lines then the "
                                                                   "report (NDJSON)"}},
            summary="Reconcile every level with its ledger, documents and events",
            description=DESCRIPTION)
async def get_reconciliation(request: Request, container: ContainerDep, _p: PrincipalDep,
                    location_id: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None
                    ) -> Response:
    reconciler = Reconciler(container.database.read)
    steps = reconciler.run(now=utcnow(), location_id=location_id)
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(_lines(steps), media_type=NDJSON)
    async for step in steps:
        if isinstance(step, ReconcileReport):
            return Response(orjson.dumps(step.as_dict()), media_type="application/json")
    raise AssertionError("the reconciler ends with its report")


async def _lines(steps: AsyncIterator[object]) -> AsyncIterator[bytes]:
    async for step in steps:
        if isinstance(step, ReconcileReport):
            yield orjson.dumps(step.as_dict()) + b"\n"
        else:
            yield orjson.dumps({"progress": step}) + b"\n"
