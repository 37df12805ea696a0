"""Webhook subscriptions: create, delete, resume a paused one, redeliver.

Queuing and sending deliveries is the adapters' work (the relay queues a delivery in the
transaction that logs its event; the dispatcher sends them). These use cases change the
subscriptions and steer their deliveries; none of them drops a delivery silently: only
deleting a subscription discards what it had not received yet, and says how many.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockline.domain.destinations import DestinationRefused, Unresolvable
from stockline.domain.errors import InvalidInput, InvalidState, NotFound
from stockline.domain.ids import new_id
from stockline.domain.security import Permission, Principal
from stockline.domain.webhooks import (
    WEBHOOKS,
    CreateWebhook,
    DeleteWebhook,
    Delivery,
    RedeliverDelivery,
    ResumeWebhook,
    Webhook,
    WebhookStatus,
    check_event_types,
    check_location_ids,
    check_secret,
    check_url,
)
from stockline.services.executor import Context
from stockline.services.ports import Destinations, UnitOfWork


@dataclass(frozen=True, slots=True)
class DeletedWebhook:
    webhook: Webhook
    discarded_deliveries: int


async def check_destination(destinations: Destinations, url: str,
                            access: Principal | None) -> None:
    """A webhook's URL must lead to public addresses only, unless the operator allows others.

    Checked before the subscription is made (``create_webhook``), outside its transaction,
    since resolving a name can take a while: an IP address as it is, a name by every
    address it resolves to now; one that is loopback, private, link-local, shared,
    multicast or reserved refuses the URL (``InvalidInput`` on ``url``, which does not
    say what the name resolved to). A name that does not resolve now is taken: DNS may
    lag behind a new receiver, and every delivery resolves and checks it again before it
    connects. Only a caller who may manage webhooks learns anything of an address.
    """
    if access is not None:
        access.require(Permission.WEBHOOKS_MANAGE)
    check_url(url)
    try:
        await destinations.check(url)
    except DestinationRefused as refused:
        raise InvalidInput("url", f"must lead to a public address: {refused}") from None
    except Unresolvable:
        return


async def create_webhook(uow: UnitOfWork, cmd: CreateWebhook, ctx: Context) -> Webhook:
    """Subscribe a URL to event types (or ``*``), optionally at some locations only.

    The URL is http(s), and its destination was checked first (``check_destination``);
    the types are known ones; each location named exists. Without a
    secret a random one is made; the caller sees it in this answer only. Events logged
    from now on that match are delivered; earlier ones are not. Managing webhooks is
    one permission, whatever locations a webhook filters on.
    """
    ctx.require(Permission.WEBHOOKS_MANAGE)
    location_ids = check_location_ids(cmd.location_ids)
    webhook = Webhook(id=new_id("whk"), url=check_url(cmd.url),
                      event_types=check_event_types(cmd.event_types),
                      location_ids=location_ids, secret=check_secret(cmd.secret),
                      status=WebhookStatus.ACTIVE, paused_reason=None, actor=ctx.actor,
                      created_at=ctx.now, updated_at=ctx.now)
    for location_id in location_ids or ():
        if not await uow.locations.exists(location_id):
            raise NotFound("location", location_id)
    await uow.webhooks.add(webhook)
    return webhook


async def _live(uow: UnitOfWork, webhook_id: str) -> Webhook:
    """The subscription, locked; a deleted one is not found."""
    webhook = await uow.webhooks.get(webhook_id, for_update=True)
    if webhook is None or webhook.status is WebhookStatus.DELETED:
        raise NotFound("webhook", webhook_id)
    return webhook


async def delete_webhook(uow: UnitOfWork, cmd: DeleteWebhook, ctx: Context) -> DeletedWebhook:
    """Stop a subscription: nothing more is queued or sent for it.

    The row stays (status ``deleted``, no longer listed) with its delivered deliveries;
    the deliveries it had not received yet are discarded, so they do not hold events
    back from retention. The answer counts them.
    """
    ctx.require(Permission.WEBHOOKS_MANAGE)
    webhook = (await _live(uow, cmd.webhook_id)).deleted(ctx.now)
    await uow.webhooks.update(webhook)
    discarded = await uow.webhooks.discard_pending(webhook.id)
    return DeletedWebhook(webhook, discarded)


async def resume_webhook(uow: UnitOfWork, cmd: ResumeWebhook, ctx: Context) -> Webhook:
    """Send a paused subscription's deliveries again, oldest first, from now on.

    Everything queued while it was paused is still there. Its retries start afresh: a
    delivery fails for the whole give-up span again before the subscription is paused
    again. Only a paused subscription can be resumed (409 ``invalid_state``).
    """
    ctx.require(Permission.WEBHOOKS_MANAGE)
    webhook = (await _live(uow, cmd.webhook_id)).resumed(ctx.now)
    await uow.webhooks.update(webhook)
    await uow.webhooks.schedule_pending(webhook.id, ctx.now)
    return webhook


async def redeliver(uow: UnitOfWork, cmd: RedeliverDelivery, ctx: Context) -> Delivery:
    """Send a delivery again now: a delivered one once more, a pending one without waiting.

    It takes its place by event id: a redelivered older event goes out before any later
    one still pending. The subscription must be active (resume a paused one instead);
    an event that retention has pruned can no longer be sent (409 ``invalid_state``).
    """
    ctx.require(Permission.WEBHOOKS_MANAGE)
    await uow.webhooks.hold_retention()
    webhook = await _live(uow, cmd.webhook_id)
    WEBHOOKS.check(webhook.id, webhook.status, "redeliver")
    delivery = await uow.webhooks.get_delivery(webhook.id, cmd.delivery_id)
    if delivery is None:
        raise NotFound("delivery", str(cmd.delivery_id))
    if not await uow.webhooks.requeue(delivery.id, ctx.now):
        raise InvalidState("delivery", str(delivery.id), "event_pruned", "redeliver")
    found = await uow.webhooks.get_delivery(webhook.id, delivery.id)
    assert found is not None
    return found
