"""What the operational lists answer: webhooks and their deliveries, API keys, the audit
trail, replenishment suggestions (read as leniently as ``models``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stockline.client.models import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    id: str
    url: str
    event_types: list[str]
    status: str
    location_ids: list[str] | None = None
    paused_reason: str | None = None
    actor: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One event's delivery to a webhook, with every attempt (``attempt_log``)."""

    id: int
    webhook_id: str
    event_id: int
    status: str
    attempts: int
    event_type: str | None = None
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime | None = None
    attempt_log: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """A key as listed: never its secret, told by its ``prefix``."""

    id: str
    prefix: str
    name: str
    role: str
    status: str
    location_ids: list[str] | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    rate_limit: float | None = None
    created_by: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    id: int
    at: datetime
    method: str
    path: str
    status: int
    outcome: str
    principal_id: str | None = None
    principal_name: str | None = None
    role: str | None = None
    route: str | None = None
    request_id: str | None = None
    ip: str | None = None
    detail: str | None = None
    count: int = 1
    last_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a suggestion would come from: a ``supplier`` or a ``transfer`` (``id``: the
    supplier's code, or the location to transfer from)."""

    type: str
    id: str
    unit_cost: Money | None = None
    lead_time_days: int | None = None
    surplus: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion:
    location_id: str
    sku: str
    available: int
    reorder_point: int
    quantity: int
    reorder_quantity: int | None = None
    safety_stock: int | None = None
    on_order: int = 0
    source: Source | None = None
