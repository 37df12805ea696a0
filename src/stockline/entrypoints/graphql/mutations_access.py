"""Writes on access and privacy: API keys, webhooks, a customer's erasure. Each mutation is
its REST route, as in ``mutations``: the route's body schema and permission, what the route
does around its write (a webhook's destination checked first, a revoked key forgotten by
this node), its operation handed to the one write service, refusals in ``userErrors``. An
answer that carries a secret is kept by no cache, as over REST."""

from __future__ import annotations

from typing import Any

import strawberry

from stockline.adapters.credentials import new_api_key
from stockline.adapters.housekeeping import reclaim_erased
from stockline.domain.customers import EraseCustomer
from stockline.domain.errors import DomainError, InvalidInput
from stockline.domain.keys import ApiKey as KeyRecord
from stockline.domain.keys import RevokeApiKey
from stockline.domain.webhooks import (
    CreateWebhook,
    DeleteWebhook,
    RedeliverDelivery,
    ResumeWebhook,
)
from stockline.entrypoints.graphql.access import (
    ApiKey,
    CreateApiKeyInput,
    CreateWebhookInput,
    DeletedWebhook,
    Delivery,
    NewApiKey,
    NewWebhook,
    Webhook,
)
from stockline.entrypoints.graphql.context import Context, Info
from stockline.entrypoints.graphql.inputs import body_as
from stockline.entrypoints.graphql.mutations import Key
from stockline.entrypoints.graphql.payloads import (
    Around,
    UserError,
    checked_key,
    perform,
    require_route,
    shown,
    user_errors,
)
from stockline.entrypoints.graphql.values import customer_ref, document_id
from stockline.entrypoints.http.auth import caller_of
from stockline.entrypoints.http.deps import NO_STORE
from stockline.entrypoints.http.schemas.keys import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
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
    REVOKE_API_KEY,
    api_key_request,
    create_api_key,
)
from stockline.services import customers, webhooks

WEBHOOK = "/v1/webhooks/{webhook_id}"


@strawberry.type
class NewApiKeyPayload:
    api_key: NewApiKey | None
    user_errors: list[UserError]


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None
    user_errors: list[UserError]


@strawberry.type
class NewWebhookPayload:
    webhook: NewWebhook | None
    user_errors: list[UserError]


@strawberry.type
class WebhookPayload:
    webhook: Webhook | None
    user_errors: list[UserError]


@strawberry.type
class DeletedWebhookPayload:
    webhook: DeletedWebhook | None
    user_errors: list[UserError]


@strawberry.type
class DeliveryPayload:
    delivery: Delivery | None
    user_errors: list[UserError]


@strawberry.type
class EraseCustomerPayload:
    erased: bool = strawberry.field(description="true: no customer has this reference any "
                                                "more (whether or not one had)")
    user_errors: list[UserError]


def _kept_by_no_cache(info: Info) -> None:
    if info.context.response is not None:
        info.context.response.headers.update(NO_STORE)


def _forget(context: Context, key: KeyRecord) -> None:
    context.container.authenticator.keys.forget(key.id)


def _destination_checked(info: Info) -> Around[CreateWebhook, Any]:
    async def check(command: CreateWebhook) -> None:
        await webhooks.check_destination(info.context.container.destinations, command.url,
                                         info.context.principal)
    return Around(check=check)


def _delivery(webhook_id: str, delivery_id: int) -> RedeliverDelivery:
    if delivery_id < 1:
        raise InvalidInput("deliveryId", "must be 1 or more")
    return RedeliverDelivery(webhook_id=document_id("webhookId", webhook_id),
                             delivery_id=delivery_id)


