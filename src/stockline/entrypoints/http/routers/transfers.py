"""Transfers between locations: ship, receive, cancel, list."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/stock-movements", tags=["transfers"])
