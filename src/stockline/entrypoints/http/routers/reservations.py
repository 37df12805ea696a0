"""Reservations: hold stock for carts and click-and-collect; commit, release, expire."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])
