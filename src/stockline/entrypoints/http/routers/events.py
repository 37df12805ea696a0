"""Events: the log as a list, and live streams (Server-Sent Events, WebSocket) with resume."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/events", tags=["events"])
