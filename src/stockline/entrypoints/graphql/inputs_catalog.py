"""The inputs of the catalogue's writes: products, warehouses, stores and suppliers, each
its REST route's body schema (``inputs``). The inputs of a PATCH leave out what is not
given (``sent_body_as``); a field that null clears is a ``Maybe`` here, so that null
given and a field left out stay apart, as in the JSON body."""

from __future__ import annotations

import strawberry
from strawberry.experimental.pydantic import input as from_body
from strawberry.scalars import JSON

from stockline.entrypoints.graphql.inputs import MoneyInput  # noqa: F401 - nested below
from stockline.entrypoints.http.schemas.catalog import (
    ProductUpdate,
    RetailLocationCreate,
    RetailLocationUpdate,
    WarehouseCreate,
    WarehouseUpdate,
)
from stockline.entrypoints.http.schemas.purchasing import (
    ContactIn,
    SupplierCreate,
    SupplierProductIn,
    SupplierUpdate,
)

CLEARS = "null clears it; left out, it stays as it is"


@from_body(model=ProductUpdate, all_fields=True,
           description="As PATCH /v1/products/{sku}: only the fields given change; "
                       "`expectedVersion`: compare-and-set (`version_conflict`)")
class UpdateProductInput:
    attributes: JSON | None = None  # merged; a null value removes that attribute


@from_body(model=WarehouseCreate, all_fields=True, description="As POST /v1/warehouses")
class CreateWarehouseInput:
    operating_hours: JSON | None = None


@from_body(model=RetailLocationCreate, all_fields=True,
           description="As POST /v1/retail-locations")
class CreateRetailLocationInput:
    operating_hours: JSON | None = None


@from_body(model=WarehouseUpdate, all_fields=True,
           description="As PATCH /v1/warehouses/{code}: only the fields given change")
class UpdateWarehouseInput:
    address: strawberry.Maybe[str | None] = strawberry.field(description=CLEARS)
    latitude: strawberry.Maybe[float | None] = strawberry.field(description=CLEARS)
    longitude: strawberry.Maybe[float | None] = strawberry.field(description=CLEARS)
    capacity: strawberry.Maybe[int | None] = strawberry.field(description=CLEARS)
    operating_hours: strawberry.Maybe[JSON | None] = strawberry.field(description=CLEARS)
    time_zone: strawberry.Maybe[str | None] = strawberry.field(description=CLEARS)


@from_body(model=RetailLocationUpdate, all_fields=True,
           description="As PATCH /v1/retail-locations/{code}: only the fields given change")
class UpdateRetailLocationInput:
    address: strawberry.Maybe[str | None] = strawberry.field(description=CLEARS)
    latitude: strawberry.Maybe[float | None] = strawberry.field(description=CLEARS)
    longitude: strawberry.Maybe[float | None] = strawberry.field(description=CLEARS)
    capacity: strawberry.Maybe[int | None] = strawberry.field(description=CLEARS)
    operating_hours: strawberry.Maybe[JSON | None] = strawberry.field(description=CLEARS)
    time_zone: strawberry.Maybe[str | None] = strawberry.field(description=CLEARS)
    region: strawberry.Maybe[str | None] = strawberry.field(description=CLEARS)


@from_body(model=ContactIn, all_fields=True)
class ContactInput:
    pass


@from_body(model=SupplierProductIn, all_fields=True)
class SupplierProductInput:
    pass


@from_body(model=SupplierCreate, all_fields=True, description="As POST /v1/suppliers")
class CreateSupplierInput:
    pass


@from_body(model=SupplierUpdate, all_fields=True,
           description="As PATCH /v1/suppliers/{code}: only the fields given change")
class UpdateSupplierInput:
    contact: strawberry.Maybe[ContactInput | None] = strawberry.field(
        description="Replaces the whole contact; " + CLEARS)
    lead_time_days: strawberry.Maybe[int | None] = strawberry.field(description=CLEARS)
