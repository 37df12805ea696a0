"""Webhook subscriptions and the steering of their deliveries (SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.tables import (
    events,
    relay_state,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
)
from stockline.domain.webhooks import Attempt, Delivery, DeliveryStatus, Webhook, WebhookStatus

W, D, A = webhooks.c, webhook_deliveries.c, webhook_attempts.c
PENDING = DeliveryStatus.PENDING.value


def webhook_from_row(row: Any) -> Webhook:
    return Webhook(id=row.id, url=row.url, event_types=tuple(row.event_types),
                   location_ids=(tuple(row.location_ids) if row.location_ids is not None
                                 else None),
                   secret=row.secret, status=WebhookStatus(row.status),
                   paused_reason=row.paused_reason, actor=row.actor,
                   created_at=row.created_at, updated_at=row.updated_at)


def delivery_columns() -> list[Any]:
    """A delivery's columns and its event's type (null once the event was pruned)."""
    return [*webhook_deliveries.c, events.c.type.label("event_type")]


def deliveries_with_types() -> Any:
    return webhook_deliveries.outerjoin(events, events.c.id == D.event_id)


async def load_deliveries(conn: AsyncConnection, rows: Sequence[Any]) -> list[Delivery]:
    """Deliveries with their attempts (oldest first), in the order of ``rows``."""
    if not rows:
        return []
    attempts: dict[int, list[Attempt]] = {r.id: [] for r in rows}
    found = await conn.execute(select(webhook_attempts)
                               .where(A.delivery_id.in_(list(attempts)))
                               .order_by(A.delivery_id, A.attempt, A.id))
    for a in found.all():
        attempts[a.delivery_id].append(Attempt(attempt=a.attempt, at=a.at,
                                               status_code=a.status_code, error=a.error,
                                               duration_ms=a.duration_ms))
    return [Delivery(id=r.id, webhook_id=r.webhook_id, event_id=r.event_id,
                     status=DeliveryStatus(r.status), attempts=r.attempts,
                     next_attempt_at=r.next_attempt_at, last_attempt_at=r.last_attempt_at,
                     last_status_code=r.last_status_code, last_error=r.last_error,
                     delivered_at=r.delivered_at, created_at=r.created_at,
                     event_type=r.event_type, attempt_log=tuple(attempts[r.id]))
            for r in rows]


class SqlWebhooks:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, webhook: Webhook) -> None:
        await self._conn.execute(webhooks.insert().values(
            id=webhook.id, url=webhook.url, event_types=list(webhook.event_types),
            location_ids=(list(webhook.location_ids) if webhook.location_ids is not None
                          else None),
            secret=webhook.secret, status=webhook.status.value,
            paused_reason=webhook.paused_reason, actor=webhook.actor,
            created_at=webhook.created_at, updated_at=webhook.updated_at))

    async def get(self, webhook_id: str, *, for_update: bool = False) -> Webhook | None:
        stmt = select(webhooks).where(W.id == webhook_id)
        if for_update:
            # NO KEY UPDATE, the lock an UPDATE of the row takes anyway. The relay reads
            # subscriptions FOR SHARE when it queues deliveries, so it waits for this
            # transaction and queues by the status it commits.
            stmt = stmt.with_for_update(key_share=True)
        row = (await self._conn.execute(stmt)).first()
        return webhook_from_row(row) if row else None

    async def update(self, webhook: Webhook) -> None:
        await self._conn.execute(update(webhooks).where(W.id == webhook.id).values(
            status=webhook.status.value, paused_reason=webhook.paused_reason,
            updated_at=webhook.updated_at))

    async def schedule_pending(self, webhook_id: str, at: datetime | None) -> int:
        result = await self._conn.execute(
            update(webhook_deliveries)
            .where(D.webhook_id == webhook_id, D.status == PENDING)
            .values(next_attempt_at=at))
        return int(result.rowcount or 0)

    async def discard_pending(self, webhook_id: str) -> int:
        # Locked first: a delivery the dispatcher is recording as delivered right now is
        # waited for, and then kept (with its whole attempt log), not half deleted.
        ids = list((await self._conn.execute(
            select(D.id).where(D.webhook_id == webhook_id, D.status == PENDING)
            .with_for_update())).scalars())
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            await self._conn.execute(delete(webhook_attempts)
                                     .where(A.delivery_id.in_(chunk)))
            await self._conn.execute(delete(webhook_deliveries).where(D.id.in_(chunk)))
        return len(ids)

    async def get_delivery(self, webhook_id: str, delivery_id: int) -> Delivery | None:
        row = (await self._conn.execute(
            select(*delivery_columns()).select_from(deliveries_with_types())
            .where(D.id == delivery_id, D.webhook_id == webhook_id))).first()
        return (await load_deliveries(self._conn, [row]))[0] if row else None

    async def hold_retention(self) -> None:
        # Retention prunes under this lock and spares the events pending deliveries need.
        await self._conn.execute(select(relay_state.c.name)
                                 .where(relay_state.c.name == "relay").with_for_update())

    async def requeue(self, delivery_id: int, at: datetime) -> bool:
        result = await self._conn.execute(
            update(webhook_deliveries)
            .where(D.id == delivery_id, exists().where(events.c.id == D.event_id))
            .values(status=PENDING, next_attempt_at=at, delivered_at=None))
        return bool(result.rowcount)
