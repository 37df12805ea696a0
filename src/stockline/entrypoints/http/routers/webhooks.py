"""Webhooks: subscriptions, their delivery log, redelivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from stockline.domain.errors import NotFound
from stockline.domain.webhooks import (
    DeleteWebhook,
    DeliveryStatus,
    RedeliverDelivery,
    ResumeWebhook,
    WebhookStatus,
)
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import NO_STORE, ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.schemas.common import Page, problems
from stockline.entrypoints.http.schemas.webhooks import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookOut,
)
from stockline.entrypoints.operations import (
    CREATE_WEBHOOK,
    DELETE_WEBHOOK,
    REDELIVER,
    RESUME_WEBHOOK,
)
from stockline.services import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
WebhookId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")]
DeliveryId = Annotated[int, Path(ge=1, lt=2**63)]
# The answer that carries a secret must not be kept by any cache on the way.

SIGNING = ("Each delivery is a POST whose body is the event (as in the Events section) with "
           "headers `X-Stockline-Event-Id` (drop repeats by it), `X-Stockline-Event-Type`, "
           "`X-Stockline-Delivery-Id` and `X-Stockline-Signature: t=<unix seconds>,v1=<hex "
           "HMAC-SHA256(secret, \"<t>.<body>\")>`. A 2xx answer is a delivery; anything else "
           "is retried with exponential backoff and jitter, in event order per webhook, for "
           "at least 24 hours, after which the webhook is paused with a reason (its "
           "deliveries wait; resume it to send them).")


@router.post("", status_code=201, response_model=WebhookCreated, responses=problems(404),
             summary="Subscribe a URL to events", description=SIGNING +
             " The answer carries the `secret` (given, or made when left out) once: it is "
             "never shown again. With an Idempotency-Key, a replay answers the same "
             "webhook with `secret: null` (it is not kept for replays) and creates "
             "nothing. It receives the events of changes made from its creation "
             "on. Unknown event types, a URL that is not http(s), a URL whose host is "
             "or resolves to an address that is not public (loopback, private, "
             "link-local, ...: unless the server allows them) or a short secret are "
             "422; an unknown location is 404.")
async def create_webhook(body: WebhookCreate, write: WriterDep,
                         container: ContainerDep) -> Response:
    await webhooks.check_destination(container.destinations, body.url, write.principal)
    response = await write.perform(CREATE_WEBHOOK, body.to_command(), body=body, status=201)
    response.headers.update(NO_STORE)
    return response


@router.get("", response_model=Page[WebhookOut], responses=problems(),
            summary="Webhooks, newest first", description="Secrets are never listed.")
async def list_webhooks(container: ContainerDep, _p: PrincipalDep,
                        status: WebhookStatus | None = None, limit: Limit = 50,
                        cursor: Cursor = None) -> Page[WebhookOut]:
    # ?status=deleted lists nothing (the query never lists deleted ones), but still
    # checks the cursor like every other list.
    page = await container.queries.webhooks(status=status.value if status else None,
                                            limit=limit, cursor=cursor)
    return Page(items=[WebhookOut.of(w) for w in page.items], next_cursor=page.next_cursor)


@router.get("/{webhook_id}", response_model=WebhookOut, responses=problems(404),
            summary="One webhook")
async def get_webhook(webhook_id: WebhookId, container: ContainerDep,
                      _p: PrincipalDep) -> WebhookOut:
    webhook = await container.queries.webhook(webhook_id)
    if webhook is None:
        raise NotFound("webhook", webhook_id)
    return WebhookOut.of(webhook)


@router.delete("/{webhook_id}", response_model=WebhookDeleted, responses=problems(404),
               summary="Delete a webhook",
               description="Nothing more is queued or sent for it. Deliveries it had not "
                           "received yet are discarded (the answer counts them); the ones "
                           "delivered stay on record. Deleted webhooks are not found again.")
async def delete_webhook(webhook_id: WebhookId, write: WriterDep) -> Response:
    return await write.perform(DELETE_WEBHOOK, DeleteWebhook(webhook_id=webhook_id), body=None)


@router.post("/{webhook_id}/resume", response_model=WebhookOut, responses=problems(404, 409),
             summary="Resume a paused webhook",
             description="Its pending deliveries, including those queued while it was "
                         "paused, go out again in event order, with a fresh retry span. A "
                         "webhook that is not paused is 409 `invalid_state`.")
async def resume_webhook(webhook_id: WebhookId, write: WriterDep) -> Response:
    return await write.perform(RESUME_WEBHOOK, ResumeWebhook(webhook_id=webhook_id), body=None)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut],
            responses=problems(404), summary="A webhook's delivery log, newest event first",
            description="Each delivery with its attempts (status codes, errors, durations), "
                        "the next retry and when it was delivered.")
async def list_deliveries(webhook_id: WebhookId, container: ContainerDep, _p: PrincipalDep,
                          status: DeliveryStatus | None = None, limit: Limit = 50,
                          cursor: Cursor = None) -> Page[DeliveryOut]:
    if await container.queries.webhook(webhook_id) is None:
        raise NotFound("webhook", webhook_id)
    page = await container.queries.deliveries(webhook_id, status=status.value if status else None,
                                              limit=limit, cursor=cursor)
    return Page(items=[DeliveryOut.of(d) for d in page.items], next_cursor=page.next_cursor)


@router.get("/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryOut,
            responses=problems(404), summary="One delivery, with its attempts")
async def get_delivery(webhook_id: WebhookId, delivery_id: DeliveryId,
                       container: ContainerDep, _p: PrincipalDep) -> DeliveryOut:
    if await container.queries.webhook(webhook_id) is None:
        raise NotFound("webhook", webhook_id)
    delivery = await container.queries.delivery(webhook_id, delivery_id)
    if delivery is None:
        raise NotFound("delivery", str(delivery_id))
    return DeliveryOut.of(delivery)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202,
             response_model=DeliveryOut, responses=problems(404, 409),
             summary="Send a delivery again",
             description="A delivered one is sent once more, a pending one right away "
                         "instead of at its next retry; either way it goes before any later "
                         "event of the webhook still pending. 409 `invalid_state` when the "
                         "webhook is paused (resume it) or the event has left the event log.")
async def redeliver_delivery(webhook_id: WebhookId, delivery_id: DeliveryId,
                    write: WriterDep) -> Response:
    return await write.perform(
        REDELIVER, RedeliverDelivery(webhook_id=webhook_id, delivery_id=delivery_id),
        body=None, status=202)
