"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from stockline.domain.webhooks import (
    SECRET_MAX_LENGTH,
    SECRET_MIN_LENGTH,
    URL_MAX_LENGTH,
    Attempt,
    CreateWebhook,
    Delivery,
    DeliveryStatus,
    Webhook,
    WebhookStatus,
)
from stockline.entrypoints.http.schemas.common import Body, CodeStr
from stockline.services.webhooks import DeletedWebhook

EventType = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=48),
                      Field(examples=["inventory.changed"])]


class WebhookCreate(Body):
    """Deliveries of the matching events are POSTed to ``url``, signed with ``secret``."""

    url: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=URL_MAX_LENGTH),
                   Field(description="An http:// or https:// URL whose host is, and "
                                     "resolves to, public addresses only",
                         examples=["https://erp.example.com/hooks/stockline"])]
    event_types: Annotated[list[EventType], Field(
        min_length=1, max_length=50,
        description="Event types to send (see the Events section), or [\"*\"] for all")]
    location_ids: Annotated[list[CodeStr] | None, Field(
        default=None, min_length=1, max_length=500,
        description="Only events at these locations (events of no location, such as "
                    "product.changed, are then not sent); leave out for every location")]
    secret: Annotated[str | None, StringConstraints(
        strict=True, min_length=SECRET_MIN_LENGTH, max_length=SECRET_MAX_LENGTH,
        pattern=r"^[\x21-\x7e]+$"), Field(
        default=None, description="Signs every delivery (HMAC-SHA256); a random one is "
                                  "made when left out. Shown in this answer only.")]

    def to_command(self) -> CreateWebhook:
        return CreateWebhook(url=self.url, event_types=tuple(self.event_types),
                             location_ids=(tuple(self.location_ids)
                                           if self.location_ids is not None else None),
                             secret=self.secret)


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    location_ids: list[str] | None
    status: WebhookStatus = Field(description="`active`, or `paused` (see `paused_reason`) "
                                              "after failing for the give-up span")
    paused_reason: str | None
    actor: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, w: Webhook) -> WebhookOut:
        return cls(id=w.id, url=w.url, event_types=list(w.event_types),
                   location_ids=list(w.location_ids) if w.location_ids is not None else None,
                   status=w.status, paused_reason=w.paused_reason, actor=w.actor,
                   created_at=w.created_at, updated_at=w.updated_at)


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        description="Shown in this answer only: keep it to verify the "
                    "X-Stockline-Signature of deliveries. null when this answer is an "
                    "idempotent replay (`Idempotent-Replayed: true`): the secret is not "
                    "kept for replays; delete the webhook and create another if it was lost.")

    @classmethod
    def of(cls, w: Webhook) -> WebhookCreated:
        return cls(**WebhookOut.of(w).model_dump(), secret=w.secret)

    @classmethod
    def redacted(cls, w: Webhook) -> WebhookCreated:
        """What is kept for idempotent replays: everything but the secret."""
        return cls(**WebhookOut.of(w).model_dump(), secret=None)


class WebhookDeleted(WebhookOut):
    discarded_deliveries: int = Field(
        description="Deliveries not yet received that were discarded with the subscription")

    @classmethod
    def of_deleted(cls, d: DeletedWebhook) -> WebhookDeleted:
        return cls(**WebhookOut.of(d.webhook).model_dump(),
                   discarded_deliveries=d.discarded_deliveries)


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null when "
                                                "there was no answer")
    error: str | None = Field(description="Why it failed, in a short fixed text (never "
                                          "the receiver's body); null for a 2xx answer")
    duration_ms: int

    @classmethod
    def of(cls, a: Attempt) -> AttemptOut:
        return cls(attempt=a.attempt, at=a.at, status_code=a.status_code, error=a.error,
                   duration_ms=a.duration_ms)


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str
    event_id: int
    event_type: str | None = Field(description="null once the event left the event log")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(
        description="When it is due (the next retry after a failure); it also waits "
                    "until every earlier event of its webhook is delivered. null once "
                    "delivered, and while the webhook is paused")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first")

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(id=d.id, webhook_id=d.webhook_id, event_id=d.event_id,
                   event_type=d.event_type, status=d.status, attempts=d.attempts,
                   next_attempt_at=d.next_attempt_at, last_attempt_at=d.last_attempt_at,
                   last_status_code=d.last_status_code, last_error=d.last_error,
                   delivered_at=d.delivered_at, created_at=d.created_at,
                   attempt_log=[AttemptOut.of(a) for a in d.attempt_log])
