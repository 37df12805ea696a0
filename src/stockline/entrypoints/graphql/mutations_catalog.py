"""Writes on the catalogue: products, warehouses, stores and suppliers. Each mutation is its
REST route, as in ``mutations``: the route's body schema, its permission, its operation
handed to the one write service under ``idempotencyKey``, refusals in ``userErrors``."""

from __future__ import annotations

import strawberry

from stockline.entrypoints.graphql import values
from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.documents import Supplier
from stockline.entrypoints.graphql.inputs import body_as, sent_body_as
from stockline.entrypoints.graphql.inputs_catalog import (
    CreateRetailLocationInput,
    CreateSupplierInput,
    CreateWarehouseInput,
    UpdateProductInput,
    UpdateRetailLocationInput,
    UpdateSupplierInput,
    UpdateWarehouseInput,
)
from stockline.entrypoints.graphql.mutations import PRODUCT, Key, ProductPayload
from stockline.entrypoints.graphql.payloads import UserError, perform, shown
from stockline.entrypoints.graphql.stock import Location
from stockline.entrypoints.http.schemas.catalog import (
    LocationOut,
    ProductUpdate,
    RetailLocationCreate,
    RetailLocationUpdate,
    WarehouseCreate,
    WarehouseUpdate,
)
from stockline.entrypoints.http.schemas.purchasing import (
    SupplierCreate,
    SupplierOut,
    SupplierUpdate,
)
from stockline.entrypoints.operations import (
    CREATE_LOCATION,
    CREATE_SUPPLIER,
    UPDATE_LOCATION,
    UPDATE_PRODUCT,
    UPDATE_SUPPLIER,
)

LOCATION = shown(Location, LocationOut)
SUPPLIER = shown(Supplier, SupplierOut)
CLOSING = ("`status: CLOSED` refuses new sales, holds, receipts, purchase orders and inbound "
           "transfers (`location_closed`) until `ACTIVE` again")


@strawberry.type
class LocationPayload:
    location: Location | None
    user_errors: list[UserError]


@strawberry.type
class SupplierPayload:
    supplier: Supplier | None
    user_errors: list[UserError]


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Change a product's name, category, attributes "
                                     "(merged), price or status (PATCH /v1/products/{sku}); "
                                     "`status: DISCONTINUED` refuses receipts and purchase "
                                     "orders of it (`product_discontinued`); "
                                     "`expectedVersion`: `version_conflict` if it moved on")
    async def update_product(self, info: Info, sku: str, input: UpdateProductInput,
                             idempotency_key: Key = None) -> ProductPayload:
        found, errors = await perform(
            info, ("PATCH", "/v1/products/{sku}"), UPDATE_PRODUCT,
            lambda: sent_body_as(ProductUpdate, input).to_command(values.code("sku", sku)),
            PRODUCT, idempotency_key)
        return ProductPayload(product=found, user_errors=errors)

    @strawberry.mutation(description="Create a warehouse (POST /v1/warehouses)")
    async def create_warehouse(self, info: Info, input: CreateWarehouseInput,
                               idempotency_key: Key = None) -> LocationPayload:
        found, errors = await perform(
            info, ("POST", "/v1/warehouses"), CREATE_LOCATION,
            lambda: body_as(WarehouseCreate, input).to_command(), LOCATION, idempotency_key)
        return LocationPayload(location=found, user_errors=errors)

    @strawberry.mutation(description="Create a store (POST /v1/retail-locations)")
    async def create_retail_location(self, info: Info, input: CreateRetailLocationInput,
                                     idempotency_key: Key = None) -> LocationPayload:
        found, errors = await perform(
            info, ("POST", "/v1/retail-locations"), CREATE_LOCATION,
            lambda: body_as(RetailLocationCreate, input).to_command(), LOCATION,
            idempotency_key)
        return LocationPayload(location=found, user_errors=errors)

    @strawberry.mutation(description="Change or close a warehouse (PATCH "
                                     "/v1/warehouses/{code}); " + CLOSING)
    async def update_warehouse(self, info: Info, code: str, input: UpdateWarehouseInput,
                               idempotency_key: Key = None) -> LocationPayload:
        found, errors = await perform(
            info, ("PATCH", "/v1/warehouses/{code}"), UPDATE_LOCATION,
            lambda: sent_body_as(WarehouseUpdate, input).to_command(values.code("code", code)),
            LOCATION, idempotency_key)
        return LocationPayload(location=found, user_errors=errors)

    @strawberry.mutation(description="Change or close a store (PATCH "
                                     "/v1/retail-locations/{code}); " + CLOSING)
    async def update_retail_location(self, info: Info, code: str,
                                     input: UpdateRetailLocationInput,
                                     idempotency_key: Key = None) -> LocationPayload:
        found, errors = await perform(
            info, ("PATCH", "/v1/retail-locations/{code}"), UPDATE_LOCATION,
            lambda: sent_body_as(RetailLocationUpdate, input).to_command(values.code("code", code)),
            LOCATION, idempotency_key)
        return LocationPayload(location=found, user_errors=errors)

    @strawberry.mutation(description="Create a supplier (POST /v1/suppliers): every SKU it "
                                     "sells must exist (`not_found`)")
    async def create_supplier(self, info: Info, input: CreateSupplierInput,
                              idempotency_key: Key = None) -> SupplierPayload:
        found, errors = await perform(
            info, ("POST", "/v1/suppliers"), CREATE_SUPPLIER,
            lambda: body_as(SupplierCreate, input).to_command(), SUPPLIER, idempotency_key)
        return SupplierPayload(supplier=found, user_errors=errors)

    @strawberry.mutation(description="Change or close a supplier (PATCH "
                                     "/v1/suppliers/{code}): a closed supplier takes no new "
                                     "purchase order (`invalid_state`)")
    async def update_supplier(self, info: Info, code: str, input: UpdateSupplierInput,
                              idempotency_key: Key = None) -> SupplierPayload:
        found, errors = await perform(
            info, ("PATCH", "/v1/suppliers/{code}"), UPDATE_SUPPLIER,
            lambda: sent_body_as(SupplierUpdate, input).to_command(values.code("code", code)),
            SUPPLIER, idempotency_key)
        return SupplierPayload(supplier=found, user_errors=errors)

