"""Suppliers, purchase orders and replenishment suggestions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["purchasing"])
