"""Webhooks: subscriptions to events, their rules, the signature and the retry schedule.

A subscription names a URL, the event types it wants (or ``*``) and optionally the
locations it cares about. Each matching event becomes one delivery, sent as a POST whose
body is the event as the API defines it, signed with the subscription's secret:
``X-Stockline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
Deliveries of one subscription go out in event order: a later one waits until every
earlier one is delivered. A failing delivery is retried with exponential backoff and
jitter; once it has been failing for the give-up span the subscription is paused with a
reason. Nothing is dropped: paused deliveries wait, and resuming sends them in order.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from stockline.domain.errors import InvalidInput
from stockline.domain.events import Event
from stockline.domain.states import StateMachine
from stockline.domain.values import is_code

ALL_TYPES = "*"
SECRET_MIN_LENGTH = 16
SECRET_MAX_LENGTH = 200
URL_MAX_LENGTH = 2000
SIGNATURE_HEADER = "X-Stockline-Signature"
EVENT_ID_HEADER = "X-Stockline-Event-Id"
EVENT_TYPE_HEADER = "X-Stockline-Event-Type"
DELIVERY_ID_HEADER = "X-Stockline-Delivery-Id"


def _event_types() -> frozenset[str]:
    """The type of every concrete event class (the ones that name their TYPE)."""
    found: set[str] = set()
    pending: list[type[Event]] = [Event]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "TYPE" in vars(cls):
            found.add(cls.TYPE)
    return frozenset(found)


EVENT_TYPES = _event_types()


class WebhookStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DELETED = "deleted"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"


WEBHOOKS = StateMachine("webhook", {
    WebhookStatus.ACTIVE: frozenset({"pause", "delete", "redeliver"}),
    WebhookStatus.PAUSED: frozenset({"resume", "delete"}),
})


# -- commands -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class CreateWebhook:
    url: str
    event_types: tuple[str, ...]
    location_ids: tuple[str, ...] | None = None
    secret: str | None = None  # generated when left out


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteWebhook:
    webhook_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeWebhook:
    webhook_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RedeliverDelivery:
    webhook_id: str
    delivery_id: int


# -- the subscription -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    id: str
    url: str
    event_types: tuple[str, ...]
    location_ids: tuple[str, ...] | None
    secret: str
    status: WebhookStatus
    paused_reason: str | None
    actor: str
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str, location_id: str | None) -> bool:
        """Whether an event of this type at this location is for this subscription.

        With a location filter, events that belong to no location (``product.changed``)
        are not sent.
        """
        if ALL_TYPES not in self.event_types and event_type not in self.event_types:
            return False
        return self.location_ids is None or location_id in self.location_ids

    @property
    def takes_deliveries(self) -> bool:
        """Active and paused subscriptions both queue deliveries: a pause drops nothing."""
        return self.status is not WebhookStatus.DELETED

    def paused(self, reason: str, now: datetime) -> Webhook:
        WEBHOOKS.check(self.id, self.status, "pause")
        return replace(self, status=WebhookStatus.PAUSED, paused_reason=reason[:500],
                       updated_at=now)

    def resumed(self, now: datetime) -> Webhook:
        WEBHOOKS.check(self.id, self.status, "resume")
        return replace(self, status=WebhookStatus.ACTIVE, paused_reason=None, updated_at=now)

    def deleted(self, now: datetime) -> Webhook:
        WEBHOOKS.check(self.id, self.status, "delete")
        return replace(self, status=WebhookStatus.DELETED, updated_at=now)


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, no credentials and no fragment."""
    if len(url) > URL_MAX_LENGTH:
        raise InvalidInput("url", f"at most {URL_MAX_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidInput("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise InvalidInput("url", f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput("url", "must be an http:// or https:// URL")
    if not parts.hostname:
        raise InvalidInput("url", "must name a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url", "must not carry credentials; the signature authenticates "
                                  "deliveries")
    if parts.fragment:
        raise InvalidInput("url", "must not have a #fragment")
    return url


def check_event_types(event_types: Sequence[str]) -> tuple[str, ...]:
    """Known types (or ``*`` alone, for every type), each once, sorted."""
    if not event_types:
        raise InvalidInput("event_types", "name at least one event type, or '*'")
    unknown = sorted(set(event_types) - EVENT_TYPES - {ALL_TYPES})
    if unknown:
        raise InvalidInput("event_types", f"unknown event type '{unknown[0]}'; known: "
                                          f"{', '.join(sorted(EVENT_TYPES))}, or '*'")
    if ALL_TYPES in event_types:
        if len(set(event_types)) > 1:
            raise InvalidInput("event_types", "'*' means every type: give it alone")
        return (ALL_TYPES,)
    return tuple(sorted(set(event_types)))


def check_location_ids(location_ids: Sequence[str] | None) -> tuple[str, ...] | None:
    """None for every location; otherwise at least one location code, each once."""
    if location_ids is None:
        return None
    if not location_ids:
        raise InvalidInput("location_ids", "leave it out for every location, or name one")
    bad = [code for code in location_ids if not is_code(code)]
    if bad:
        raise InvalidInput("location_ids", f"'{bad[0]}' is not a location code")
    return tuple(sorted(set(location_ids)))


def check_secret(secret: str | None) -> str:
    """A given secret of 16-200 printable ASCII characters, or a new random one."""
    if secret is None:
        return new_secret()
    if not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH:
        raise InvalidInput("secret", f"between {SECRET_MIN_LENGTH} and {SECRET_MAX_LENGTH} "
                                     "characters")
    if not all(32 < ord(c) < 127 for c in secret):
        raise InvalidInput("secret", "printable ASCII characters only, no spaces")
    return secret


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


# -- deliveries -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return succeeded(self.status_code, self.error)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One event for one subscription, and how far sending it has got."""

    id: int
    webhook_id: str
    event_id: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    event_type: str | None = None  # None once the event has left the event log
    attempt_log: tuple[Attempt, ...] = ()


def succeeded(status_code: int | None, error: str | None) -> bool:
    """A 2xx answer is a delivery; anything else (3xx included) is a failure."""
    return error is None and status_code is not None and 200 <= status_code < 300


# -- the signature ---------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, *, now: float,
                     tolerance_seconds: float = 300.0) -> bool:
    """What a receiver checks: a ``v1`` matches and ``t`` is within the tolerance of now.

    The timestamp is signed too, so a captured delivery cannot be replayed later with a
    fresh ``t``. Several ``v1`` values are allowed (while a secret is being rotated).
    """
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


# -- retries ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, until a delivery has failed for ``give_up``.

    The n-th failure in a row waits ``min(cap, base * 2**(n-1))`` scaled by a random
    factor in ``[1 - jitter, 1]``, so retries of many subscriptions that failed together
    spread out, and no wait exceeds the cap. Retries go on until the first failure of the
    streak is ``give_up`` old: the last failure after that pauses the subscription. So
    retries cover at least ``give_up``.
    """

    base: timedelta
    cap: timedelta
    give_up: timedelta
    jitter: float = 0.5

    def delay(self, failures: int, rand: float) -> timedelta:
        """The wait after the ``failures``-th failure in a row; ``rand`` in [0, 1)."""
        raw = min(self.cap.total_seconds(),
                  self.base.total_seconds() * 2.0 ** min(max(failures - 1, 0), 62))
        return timedelta(seconds=raw * (1.0 - self.jitter * rand))

    def next_attempt(self, *, now: datetime, streak_started: datetime, failures: int,
                     rand: float) -> datetime | None:
        """When to try again after a failure at ``now``; None: give up (pause)."""
        if now - streak_started >= self.give_up:
            return None
        return now + self.delay(failures, rand)


def schedule(policy: RetryPolicy, start: datetime,
             rand: Callable[[], float]) -> list[datetime]:
    """The times a delivery that always fails is tried, from its first attempt at ``start``
    until the policy gives up (the last one is the attempt that pauses it)."""
    times, now = [start], start
    while (after := policy.next_attempt(now=now, streak_started=start, failures=len(times),
                                        rand=rand())) is not None:
        times.append(after)
        now = after
    return times


def pause_reason(*, failures: int, since: datetime, now: datetime, event_id: int,
                 last_error: str) -> str:
    hours = (now - since).total_seconds() / 3600
    return (f"event {event_id} failed {failures} attempts in a row over {hours:.2f} h "
            f"(last: {last_error}); pending deliveries are kept: resume to send them")[:500]
