"""Writes on documents: a sale's states and returns, a transfer's close, purchase orders,
feedback and count tasks. Each mutation is its REST route, as in ``mutations``: the route's
body schema and line limits, its permission, its operation handed to the one write
service under ``idempotencyKey``, refusals in ``userErrors``."""

from __future__ import annotations

import strawberry

from stockline.domain.commands import (
    CancelPurchaseOrder,
    CompleteCountTask,
    CreatePurchaseOrder,
    PlacePurchaseOrder,
    ReceivePurchaseOrder,
    ReturnSale,
)
from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.documents import (
    CountTask,
    Feedback,
    NewSaleReturn,
    PurchaseOrder,
)
from stockline.entrypoints.graphql.inputs import body_as, sent_body_as
from stockline.entrypoints.graphql.inputs_documents import (
    CloseTransferInput,
    CompleteCountTaskInput,
    CreatePurchaseOrderInput,
    ReceivePurchaseOrderInput,
    ReportFeedbackInput,
    ReturnSaleInput,
    UpdateSaleInput,
)
from stockline.entrypoints.graphql.mutations import (
    SALE,
    TRANSFER,
    Key,
    SalePayload,
    TransferPayload,
)
from stockline.entrypoints.graphql.payloads import UserError, perform, shown
from stockline.entrypoints.graphql.values import document_id
from stockline.entrypoints.http.schemas.counting import (
    CountTaskComplete,
    CountTaskOut,
    FeedbackCreate,
    FeedbackOut,
)
from stockline.entrypoints.http.schemas.purchasing import (
    PurchaseOrderCreate,
    PurchaseOrderOut,
    PurchaseOrderReceipt,
)
from stockline.entrypoints.http.schemas.sales import SaleReturnCreate, SaleReturnOut, SaleUpdate
from stockline.entrypoints.http.schemas.transfers import TransferClose
from stockline.entrypoints.limits import at_most_lines
from stockline.entrypoints.operations import (
    CANCEL_PURCHASE_ORDER,
    CLOSE_TRANSFER,
    COMPLETE_COUNT_TASK,
    CREATE_PURCHASE_ORDER,
    PLACE_PURCHASE_ORDER,
    RECEIVE_PURCHASE_ORDER,
    REPORT_FEEDBACK,
    RETURN_SALE,
    UPDATE_SALE,
)

RETURN = shown(NewSaleReturn, SaleReturnOut)
ORDER = shown(PurchaseOrder, PurchaseOrderOut)
FEEDBACK = shown(Feedback, FeedbackOut)
TASK = shown(CountTask, CountTaskOut)
ORDERS = "/v1/purchase-orders/{order_id}"


@strawberry.type
class ReturnSalePayload:
    sale_return: NewSaleReturn | None
    user_errors: list[UserError]


@strawberry.type
class PurchaseOrderPayload:
    purchase_order: PurchaseOrder | None
    user_errors: list[UserError]


@strawberry.type
class FeedbackPayload:
    feedback: Feedback | None
    user_errors: list[UserError]


@strawberry.type
class CountTaskPayload:
    count_task: CountTask | None
    user_errors: list[UserError]


def _return(info: Info, id: str, input: ReturnSaleInput) -> ReturnSale:
    body = body_as(SaleReturnCreate, input)
    at_most_lines(info.context.container.settings, len(body.lines), "return")
    return body.to_command(document_id("id", id))


def _receipt(info: Info, id: str, input: ReceivePurchaseOrderInput | None
             ) -> ReceivePurchaseOrder:
    body = (sent_body_as(PurchaseOrderReceipt, input) if input is not None
            else PurchaseOrderReceipt())  # no input: receive everything outstanding
    if body.lines is not None:
        at_most_lines(info.context.container.settings, len(body.lines), "receipt")
    return body.to_command(document_id("id", id))


