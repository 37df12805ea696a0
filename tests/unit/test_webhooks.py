"""Webhooks without a database: the signature, the retry schedule, matching, the rules of
a subscription, and the use cases over in-memory fakes."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from stockline.domain.errors import InvalidInput, InvalidState, NotFound
from stockline.domain.webhooks import (
    ALL_TYPES,
    EVENT_TYPES,
    Attempt,
    CreateWebhook,
    DeleteWebhook,
    DeliveryStatus,
    RedeliverDelivery,
    ResumeWebhook,
    RetryPolicy,
    Webhook,
    WebhookStatus,
    check_event_types,
    check_location_ids,
    check_secret,
    check_url,
    pause_reason,
    schedule,
    signature,
    succeeded,
    verify_signature,
)
from stockline.services import webhooks
from stockline.services.executor import Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.fakes_webhooks import prune_event, queue_delivery
from tests.unit.support import CALLER

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_unit-test-secret"
BODY = b'{"id":42,"type":"sale.recorded","occurred_at":"2026-11-01T12:00:00Z"}'

# The types API.md lists in its Events section.
API_TYPES = {"inventory.changed", "inventory.low_stock", "sale.recorded", "sale.returned",
             "sale.updated", "transfer.shipped", "transfer.received", "transfer.cancelled",
             "transfer.closed",
             "reservation.created", "reservation.committed", "reservation.released",
             "reservation.expired", "product.changed", "location.updated",
             "supplier.updated", "count_task.opened",
             "count_task.completed", "feedback.received"}


def webhook(**fields: object) -> Webhook:
    base = Webhook(id="whk_1", url="https://example.com/in", event_types=(ALL_TYPES,),
                   location_ids=None, secret=SECRET, status=WebhookStatus.ACTIVE,
                   paused_reason=None, actor="unit", created_at=T0, updated_at=T0)
    return replace(base, **fields)  # type: ignore[arg-type]


# -- the signature ------------------------------------------------------------------------------

def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    header = signature(SECRET, 1_790_000_000, BODY)
    mac = hmac.new(SECRET.encode(), b"1790000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1790000000,v1={mac}"
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)


def test_a_signature_verifies_only_with_its_secret_body_and_time() -> None:
    header = signature(SECRET, 1_790_000_000, BODY)
    assert verify_signature(SECRET, header, BODY, now=1_790_000_000)
    assert verify_signature(SECRET, header, BODY, now=1_790_000_299)
    assert not verify_signature(SECRET + "x", header, BODY, now=1_790_000_000)
    assert not verify_signature(SECRET, header, BODY.replace(b"42", b"43"), now=1_790_000_000)
    assert not verify_signature(SECRET, header, BODY, now=1_790_000_301)  # a late replay
    assert not verify_signature(SECRET, header, BODY, now=1_789_999_600)
    # the timestamp is signed too: a fresh t with the old v1 fails
    moved = header.replace("t=1790000000", "t=1790000100")
    assert not verify_signature(SECRET, moved, BODY, now=1_790_000_100)


def test_a_receiver_rotating_secrets_accepts_any_matching_v1() -> None:
    old = signature("old-secret-0123456789", 1_790_000_000, BODY).rpartition("v1=")[2]
    new = signature(SECRET, 1_790_000_000, BODY)
    assert verify_signature(SECRET, f"{new},v1={old}", BODY, now=1_790_000_000)
    assert verify_signature("old-secret-0123456789", f"{new},v1={old}", BODY,
                            now=1_790_000_000)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=soon,v1=abc", "t=1790000000",
                                    "garbage", "t=1790000000,v1="])
def test_malformed_signature_headers_do_not_verify(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=1_790_000_000)


@pytest.mark.parametrize(("status", "error", "ok"), [
    (200, None, True), (204, None, True), (299, None, True), (301, None, False),
    (404, "answered HTTP 404", False), (500, "answered HTTP 500", False),
    (None, "no answer within 10 s", False)])
def test_only_a_2xx_answer_is_a_delivery(status: int | None, error: str | None,
                                         ok: bool) -> None:
    assert succeeded(status, error) is ok


# -- retries ------------------------------------------------------------------------------------

DEFAULT = RetryPolicy(base=timedelta(seconds=5), cap=timedelta(hours=1),
                      give_up=timedelta(hours=24))


@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999999])
def test_retries_cover_at_least_the_give_up_span_and_then_stop(rand: float) -> None:
    times = schedule(DEFAULT, T0, lambda: rand)
    assert times[-1] - T0 >= timedelta(hours=24)  # the last attempt: at or past 24 h
    assert times[-2] - T0 < timedelta(hours=24)  # ... and the first one there
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g <= DEFAULT.cap for g in gaps)
    assert gaps == sorted(gaps)  # backing off, never speeding up (for a fixed jitter)
    assert 25 <= len(times) <= 60  # about one an hour once capped, not a storm


def test_each_wait_doubles_up_to_the_cap_within_the_jitter() -> None:
    for failures in range(1, 40):
        raw = min(3600.0, 5.0 * 2 ** (failures - 1))
        shortest = DEFAULT.delay(failures, 0.999999).total_seconds()
        longest = DEFAULT.delay(failures, 0.0).total_seconds()
        assert longest == pytest.approx(raw)
        assert shortest == pytest.approx(raw * (1 - DEFAULT.jitter), rel=1e-4)
    rng = random.Random(7)
    waits = {DEFAULT.delay(3, rng.random()).total_seconds() for _ in range(200)}
    assert min(waits) >= 10.0 and max(waits) <= 20.0
    assert len(waits) > 150  # spread out, not one value


def test_a_huge_failure_count_stays_at_the_cap() -> None:
    assert DEFAULT.delay(10_000, 0.0) == DEFAULT.cap


def test_next_attempt_gives_up_once_the_streak_is_old_enough() -> None:
    assert DEFAULT.next_attempt(now=T0 + timedelta(hours=23, minutes=59),
                                streak_started=T0, failures=30, rand=0.0) == (
        T0 + timedelta(hours=24, minutes=59))
    assert DEFAULT.next_attempt(now=T0 + timedelta(hours=24), streak_started=T0,
                                failures=31, rand=0.0) is None


def test_the_pause_reason_says_what_failed_and_that_nothing_is_lost() -> None:
    reason = pause_reason(failures=33, since=T0, now=T0 + timedelta(hours=24, minutes=30),
                          event_id=7, last_error="answered HTTP 503")
    assert "event 7" in reason and "33 attempts" in reason and "24.50 h" in reason
    assert "answered HTTP 503" in reason and "resume" in reason
    assert len(pause_reason(failures=1, since=T0, now=T0, event_id=1,
                            last_error="x" * 1000)) == 500


# -- matching -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("types", "locations", "event", "wanted"), [
    (("*",), None, ("sale.recorded", "S1"), True),
    (("*",), None, ("product.changed", None), True),
    (("sale.recorded",), None, ("sale.recorded", "S1"), True),
    (("sale.recorded",), None, ("sale.returned", "S1"), False),
    (("sale.recorded", "inventory.changed"), None, ("inventory.changed", "S2"), True),
    (("*",), ("S1",), ("sale.recorded", "S1"), True),
    (("*",), ("S1",), ("sale.recorded", "S2"), False),
    (("*",), ("S1",), ("product.changed", None), False),
    (("sale.recorded",), ("S1", "S2"), ("sale.recorded", "S2"), True),
    (("sale.recorded",), ("S1", "S2"), ("inventory.changed", "S2"), False),
])
def test_a_subscription_wants_its_types_at_its_locations(
        types: tuple[str, ...], locations: tuple[str, ...] | None,
        event: tuple[str, str | None], wanted: bool) -> None:
    assert webhook(event_types=types, location_ids=locations).wants(*event) is wanted


# -- the rules of a subscription ----------------------------------------------------------------

def test_the_known_event_types_are_the_ones_the_api_lists() -> None:
    assert EVENT_TYPES == API_TYPES


@pytest.mark.parametrize("url", ["https://example.com/in", "http://127.0.0.1:8080/hook?x=1",
                                 "HTTPS://EXAMPLE.COM", "http://[::1]:9000/"])
def test_http_and_https_urls_are_taken(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/x", "/relative",
                                 "https://", "https:///path", "mailto:a@example.com",
                                 "https://user:pw@example.com/", "https://example.com/#x",
                                 "https://example.com:http/", "https://exa mple.com/",
                                 "https://example.com/\n", "javascript:alert(1)",
                                 "https://example.com:99999/", "https://" + "a" * 2000])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url)
    assert refused.value.field == "url"


def test_event_types_are_known_unique_and_sorted_or_star_alone() -> None:
    assert check_event_types(["sale.recorded", "inventory.changed", "sale.recorded"]) == (
        "inventory.changed", "sale.recorded")
    assert check_event_types(["*"]) == ("*",)
    for bad in ([], ["sale.exploded"], ["*", "sale.recorded"], ["Sale.Recorded"]):
        with pytest.raises(InvalidInput) as refused:
            check_event_types(bad)
        assert refused.value.field == "event_types"


def test_a_location_filter_names_codes_or_is_left_out() -> None:
    assert check_location_ids(None) is None
    assert check_location_ids(["S2", "S1", "S2"]) == ("S1", "S2")
    for bad in ([], ["not a code"], ["x" * 65]):
        with pytest.raises(InvalidInput):
            check_location_ids(bad)


def test_a_secret_is_long_enough_or_made() -> None:
    assert check_secret("0123456789abcdef") == "0123456789abcdef"
    made = {check_secret(None) for _ in range(20)}
    assert len(made) == 20 and all(s.startswith("whsec_") and len(s) >= 40 for s in made)
    for bad in ("short", "x" * 201, "sixteen chars ok?", "tab\there-0123456789", "é" * 20):
        with pytest.raises(InvalidInput) as refused:
            check_secret(bad)
        assert refused.value.field == "secret"


def test_only_a_paused_subscription_resumes_and_a_deleted_one_does_nothing() -> None:
    paused = webhook().paused("down", T0)
    assert paused.status is WebhookStatus.PAUSED and paused.paused_reason == "down"
    resumed = paused.resumed(T0 + timedelta(hours=1))
    assert resumed.status is WebhookStatus.ACTIVE and resumed.paused_reason is None
    assert resumed.updated_at == T0 + timedelta(hours=1)
    with pytest.raises(InvalidState):
        webhook().resumed(T0)
    gone = paused.deleted(T0)
    assert not gone.takes_deliveries and paused.takes_deliveries
    for change in (lambda w: w.resumed(T0), lambda w: w.deleted(T0),
                   lambda w: w.paused("again", T0)):
        with pytest.raises(InvalidState):
            change(gone)


# -- the use cases over fakes ---------------------------------------------------------------------

async def create(executor: Executor, **fields: object) -> Webhook:
    command = CreateWebhook(**{"url": "https://example.com/in", "event_types": ("*",),
                               **fields})  # type: ignore[arg-type]
    return await executor.run(webhooks.create_webhook, command, CALLER)


def stored(uows: FakeUnitOfWorkFactory, webhook_id: str) -> Webhook:
    found: Webhook = uows.committed.table("webhooks")[webhook_id]
    return found


def set_status(uows: FakeUnitOfWorkFactory, webhook_id: str, status: WebhookStatus) -> None:
    table = uows.committed.table("webhooks")
    table[webhook_id] = replace(table[webhook_id], status=status, paused_reason="down")


async def test_creating_a_webhook_stores_it_with_a_made_secret(
        executor: Executor, uows: FakeUnitOfWorkFactory, store: str) -> None:
    made = await create(executor, event_types=("sale.recorded", "inventory.changed"),
                        location_ids=(store,))
    assert made.id.startswith("whk_") and made.secret.startswith("whsec_")
    assert made.status is WebhookStatus.ACTIVE and made.actor == CALLER.actor
    assert made.event_types == ("inventory.changed", "sale.recorded")
    assert stored(uows, made.id) == made


async def test_a_webhook_for_an_unknown_location_is_not_made(
        executor: Executor, uows: FakeUnitOfWorkFactory, store: str) -> None:
    with pytest.raises(NotFound) as refused:
        await create(executor, location_ids=(store, "NOWHERE"))
    assert (refused.value.kind, refused.value.key) == ("location", "NOWHERE")
    assert uows.committed.table("webhooks") == {}


async def test_bad_rules_refuse_the_whole_webhook(executor: Executor,
                                                  uows: FakeUnitOfWorkFactory) -> None:
    for fields in ({"url": "ftp://x"}, {"event_types": ("nope",)}, {"secret": "short"}):
        with pytest.raises(InvalidInput):
            await create(executor, **fields)
    assert uows.committed.table("webhooks") == {}


async def test_deleting_discards_what_was_not_received_and_keeps_the_log(
        executor: Executor, uows: FakeUnitOfWorkFactory) -> None:
    made = await create(executor)
    queue_delivery(uows, made.id, 1, event_type="sale.recorded", at=T0,
                   status=DeliveryStatus.DELIVERED)
    for event_id in (2, 3):
        queue_delivery(uows, made.id, event_id, event_type="sale.recorded", at=T0)
    gone = await executor.run(webhooks.delete_webhook, DeleteWebhook(webhook_id=made.id),
                              CALLER)
    assert gone.discarded_deliveries == 2
    assert stored(uows, made.id).status is WebhookStatus.DELETED
    left = uows.committed.table("webhook_deliveries")
    assert [(d.event_id, d.status) for d in left.values()] == [(1, DeliveryStatus.DELIVERED)]
    with pytest.raises(NotFound):
        await executor.run(webhooks.delete_webhook, DeleteWebhook(webhook_id=made.id), CALLER)
    with pytest.raises(NotFound):
        await executor.run(webhooks.resume_webhook, ResumeWebhook(webhook_id=made.id), CALLER)


async def test_resuming_sends_every_pending_delivery_again_from_now(
        executor: Executor, uows: FakeUnitOfWorkFactory) -> None:
    made = await create(executor)
    for event_id in (1, 2):
        queue_delivery(uows, made.id, event_id, event_type="sale.recorded", at=T0)
    set_status(uows, made.id, WebhookStatus.PAUSED)
    resumed = await executor.run(webhooks.resume_webhook, ResumeWebhook(webhook_id=made.id),
                                 CALLER)
    assert resumed.status is WebhookStatus.ACTIVE and resumed.paused_reason is None
    assert stored(uows, made.id) == resumed
    due = {d.next_attempt_at for d in uows.committed.table("webhook_deliveries").values()}
    assert due == {resumed.updated_at} and resumed.updated_at > T0
    with pytest.raises(InvalidState) as refused:
        await executor.run(webhooks.resume_webhook, ResumeWebhook(webhook_id=made.id), CALLER)
    assert refused.value.state == "active"


async def test_redelivering_makes_a_delivered_event_pending_again(
        executor: Executor, uows: FakeUnitOfWorkFactory) -> None:
    made = await create(executor)
    done = Attempt(attempt=1, at=T0, status_code=200, error=None, duration_ms=3)
    first = queue_delivery(uows, made.id, 1, event_type="sale.recorded", at=T0,
                           status=DeliveryStatus.DELIVERED, attempts=(done,))
    again = await executor.run(webhooks.redeliver, RedeliverDelivery(
        webhook_id=made.id, delivery_id=first.id), CALLER)
    assert again.status is DeliveryStatus.PENDING and again.delivered_at is None
    assert again.next_attempt_at is not None and again.next_attempt_at > T0
    assert again.attempts == 1 and again.attempt_log == (done,)  # the history stays
    assert again.event_type == "sale.recorded"


async def test_redelivery_needs_an_active_webhook_its_delivery_and_the_event(
        executor: Executor, uows: FakeUnitOfWorkFactory) -> None:
    made, other = await create(executor), await create(executor)
    mine = queue_delivery(uows, made.id, 1, event_type="sale.recorded", at=T0)
    theirs = queue_delivery(uows, other.id, 2, event_type="sale.recorded", at=T0)
    for delivery_id in (theirs.id, 999):
        with pytest.raises(NotFound):
            await executor.run(webhooks.redeliver, RedeliverDelivery(
                webhook_id=made.id, delivery_id=delivery_id), CALLER)
    prune_event(uows, 1)
    with pytest.raises(InvalidState) as pruned:
        await executor.run(webhooks.redeliver, RedeliverDelivery(
            webhook_id=made.id, delivery_id=mine.id), CALLER)
    assert pruned.value.state == "event_pruned"
    set_status(uows, other.id, WebhookStatus.PAUSED)
    with pytest.raises(InvalidState) as paused:
        await executor.run(webhooks.redeliver, RedeliverDelivery(
            webhook_id=other.id, delivery_id=theirs.id), CALLER)
    assert paused.value.state == "paused"
    with pytest.raises(NotFound):
        await executor.run(webhooks.redeliver, RedeliverDelivery(
            webhook_id="whk_missing", delivery_id=mine.id), CALLER)


async def test_a_refused_use_case_changes_nothing(executor: Executor,
                                                  uows: FakeUnitOfWorkFactory) -> None:
    made = await create(executor)
    before = dict(uows.committed.table("webhooks"))
    with pytest.raises(InvalidState):
        await executor.run(webhooks.resume_webhook, ResumeWebhook(webhook_id=made.id), CALLER)
    assert uows.committed.table("webhooks") == before
