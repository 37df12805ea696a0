"""In-memory fake of the reservation repository (see tests/fakes.py for the shared rules)."""

from __future__ import annotations

from typing import Any


class FakeReservations:
    def __init__(self, uow: Any) -> None:
        self._uow = uow
