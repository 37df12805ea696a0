"""Writes: each mutation is its REST route. Its input is the route's body schema (the same
validation), the caller must hold the route's permission (the same rule of
``permissions.ROUTES``), and it hands the operation the route hands (``entrypoints.
operations``) to the one write service, under ``idempotencyKey`` when given; a refusal
comes back in ``userErrors`` with the REST problem code (``payloads``).
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from stockline.domain.commands import ReleaseReservation
from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.documents import Hold, Transfer
from stockline.entrypoints.graphql.inputs import (
    CancelTransferInput,
    CommitReservationInput,
    CreateProductInput,
    ReceiveTransferInput,
    RecordSaleInput,
    ReorderSettingsInput,
    ReserveInput,
    TransferInput,
    UpdateInventoryInput,
    body_as,
)
from stockline.entrypoints.graphql.payloads import (
    UserError,
    perform,
    shown,
    shown_level,
)
from stockline.entrypoints.graphql.stock import Level, Product, Sale
from stockline.entrypoints.graphql.values import code, document_id
from stockline.entrypoints.http.schemas.catalog import ProductCreate, ProductOut
from stockline.entrypoints.http.schemas.inventory import (
    InventoryUpdate,
    LevelOut,
    ReorderSettings,
)
from stockline.entrypoints.http.schemas.reservations import (
    ReservationCommit,
    ReservationCreate,
    ReservationOut,
)
from stockline.entrypoints.http.schemas.sales import SaleCreate, SaleOut
from stockline.entrypoints.http.schemas.transfers import (
    TransferCancel,
    TransferCreate,
    TransferOut,
    TransferReceive,
)
from stockline.entrypoints.limits import at_most_lines
from stockline.entrypoints.operations import (
    CANCEL_TRANSFER,
    COMMIT_RESERVATION,
    CREATE_PRODUCT,
    RECEIVE_TRANSFER,
    RECORD_SALE,
    RELEASE_RESERVATION,
    RESERVE,
    SET_REORDER_SETTINGS,
    SHIP_TRANSFER,
    UPDATE_INVENTORY,
)
from stockline.services import reservations

LEVEL = shown_level(Level, LevelOut)
TRANSFER = shown(Transfer, TransferOut)
HOLD = shown(Hold, ReservationOut)
SALE = shown(Sale, SaleOut)
PRODUCT = shown(Product, ProductOut)


Key = Annotated[str | None, strawberry.argument(
    description="Makes the write safe to retry, as REST's Idempotency-Key: one key, one "
                "effect, whichever protocol retries it; a retry answers as the first")]


@strawberry.type
class LevelPayload:
    level: Level | None
    user_errors: list[UserError]


@strawberry.type
class TransferPayload:
    transfer: Transfer | None
    user_errors: list[UserError]


@strawberry.type
class HoldPayload:
    hold: Hold | None
    user_errors: list[UserError]


@strawberry.type
class SalePayload:
    sale: Sale | None
    user_errors: list[UserError]


@strawberry.type
class ProductPayload:
    product: Product | None
    user_errors: list[UserError]


def _lines_within(info: Info, count: int, what: str) -> None:
    at_most_lines(info.context.container.settings, count, what)


@strawberry.type
class StockMutation:
    @strawberry.mutation(description="Record a sale: every line or none (POST "
                                     "/v1/sales/record); `insufficient_stock` names each "
                                     "short line in `userErrors`")
    async def record_sale(self, info: Info, input: RecordSaleInput,
                          idempotency_key: Key = None) -> SalePayload:
        def command() -> Any:
            body = body_as(SaleCreate, input)
            _lines_within(info, len(body.lines), "sale")
            return body.to_command()

        found, errors = await perform(info, ("POST", "/v1/sales/record"), RECORD_SALE,
                                      command, SALE, idempotency_key)
        return SalePayload(sale=found, user_errors=errors)

    @strawberry.mutation(description="Change one level (POST /v1/inventory/update); "
                                     "`expectedVersion`: `version_conflict` if it moved on")
    async def update_inventory(self, info: Info, input: UpdateInventoryInput,
                               idempotency_key: Key = None) -> LevelPayload:
        level, errors = await perform(
            info, ("POST", "/v1/inventory/update"), UPDATE_INVENTORY,
            lambda: body_as(InventoryUpdate, input).to_command(), LEVEL, idempotency_key)
        return LevelPayload(level=level, user_errors=errors)

    @strawberry.mutation(description="Reorder point, reorder quantity, safety stock "
                                     "(PUT /v1/inventory/{location_id}/{sku}/settings)")
    async def set_reorder_settings(self, info: Info, location_id: str, sku: str,
                                   input: ReorderSettingsInput,
                                   idempotency_key: Key = None) -> LevelPayload:
        def command() -> Any:
            return body_as(ReorderSettings, input).to_command(
                code("locationId", location_id), code("sku", sku))

        level, errors = await perform(
            info, ("PUT", "/v1/inventory/{location_id}/{sku}/settings"), SET_REORDER_SETTINGS,
            command, LEVEL, idempotency_key)
        return LevelPayload(level=level, user_errors=errors)

    @strawberry.mutation(description="Ship stock (POST /v1/stock-movements/transfer)")
    async def transfer(self, info: Info, input: TransferInput,
                       idempotency_key: Key = None) -> TransferPayload:
        def command() -> Any:
            body = body_as(TransferCreate, input)
            _lines_within(info, len(body.lines), "transfer")
            return body.to_command()

        found, errors = await perform(info, ("POST", "/v1/stock-movements/transfer"),
                                      SHIP_TRANSFER, command, TRANSFER, idempotency_key)
        return TransferPayload(transfer=found, user_errors=errors)

    @strawberry.mutation(description="Receive all or part of a transfer (POST "
                                     "/v1/stock-movements/transfers/{id}/receive)")
    async def receive_transfer(self, info: Info, id: str,
                               input: ReceiveTransferInput | None = None,
                               idempotency_key: Key = None) -> TransferPayload:
        def command() -> Any:
            body = (body_as(TransferReceive, input) if input is not None
                    else TransferReceive())
            if body.lines is not None:
                _lines_within(info, len(body.lines), "transfer")
            return body.to_command(document_id("id", id))

        found, errors = await perform(
            info, ("POST", "/v1/stock-movements/transfers/{transfer_id}/receive"),
            RECEIVE_TRANSFER, command, TRANSFER, idempotency_key)
        return TransferPayload(transfer=found, user_errors=errors)

    @strawberry.mutation(description="Cancel a transfer on its way (POST "
                                     "/v1/stock-movements/transfers/{id}/cancel)")
    async def cancel_transfer(self, info: Info, id: str,
                              input: CancelTransferInput | None = None,
                              idempotency_key: Key = None) -> TransferPayload:
        def command() -> Any:
            body = body_as(TransferCancel, input) if input is not None else TransferCancel()
            return body.to_command(document_id("id", id))

        found, errors = await perform(
            info, ("POST", "/v1/stock-movements/transfers/{transfer_id}/cancel"),
            CANCEL_TRANSFER, command, TRANSFER, idempotency_key)
        return TransferPayload(transfer=found, user_errors=errors)

    @strawberry.mutation(description="Hold stock (POST /v1/reservations)")
    async def reserve(self, info: Info, input: ReserveInput,
                      idempotency_key: Key = None) -> HoldPayload:
        def command() -> Any:
            body = body_as(ReservationCreate, input)
            _lines_within(info, len(body.lines), "reservation")
            settings = info.context.container.settings
            return reservations.with_ttl(body.to_command(),
                                         default=settings.reservation_default_ttl_seconds,
                                         maximum=settings.reservation_max_ttl_seconds)

        found, errors = await perform(info, ("POST", "/v1/reservations"), RESERVE, command,
                                      HOLD, idempotency_key)
        return HoldPayload(hold=found, user_errors=errors)

    @strawberry.mutation(description="Turn a hold into a sale (POST "
                                     "/v1/reservations/{id}/commit)")
    async def commit_reservation(self, info: Info, id: str,
                                 input: CommitReservationInput | None = None,
                                 idempotency_key: Key = None) -> SalePayload:
        def command() -> Any:
            body = (body_as(ReservationCommit, input) if input is not None
                    else ReservationCommit())
            return body.to_command(document_id("id", id))

        found, errors = await perform(
            info, ("POST", "/v1/reservations/{reservation_id}/commit"), COMMIT_RESERVATION,
            command, SALE, idempotency_key)
        return SalePayload(sale=found, user_errors=errors)

    @strawberry.mutation(description="Release a hold (POST /v1/reservations/{id}/release)")
    async def release_reservation(self, info: Info, id: str,
                                  idempotency_key: Key = None) -> HoldPayload:
        found, errors = await perform(
            info, ("POST", "/v1/reservations/{reservation_id}/release"), RELEASE_RESERVATION,
            lambda: ReleaseReservation(reservation_id=document_id("id", id)), HOLD,
            idempotency_key)
        return HoldPayload(hold=found, user_errors=errors)

    @strawberry.mutation(description="Create a product (POST /v1/products)")
    async def create_product(self, info: Info, input: CreateProductInput,
                             idempotency_key: Key = None) -> ProductPayload:
        found, errors = await perform(
            info, ("POST", "/v1/products"), CREATE_PRODUCT,
            lambda: body_as(ProductCreate, input).to_command(), PRODUCT, idempotency_key)
        return ProductPayload(product=found, user_errors=errors)
