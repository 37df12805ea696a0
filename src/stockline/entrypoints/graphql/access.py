"""API keys and webhooks: the GraphQL types and inputs of their writes, each the REST
route's answer or body schema (as in ``stock`` and ``inputs``)."""

from __future__ import annotations

from datetime import datetime

from strawberry.experimental.pydantic import input as from_body
from strawberry.experimental.pydantic import type as from_model

from stockline.entrypoints.http.schemas.keys import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from stockline.entrypoints.http.schemas.webhooks import (
    AttemptOut,
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookOut,
)


@from_model(model=ApiKeyOut, all_fields=True, description="An API key (never its secret)")
class ApiKey:
    pass


@from_model(model=ApiKeyCreated, all_fields=True,
            description="A key just made: `key` is shown in this answer only (null in a "
                        "replay of an idempotency key)")
class NewApiKey:
    pass


@from_model(model=WebhookOut, all_fields=True, description="A webhook subscription")
class Webhook:
    pass


@from_model(model=WebhookCreated, all_fields=True,
            description="A webhook just made: `secret` is shown in this answer only (null "
                        "in a replay of an idempotency key)")
class NewWebhook:
    pass


@from_model(model=WebhookDeleted, all_fields=True,
            description="A webhook deleted, and how many undelivered deliveries went with it")
class DeletedWebhook:
    pass


@from_model(model=AttemptOut, all_fields=True, description="One attempt of a delivery")
class DeliveryAttempt:
    pass


@from_model(model=DeliveryOut, all_fields=True, description="An event's delivery to a webhook")
class Delivery:
    pass


@from_body(model=ApiKeyCreate, all_fields=True, description="As POST /v1/api-keys")
class CreateApiKeyInput:
    expires_at: datetime | None = None  # validated (with its offset) by the body schema


@from_body(model=WebhookCreate, all_fields=True, description="As POST /v1/webhooks")
class CreateWebhookInput:
    pass
