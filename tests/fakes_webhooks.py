"""In-memory fake of the webhook repository (see tests/fakes.py for the shared rules).

Subscriptions live in ``uow.store.table("webhooks")`` by id, deliveries in
``table("webhook_deliveries")`` by id, and the ids of the events still in the event log
in ``table("events")`` (id -> type). In SQL the relay queues deliveries; here tests queue
them with ``queue_delivery``. The constraints of the tables hold: unique ids, a delivery
refers to an existing subscription and is unique per (webhook, event).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from stockline.domain.webhooks import Attempt, Delivery, DeliveryStatus, Webhook


class IntegrityError(Exception):
    """What the database would refuse (tests.fakes has its own: it imports this module)."""


class FakeWebhooks:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _webhooks(self) -> dict[str, Webhook]:
        rows: dict[str, Webhook] = self._uow.store.table("webhooks")
        return rows

    def _deliveries(self) -> dict[int, Delivery]:
        rows: dict[int, Delivery] = self._uow.store.table("webhook_deliveries")
        return rows

    def _events(self) -> dict[int, str]:
        rows: dict[int, str] = self._uow.store.table("events")
        return rows

    async def add(self, webhook: Webhook) -> None:
        if webhook.id in self._webhooks():
            raise IntegrityError(f"duplicate webhook id {webhook.id}")
        self._webhooks()[webhook.id] = replace(webhook)

    async def get(self, webhook_id: str, *, for_update: bool = False) -> Webhook | None:
        webhook = self._webhooks().get(webhook_id)
        return replace(webhook) if webhook else None

    async def update(self, webhook: Webhook) -> None:
        stored = self._webhooks().get(webhook.id)
        if stored is not None:
            self._webhooks()[webhook.id] = replace(
                stored, status=webhook.status, paused_reason=webhook.paused_reason,
                updated_at=webhook.updated_at)

    def _pending(self, webhook_id: str) -> list[Delivery]:
        return [d for d in self._deliveries().values()
                if d.webhook_id == webhook_id and d.status is DeliveryStatus.PENDING]

    async def schedule_pending(self, webhook_id: str, at: datetime | None) -> int:
        pending = self._pending(webhook_id)
        for delivery in pending:
            self._deliveries()[delivery.id] = replace(delivery, next_attempt_at=at)
        return len(pending)

    async def discard_pending(self, webhook_id: str) -> int:
        pending = self._pending(webhook_id)
        for delivery in pending:
            del self._deliveries()[delivery.id]
        return len(pending)

    async def get_delivery(self, webhook_id: str, delivery_id: int) -> Delivery | None:
        delivery = self._deliveries().get(delivery_id)
        if delivery is None or delivery.webhook_id != webhook_id:
            return None
        return replace(delivery, event_type=self._events().get(delivery.event_id))

    async def hold_retention(self) -> None:
        """One transaction at a time: nothing prunes meanwhile."""

    async def requeue(self, delivery_id: int, at: datetime) -> bool:
        delivery = self._deliveries().get(delivery_id)
        if delivery is None or delivery.event_id not in self._events():
            return False
        self._deliveries()[delivery_id] = replace(
            delivery, status=DeliveryStatus.PENDING, next_attempt_at=at, delivered_at=None)
        return True


def queue_delivery(uows: Any, webhook_id: str, event_id: int, *, event_type: str,
                   at: datetime, status: DeliveryStatus = DeliveryStatus.PENDING,
                   attempts: tuple[Attempt, ...] = ()) -> Delivery:
    """Log an event and queue its delivery in the committed store, as the relay would."""
    store = uows.committed
    if webhook_id not in store.table("webhooks"):
        raise IntegrityError(f"FOREIGN KEY constraint failed: webhook {webhook_id}")
    deliveries: dict[int, Delivery] = store.table("webhook_deliveries")
    if any(d.webhook_id == webhook_id and d.event_id == event_id
           for d in deliveries.values()):
        raise IntegrityError(f"duplicate delivery of event {event_id} to {webhook_id}")
    store.table("events")[event_id] = event_type
    delivered = status is DeliveryStatus.DELIVERED
    delivery = Delivery(id=len(deliveries) + 1, webhook_id=webhook_id, event_id=event_id,
                        status=status, attempts=len(attempts),
                        next_attempt_at=None if delivered else at,
                        last_attempt_at=attempts[-1].at if attempts else None,
                        last_status_code=attempts[-1].status_code if attempts else None,
                        last_error=attempts[-1].error if attempts else None,
                        delivered_at=at if delivered else None, created_at=at,
                        attempt_log=attempts)
    deliveries[delivery.id] = delivery
    return delivery


def prune_event(uows: Any, event_id: int) -> None:
    """Retention forgets an event (as the relay's pruning would)."""
    uows.committed.table("events").pop(event_id, None)
