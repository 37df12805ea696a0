"""How the event pipeline stands: what waits in the outbox, and which node leads the relay;
and the other numbers operations watch (low levels, the webhook backlog)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.queries.core import level_conditions
from stockline.adapters.tables import (
    inventory_levels,
    outbox,
    relay_state,
    webhook_deliveries,
    webhooks,
)
from stockline.domain.webhooks import DeliveryStatus, WebhookStatus

PENDING, PAUSED = DeliveryStatus.PENDING.value, WebhookStatus.PAUSED.value


@dataclass(frozen=True, slots=True)
class PipelineStatus:
    pending: int  # outbox rows the relay has not moved to the event log yet
    oldest_pending_at: datetime | None
    newest_event_id: int  # the last id the relay assigned
    published_through: int  # the last id published to the bus
    relay_holder: str | None
    lease_expires_at: datetime | None


async def pipeline_status(engine: AsyncEngine) -> PipelineStatus:
    async with engine.connect() as conn:
        pending, oldest = (await conn.execute(
            select(func.count(), func.min(outbox.c.occurred_at)))).one()
        relay = (await conn.execute(select(relay_state).where(
            relay_state.c.name == "relay"))).first()
    return PipelineStatus(
        pending=pending, oldest_pending_at=oldest,
        newest_event_id=relay.last_event_id if relay else 0,
        published_through=relay.published_through if relay else 0,
        relay_holder=relay.holder if relay else None,
        lease_expires_at=relay.lease_expires_at if relay else None)


@dataclass(frozen=True, slots=True)
class OperationsStatus:
    """What /metrics reports from the database (every node sees the same numbers)."""

    pipeline: PipelineStatus
    levels_below_reorder_point: int  # as GET /v1/inventory?below_reorder_point=true counts
    webhook_deliveries_pending: int  # queued and not yet delivered (paused ones included)
    webhooks_paused: int


async def operations_status(engine: AsyncEngine) -> OperationsStatus:
    """The pipeline's status (as GET /v1/admin/status) and the numbers beside it; the
    low levels by the same rule as the list of levels, one count over the levels."""
    pipeline = await pipeline_status(engine)
    low = level_conditions(sku=None, location_id=None, location_type=None,
                           below_reorder_point=True, cursor=None, within=None)
    async with engine.connect() as conn:
        below = (await conn.execute(select(func.count()).select_from(inventory_levels)
                                    .where(*low))).scalar_one()
        pending = (await conn.execute(select(func.count()).select_from(webhook_deliveries)
                                      .where(webhook_deliveries.c.status == PENDING))
                   ).scalar_one()
        paused = (await conn.execute(select(func.count()).select_from(webhooks)
                                     .where(webhooks.c.status == PAUSED))).scalar_one()
    return OperationsStatus(pipeline=pipeline, levels_below_reorder_point=int(below),
                            webhook_deliveries_pending=int(pending), webhooks_paused=int(paused))
