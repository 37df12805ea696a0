"""Administration: the reconciliation check of every level against its documents, and how
the event pipeline stands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from stockline.adapters.reconcile import Reconciler
from stockline.adapters.status import pipeline_status
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
  received) carry, less what was received, sent back or lost (a closed transfer carries
  nothing; a loss is a `transfer_lost` ledger row of delta 0, so `on_hand_ledger` holds);
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


class OutboxOut(BaseModel):
    pending: int = Field(description="Changes committed but not yet in the event log")
    oldest_pending_seconds: float | None = Field(description="Age of the oldest of them")
    newest_event_id: int = Field(description="The last event id the relay assigned")
    published_through: int = Field(description="The last event id published to the bus")


class NodeOut(BaseModel):
    name: str
    leads_relay: bool = Field(description="Holds the relay's lease (moves the outbox)")
    lease_until: datetime | None
    this_node: bool = Field(description="The node that answered this request")
    started_at: datetime | None = Field(description="When the serving process started "
                                        "(null: a relay of its own, which keeps no heartbeat)")
    last_seen: datetime | None = Field(description="Its last heartbeat")


class StatusOut(BaseModel):
    outbox: OutboxOut
    nodes: list[NodeOut] = Field(description="Every serving process seen within the last "
                                 "few heartbeats, and the relay's leader")


@router.get("/status", response_model=StatusOut, responses=problems(403),
            summary="The event pipeline: outbox lag, the relay's leader, the live nodes")
async def get_status(container: ContainerDep, _p: PrincipalDep) -> StatusOut:
    found = await pipeline_status(container.database.read)
    now, here = utcnow(), container.settings.node_name
    leader = (found.relay_holder if found.lease_expires_at is not None
              and found.lease_expires_at > now else None)

    def node(name: str, started_at: datetime | None = None,
             last_seen: datetime | None = None) -> NodeOut:
        leads = name == leader
        return NodeOut(name=name, leads_relay=leads,
                       lease_until=found.lease_expires_at if leads else None,
                       this_node=name == here, started_at=started_at, last_seen=last_seen)

    nodes = [node(r.name, r.started_at, r.last_seen) for r in await container.nodes.live()]
    listed = {n.name for n in nodes}
    nodes += [node(name) for name in dict.fromkeys((leader, here))
              if name is not None and name not in listed]
    age = (now - found.oldest_pending_at).total_seconds() if found.oldest_pending_at else None
    return StatusOut(outbox=OutboxOut(pending=found.pending, oldest_pending_seconds=age,
                                      newest_event_id=found.newest_event_id,
                                      published_through=found.published_through),
                     nodes=nodes)
