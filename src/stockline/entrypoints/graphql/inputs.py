"""The mutations' inputs: each is its REST route's body schema (the same fields, the same
validation when the mutation turns it into the body)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel
from strawberry.experimental.pydantic import input as from_body
from strawberry.scalars import JSON

from stockline.entrypoints.http.schemas.catalog import ProductCreate
from stockline.entrypoints.http.schemas.common import MoneyIn
from stockline.entrypoints.http.schemas.customers import CustomerIn
from stockline.entrypoints.http.schemas.inventory import InventoryUpdate, ReorderSettings
from stockline.entrypoints.http.schemas.reservations import (
    ReservationCommit,
    ReservationCreate,
    ReservationLineIn,
)
from stockline.entrypoints.http.schemas.sales import SaleCreate, SaleLineIn
from stockline.entrypoints.http.schemas.transfers import (
    TransferCancel,
    TransferCreate,
    TransferLineIn,
    TransferReceive,
)

B = TypeVar("B", bound=BaseModel)


@from_body(model=MoneyIn, all_fields=True)
class MoneyInput:
    pass


@from_body(model=InventoryUpdate, all_fields=True,
           description="As POST /v1/inventory/update (`expectedVersion`: compare-and-set)")
class UpdateInventoryInput:
    pass


@from_body(model=ReorderSettings, all_fields=True)
class ReorderSettingsInput:
    pass


@from_body(model=TransferLineIn, all_fields=True)
class TransferLineInput:
    pass


@from_body(model=TransferCreate, all_fields=True,
           description="As POST /v1/stock-movements/transfer")
class TransferInput:
    pass


@from_body(model=TransferReceive, all_fields=True)
class ReceiveTransferInput:
    pass


@from_body(model=TransferCancel, all_fields=True)
class CancelTransferInput:
    pass


@from_body(model=ReservationLineIn, all_fields=True)
class HoldLineInput:
    pass


@from_body(model=ReservationCreate, all_fields=True, description="As POST /v1/reservations")
class ReserveInput:
    pass


@from_body(model=ReservationCommit, all_fields=True,
           description="As the body of POST /v1/reservations/{id}/commit")
class CommitReservationInput:
    pass


@from_body(model=SaleLineIn, all_fields=True)
class SaleLineInput:
    pass


@from_body(model=CustomerIn, all_fields=True)
class CustomerInput:
    pass


@from_body(model=SaleCreate, all_fields=True, description="As POST /v1/sales/record")
class RecordSaleInput:
    occurred_at: datetime | None = None  # validated (with its offset) by the body schema


@from_body(model=ProductCreate, all_fields=True, description="As POST /v1/products")
class CreateProductInput:
    attributes: JSON = strawberry.field(default_factory=dict)


def plain(value: Any) -> Any:
    """An input's value as the JSON body would carry it: nested inputs as objects, so the
    body schema validates the whole body at once and names a field by its full path
    (``lines.0.unitPrice.amount``), as REST does."""
    if isinstance(value, strawberry.Some):
        return plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _model_of(given: Any) -> type[BaseModel]:
    model: type[BaseModel] = given._pydantic_type
    return model


def body_as(model: type[B], given: Any) -> B:
    """The REST body the input stands for (``model``: the route's body schema), validated
    as REST validates it."""
    if not issubclass(_model_of(given), model):
        raise TypeError(f"{type(given).__name__} is not an input of {model.__name__}")
    return model.model_validate(plain(given))


def sent_body_as(model: type[B], given: Any) -> B:
    """The body of a route whose left-out fields mean "unchanged" (a PATCH, or a receipt
    of everything outstanding): only the fields the input gives are sent, so the body
    schema sees what REST's would. A field given null is sent as null only where the input
    declares it ``strawberry.Maybe`` (a field that null clears); elsewhere null is left
    out, as those fields may be left out but never cleared."""
    if not issubclass(_model_of(given), model):
        raise TypeError(f"{type(given).__name__} is not an input of {model.__name__}")
    sent = {f.name: plain(value) for f in dataclasses.fields(given)
            if (value := getattr(given, f.name)) is not None}
    return model.model_validate(sent)
