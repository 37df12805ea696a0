"""In-memory fakes of the supplier and purchase order repositories (see tests/fakes.py)."""

from __future__ import annotations

from typing import Any


class FakeSuppliers:
    def __init__(self, uow: Any) -> None:
        self._uow = uow


class FakePurchaseOrders:
    def __init__(self, uow: Any) -> None:
        self._uow = uow
