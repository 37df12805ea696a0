"""Queuing webhook deliveries: a relay hook that runs in the transaction that logs events
and inserts one ``webhook_deliveries`` row per matching subscription (active or paused),
so an event is logged if and only if its deliveries are queued (``adapters.webhooks``
sends them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.bus.base import EventRecord
from stockline.adapters.repositories.webhooks import webhook_from_row
from stockline.adapters.tables import webhook_deliveries, webhooks
from stockline.domain.webhooks import DeliveryStatus, WebhookStatus

W = webhooks.c
PENDING = DeliveryStatus.PENDING.value
ACTIVE, PAUSED = WebhookStatus.ACTIVE.value, WebhookStatus.PAUSED.value


class DeliveryQueue:
    """The relay hook: one pending delivery per logged event and matching subscription."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.on_queued: Callable[[], None] = lambda: None

    async def __call__(self, conn: AsyncConnection, records: list[EventRecord]) -> None:
        # FOR SHARE: a subscription being deleted, paused or resumed right now is waited
        # for, so deliveries are queued by the status it commits (PostgreSQL; SQLite has
        # one writer at a time anyway).
        rows = (await conn.execute(select(webhooks)
                                   .where(W.status.in_([ACTIVE, PAUSED]))
                                   .with_for_update(read=True))).all()
        if not rows:
            return
        subscriptions = [webhook_from_row(r) for r in rows]
        now = self._clock()
        queued = [{"webhook_id": w.id, "event_id": record.id, "status": PENDING,
                   "attempts": 0, "created_at": now,
                   # a paused subscription's deliveries wait for its resumption
                   "next_attempt_at": now if w.status is WebhookStatus.ACTIVE else None}
                  for record in records for w in subscriptions
                  # a change made before the subscription existed is not its business,
                  # even when the relay logs it a moment after the subscription commits
                  if record.occurred_at >= w.created_at
                  and w.wants(record.type, record.location_id)]
        if queued:
            await conn.execute(insert(webhook_deliveries), queued)
            self.on_queued()