@strawberry.type
class DocumentMutation:
    @strawberry.mutation(description="Move a sale's payment and/or fulfillment on (PATCH "
                                     "/v1/sales/{id}); any other step is `invalid_state`")
    async def update_sale(self, info: Info, id: str, input: UpdateSaleInput,
                          idempotency_key: Key = None) -> SalePayload:
        found, errors = await perform(
            info, ("PATCH", "/v1/sales/{sale_id}"), UPDATE_SALE,
            lambda: sent_body_as(SaleUpdate, input).to_command(document_id("id", id)),
            SALE, idempotency_key)
        return SalePayload(sale=found, user_errors=errors)

    @strawberry.mutation(description="Return lines of a sale (POST /v1/sales/{id}/returns): "
                                     "never more than was sold (`quantity_exceeded`)")
    async def return_sale(self, info: Info, id: str, input: ReturnSaleInput,
                          idempotency_key: Key = None) -> ReturnSalePayload:
        found, errors = await perform(
            info, ("POST", "/v1/sales/{sale_id}/returns"), RETURN_SALE,
            lambda: _return(info, id, input), RETURN, idempotency_key)
        return ReturnSalePayload(sale_return=found, user_errors=errors)

    @strawberry.mutation(description="Close a short-shipped transfer (POST "
                                     "/v1/stock-movements/transfers/{id}/close)")
    async def close_transfer(self, info: Info, id: str, input: CloseTransferInput,
                             idempotency_key: Key = None) -> TransferPayload:
        found, errors = await perform(
            info, ("POST", "/v1/stock-movements/transfers/{transfer_id}/close"),
            CLOSE_TRANSFER,
            lambda: body_as(TransferClose, input).to_command(document_id("id", id)),
            TRANSFER, idempotency_key)
        return TransferPayload(transfer=found, user_errors=errors)

    @strawberry.mutation(description="Order from a supplier (POST /v1/purchase-orders); "
                                     "`draft: true` keeps it a draft")
    async def create_purchase_order(self, info: Info, input: CreatePurchaseOrderInput,
                                    idempotency_key: Key = None) -> PurchaseOrderPayload:
        def command() -> CreatePurchaseOrder:
            body = body_as(PurchaseOrderCreate, input)
            at_most_lines(info.context.container.settings, len(body.lines), "purchase order")
            return body.to_command()

        found, errors = await perform(info, ("POST", "/v1/purchase-orders"),
                                      CREATE_PURCHASE_ORDER, command, ORDER, idempotency_key)
        return PurchaseOrderPayload(purchase_order=found, user_errors=errors)

    @strawberry.mutation(description="Place a draft (POST /v1/purchase-orders/{id}/order)")
    async def place_purchase_order(self, info: Info, id: str,
                                   idempotency_key: Key = None) -> PurchaseOrderPayload:
        found, errors = await perform(
            info, ("POST", ORDERS + "/order"), PLACE_PURCHASE_ORDER,
            lambda: PlacePurchaseOrder(purchase_order_id=document_id("id", id)), ORDER,
            idempotency_key)
        return PurchaseOrderPayload(purchase_order=found, user_errors=errors)

    @strawberry.mutation(description="Receive all (no input) or some lines of a purchase "
                                     "order (POST /v1/purchase-orders/{id}/receive)")
    async def receive_purchase_order(self, info: Info, id: str,
                                     input: ReceivePurchaseOrderInput | None = None,
                                     idempotency_key: Key = None) -> PurchaseOrderPayload:
        found, errors = await perform(
            info, ("POST", ORDERS + "/receive"), RECEIVE_PURCHASE_ORDER,
            lambda: _receipt(info, id, input), ORDER, idempotency_key)
        return PurchaseOrderPayload(purchase_order=found, user_errors=errors)

    @strawberry.mutation(description="Cancel a draft or an open order (POST "
                                     "/v1/purchase-orders/{id}/cancel)")
    async def cancel_purchase_order(self, info: Info, id: str,
                                    idempotency_key: Key = None) -> PurchaseOrderPayload:
        found, errors = await perform(
            info, ("POST", ORDERS + "/cancel"), CANCEL_PURCHASE_ORDER,
            lambda: CancelPurchaseOrder(purchase_order_id=document_id("id", id)), ORDER,
            idempotency_key)
        return PurchaseOrderPayload(purchase_order=found, user_errors=errors)

    @strawberry.mutation(description="Report what the shelf or the system shows (POST "
                                     "/v1/feedback): a discrepancy opens or joins a count "
                                     "task")
    async def report_feedback(self, info: Info, input: ReportFeedbackInput,
                              idempotency_key: Key = None) -> FeedbackPayload:
        found, errors = await perform(
            info, ("POST", "/v1/feedback"), REPORT_FEEDBACK,
            lambda: body_as(FeedbackCreate, input).to_command(), FEEDBACK, idempotency_key)
        return FeedbackPayload(feedback=found, user_errors=errors)

    @strawberry.mutation(description="Record the count and close the task (POST "
                                     "/v1/count-tasks/{id}/complete)")
    async def complete_count_task(self, info: Info, id: str, input: CompleteCountTaskInput,
                                  idempotency_key: Key = None) -> CountTaskPayload:
        def command() -> CompleteCountTask:
            return body_as(CountTaskComplete, input).to_command(document_id("id", id))

        found, errors = await perform(
            info, ("POST", "/v1/count-tasks/{task_id}/complete"), COMPLETE_COUNT_TASK,
            command, TASK, idempotency_key)
        return CountTaskPayload(count_task=found, user_errors=errors)