@strawberry.type
class AccessMutation:
    @strawberry.mutation(description="Create an API key (POST /v1/api-keys): the answer "
                                     "carries the key once, as `key`")
    async def create_api_key(self, info: Info, input: CreateApiKeyInput,
                             idempotency_key: Key = None) -> NewApiKeyPayload:
        issued = new_api_key()
        found, errors = await perform(
            info, ("POST", "/v1/api-keys"), create_api_key(issued.key),
            lambda: body_as(ApiKeyCreate, input).to_command(prefix=issued.prefix,
                                                            secret_hash=issued.secret_hash),
            shown(NewApiKey, ApiKeyCreated), idempotency_key, Around(identity=api_key_request))
        _kept_by_no_cache(info)
        return NewApiKeyPayload(api_key=found, user_errors=errors)

    @strawberry.mutation(description="Revoke an API key (DELETE /v1/api-keys/{id}), and "
                                     "every access token issued to it")
    async def revoke_api_key(self, info: Info, id: str,
                             idempotency_key: Key = None) -> ApiKeyPayload:
        found, errors = await perform(
            info, ("DELETE", "/v1/api-keys/{key_id}"), REVOKE_API_KEY,
            lambda: RevokeApiKey(key_id=document_id("id", id)), shown(ApiKey, ApiKeyOut),
            idempotency_key, Around(applied=_forget))
        return ApiKeyPayload(api_key=found, user_errors=errors)

    @strawberry.mutation(description="Subscribe a URL to events (POST /v1/webhooks): the "
                                     "answer carries the `secret` once")
    async def create_webhook(self, info: Info, input: CreateWebhookInput,
                             idempotency_key: Key = None) -> NewWebhookPayload:
        found, errors = await perform(
            info, ("POST", "/v1/webhooks"), CREATE_WEBHOOK,
            lambda: body_as(WebhookCreate, input).to_command(),
            shown(NewWebhook, WebhookCreated), idempotency_key, _destination_checked(info))
        _kept_by_no_cache(info)
        return NewWebhookPayload(webhook=found, user_errors=errors)

    @strawberry.mutation(description="Delete a webhook (DELETE /v1/webhooks/{id})")
    async def delete_webhook(self, info: Info, id: str,
                             idempotency_key: Key = None) -> DeletedWebhookPayload:
        found, errors = await perform(
            info, ("DELETE", WEBHOOK), DELETE_WEBHOOK,
            lambda: DeleteWebhook(webhook_id=document_id("id", id)),
            shown(DeletedWebhook, WebhookDeleted), idempotency_key)
        return DeletedWebhookPayload(webhook=found, user_errors=errors)

    @strawberry.mutation(description="Resume a paused webhook (POST "
                                     "/v1/webhooks/{id}/resume)")
    async def resume_webhook(self, info: Info, id: str,
                             idempotency_key: Key = None) -> WebhookPayload:
        found, errors = await perform(
            info, ("POST", WEBHOOK + "/resume"), RESUME_WEBHOOK,
            lambda: ResumeWebhook(webhook_id=document_id("id", id)),
            shown(Webhook, WebhookOut), idempotency_key)
        return WebhookPayload(webhook=found, user_errors=errors)

    @strawberry.mutation(description="Send a delivery again (POST "
                                     "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver)")
    async def redeliver_delivery(self, info: Info, webhook_id: str, delivery_id: int,
                                 idempotency_key: Key = None) -> DeliveryPayload:
        found, errors = await perform(
            info, ("POST", WEBHOOK + "/deliveries/{delivery_id}/redeliver"), REDELIVER,
            lambda: _delivery(webhook_id, delivery_id), shown(Delivery, DeliveryOut),
            idempotency_key)
        return DeliveryPayload(delivery=found, user_errors=errors)

    @strawberry.mutation(description="Erase a customer (POST /v1/customers/{ref}/erase): "
                                     "idempotent by nature, so `idempotencyKey` is accepted "
                                     "and nothing is kept for it")
    async def erase_customer(self, info: Info, ref: str,
                             idempotency_key: Key = None) -> EraseCustomerPayload:
        try:
            caller = caller_of(require_route(info, ("POST", "/v1/customers/{ref}/erase")))
            checked_key(idempotency_key)
            await info.context.container.writes.run(
                customers.erase_customer, EraseCustomer(ref=customer_ref("ref", ref)), caller)
        except DomainError as error:
            return EraseCustomerPayload(erased=False, user_errors=user_errors(error))
        await reclaim_erased(info.context.container.database.write)
        _kept_by_no_cache(info)
        return EraseCustomerPayload(erased=True, user_errors=[])
