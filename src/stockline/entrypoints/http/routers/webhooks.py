"""Webhooks: subscriptions, their delivery log, redelivery."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
