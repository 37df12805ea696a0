"""Webhooks over HTTP, on SQLite and PostgreSQL, against a real local receiver.

The app runs in process on a database of its own, with retries shortened to fractions of
a second and the give-up span to a few seconds, so a "day" of failures takes seconds.
Every delivery is checked against the event log: each matching event arrives, in id
order per webhook, with a signature that verifies; a failed request is never followed
by a later event before the earlier one is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest

from stockline.adapters.bus import EventFilter, EventRecord
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.domain.webhooks import verify_signature
from tests.conftest import ADMIN_KEY, Databases, free_port
from tests.factories import (
    admin_client,
    assert_problem,
    collect,
    create_product,
    create_store,
    create_webhook,
    deliveries,
    error_fields,
    line,
    random_code,
    receive,
    record_sale,
)

GIVE_UP_SECONDS = 6.0  # a loaded machine once took 3 s over one attempt to connect
HOOKS = "/v1/webhooks"


# -- a receiver --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    """One request a WebhookReceiver got, and the status it answered."""

    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def event_id(self) -> int:
        return int(self.headers["x-stockline-event-id"])

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class WebhookReceiver:
    """A local HTTP endpoint (a thread on a free 127.0.0.1 port) recording every POST.

    It answers ``failure_status`` to the first ``fail_first`` requests, to every request
    whose number (from 0) is in ``fail_numbers``, and to everything while ``down`` is set;
    200 otherwise, each answer after ``delay`` seconds.
    """

    def __init__(self, *, fail_first: int = 0, fail_numbers: frozenset[int] = frozenset(),
                 failure_status: int = 503, delay: float = 0.0) -> None:
        self.fail_first, self.fail_numbers = fail_first, fail_numbers
        self.failure_status, self.delay = failure_status, delay
        self.down = False
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (killed): no request
                    return
                with receiver._lock:
                    n = len(receiver.requests)
                    failing = (receiver.down or n < receiver.fail_first
                               or n in receiver.fail_numbers)
                    status = receiver.failure_status if failing else 200
                    receiver.requests.append(Received(
                        {k.lower(): v for k, v in self.headers.items()}, body, status,
                        time.time()))
                time.sleep(receiver.delay)
                answer = b"try again later" if failing else b"ok"
                with contextlib.suppress(ConnectionError):  # the sender may be gone (killed)
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def seen(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they came."""
        return [r for r in self.seen() if r.ok]

    def delivered_ids(self) -> list[int]:
        return [r.event_id for r in self.delivered()]


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], *,
                     within: float = 20.0, what: str = "") -> None:
    """Wait until ``check`` holds (it may be async); fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


def assert_delivered_in_order(receiver: WebhookReceiver, secret: str,
                              expected: list[EventRecord]) -> None:
    """Every expected event delivered once, in id order, as the log has it, signed; and no
    request ever went out for an event before every earlier one was delivered."""
    requests = receiver.seen()
    tried = [r.event_id for r in requests]
    assert tried == sorted(tried), f"a later event was sent before an earlier one: {tried}"
    delivered = [r for r in requests if r.ok]
    assert [r.event_id for r in delivered] == [e.id for e in expected]
    for request, event in zip(delivered, expected, strict=True):
        assert request.body == event.to_json()
        assert orjson.loads(request.body)["id"] == event.id
        assert request.headers["x-stockline-event-type"] == event.type
        assert request.headers["content-type"] == "application/json"
        assert verify_signature(secret, request.headers["x-stockline-signature"],
                                request.body, now=request.at)
        assert not verify_signature(secret + "x", request.headers["x-stockline-signature"],
                                    request.body, now=request.at)


# -- an app of its own ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Hooks:
    client: httpx.AsyncClient
    container: Container

    async def logged(self, location_id: str, count: int) -> list[EventRecord]:
        """The events at a location, once the relay has logged ``count`` of them."""
        found: list[EventRecord] = []

        async def enough() -> bool:
            found[:] = await self.container.queries.events_after(
                0, EventFilter(location_ids=frozenset({location_id})), 10_000)
            return len(found) >= count

        await eventually(enough, what=f"{count} events logged at {location_id}")
        assert len(found) == count, found
        return found

    async def webhook(self, webhook_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{HOOKS}/{webhook_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
async def hooks(backend: str, databases: Databases,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hooks]:
    settings = Settings(database_url=await databases.new(backend), admin_key=ADMIN_KEY,
                        env="test", log_level="warning", var_dir=tmp_path_factory.mktemp("var"),
                        webhook_retry_base_seconds=0.05, webhook_retry_cap_seconds=0.2,
                        webhook_give_up_after_hours=GIVE_UP_SECONDS / 3600,
                        webhook_poll_interval_seconds=0.05, webhook_idle_poll_seconds=0.2,
                        webhook_timeout_seconds=2,
                        webhook_allow_private=True)  # the receivers are on 127.0.0.1
    container = bootstrap(settings)
    await container.start(jobs=False)
    try:
        async with admin_client(settings, container) as client:
            yield Hooks(client, container)
    finally:
        await container.close()


async def place(client: httpx.AsyncClient) -> tuple[str, str]:
    """A new store and a new product (neither has made an event at the store yet)."""
    return (await create_store(client))["code"], (await create_product(client))["sku"]


async def changes(client: httpx.AsyncClient, store: str, sku: str, count: int) -> None:
    for _ in range(count):
        await receive(client, store, sku, 1)


async def all_delivered(client: httpx.AsyncClient, webhook_id: str,
                        count: int) -> list[dict[str, Any]]:
    """The delivery log once ``count`` deliveries are recorded as delivered."""
    log: list[dict[str, Any]] = []

    async def done() -> bool:
        log[:] = await deliveries(client, webhook_id)
        return len(log) >= count and all(d["status"] == "delivered" for d in log)

    await eventually(done, what=f"{count} deliveries recorded as delivered")
    assert len(log) == count, log
    return log


# -- subscriptions ------------------------------------------------------------------------------

async def test_the_secret_is_shown_once_and_never_listed(hooks: Hooks) -> None:
    client = hooks.client
    store, _ = await place(client)
    secret = "s3cret-" + random_code("K")
    created = await create_webhook(client, "https://example.com/in",
                                   ["sale.recorded", "inventory.changed"],
                                   location_ids=[store], secret=secret)
    assert created["secret"] == secret
    assert created["status"] == "active" and created["paused_reason"] is None
    assert created["event_types"] == ["inventory.changed", "sale.recorded"]
    assert created["location_ids"] == [store]
    one = await hooks.webhook(created["id"])
    assert "secret" not in one
    assert one == {k: v for k, v in created.items() if k != "secret"}
    listed = await collect(client, HOOKS)
    assert created["id"] in [w["id"] for w in listed]
    assert all("secret" not in w for w in listed)
    await client.delete(f"{HOOKS}/{created['id']}")


async def test_a_secret_is_made_when_none_is_given(hooks: Hooks) -> None:
    first = await create_webhook(hooks.client, "http://example.com/a")
    second = await create_webhook(hooks.client, "http://example.com/a")
    assert first["secret"].startswith("whsec_") and len(first["secret"]) > 32
    assert first["secret"] != second["secret"]
    assert first["event_types"] == ["*"] and first["location_ids"] is None
    for made in (first, second):
        await hooks.client.delete(f"{HOOKS}/{made['id']}")


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://example.com/x"}, "url"),
    ({"url": "example.com/x"}, "url"),
    ({"url": "https://"}, "url"),
    ({"url": "https://user:pw@example.com/x"}, "url"),
    ({"url": "https://example.com/x#part"}, "url"),
    ({"url": "https://example.com:port/x"}, "url"),
    ({"url": "https://exa mple.com/x"}, "url"),
    ({"event_types": ["inventory.exploded"]}, "event_types"),
    ({"event_types": []}, "event_types"),
    ({"event_types": ["*", "sale.recorded"]}, "event_types"),
    ({"event_types": "sale.recorded"}, "event_types"),
    ({"location_ids": []}, "location_ids"),
    ({"location_ids": ["not a code"]}, "location_ids.0"),
    ({"secret": "too-short"}, "secret"),
    ({"secret": "has spaces in it, sixteen+"}, "secret"),
    ({"status": "paused"}, "status"),
    ({"id": "whk_mine"}, "id"),
])
async def test_bad_subscriptions_are_422(hooks: Hooks, body: dict[str, Any],
                                         field: str) -> None:
    full = {"url": "https://example.com/in", "event_types": ["*"], **body}
    response = await hooks.client.post(HOOKS, json=full)
    problem = assert_problem(response, 422, "validation_error")
    assert field in error_fields(problem)


async def test_an_unknown_location_is_404_and_nothing_is_made(hooks: Hooks) -> None:
    before = {w["id"] for w in await collect(hooks.client, HOOKS)}
    missing = random_code("NOWHERE")
    response = await hooks.client.post(HOOKS, json={
        "url": "https://example.com/in", "event_types": ["*"], "location_ids": [missing]})
    assert assert_problem(response, 404, "not_found")["key"] == missing
    assert {w["id"] for w in await collect(hooks.client, HOOKS)} == before


async def test_unknown_webhooks_are_404(hooks: Hooks) -> None:
    client = hooks.client
    for response in (await client.get(f"{HOOKS}/whk_nope"),
                     await client.delete(f"{HOOKS}/whk_nope"),
                     await client.post(f"{HOOKS}/whk_nope/resume"),
                     await client.get(f"{HOOKS}/whk_nope/deliveries"),
                     await client.post(f"{HOOKS}/whk_nope/deliveries/1/redeliver")):
        assert_problem(response, 404, "not_found")
    assert_problem(await client.get(f"{HOOKS}/bad%20id"), 422, "validation_error")


async def test_creating_with_an_idempotency_key_makes_one_webhook(hooks: Hooks) -> None:
    client, key = hooks.client, {"Idempotency-Key": random_code("IK")}
    body = {"url": "https://example.com/once", "event_types": ["product.changed"]}
    first = await client.post(HOOKS, json=body, headers=key)
    again = await client.post(HOOKS, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "secret": None}  # the secret is shown once
    assert [w["id"] for w in await collect(client, HOOKS)].count(first.json()["id"]) == 1
    await client.delete(f"{HOOKS}/{first.json()['id']}")


async def test_resuming_an_active_webhook_is_409(hooks: Hooks) -> None:
    made = await create_webhook(hooks.client, "https://example.com/in")
    response = await hooks.client.post(f"{HOOKS}/{made['id']}/resume")
    assert assert_problem(response, 409, "invalid_state")["state"] == "active"
    await hooks.client.delete(f"{HOOKS}/{made['id']}")


# -- deliveries ---------------------------------------------------------------------------------

async def test_every_event_arrives_once_in_order_signed(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver() as receiver:
        made = await create_webhook(client, receiver.url, location_ids=[store])
        await changes(client, store, sku, 15)
        await record_sale(client, store, [line(sku, 2)])
        expected = await hooks.logged(store, 15 + 2)  # receipts, a sale, its level change
        await eventually(lambda: len(receiver.delivered()) >= len(expected),
                         what="every event delivered")
        log = await all_delivered(client, made["id"], len(expected))
        await asyncio.sleep(0.2)  # nothing more, nothing twice
        assert_delivered_in_order(receiver, made["secret"], expected)
        on_hand = [orjson.loads(r.body)["data"]["on_hand"] for r in receiver.delivered()
                   if r.headers["x-stockline-event-type"] == "inventory.changed"]
        assert on_hand == [*range(1, 16), 13]
        assert [d["event_id"] for d in log] == [e.id for e in expected]
        assert all(d["attempts"] == 1 and len(d["attempt_log"]) == 1 for d in log)
    await client.delete(f"{HOOKS}/{made['id']}")


async def test_filters_pick_the_events_of_a_webhook(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    other, _ = await place(client)
    with WebhookReceiver() as receiver:
        made = await create_webhook(client, receiver.url, ["sale.recorded"],
                                    location_ids=[store])
        await changes(client, store, sku, 3)
        await receive(client, other, sku, 5)
        await record_sale(client, other, [line(sku)])
        sale = await record_sale(client, store, [line(sku)])
        await create_product(client)  # product.changed: no location, not sent
        await eventually(lambda: len(receiver.delivered()) >= 1, what="the sale delivered")
        await asyncio.sleep(0.3)
        bodies = [orjson.loads(r.body) for r in receiver.delivered()]
        assert [(b["type"], b["location_id"], b["data"]["sale_id"]) for b in bodies] == [
            ("sale.recorded", store, sale["id"])]
    await client.delete(f"{HOOKS}/{made['id']}")


async def test_a_failing_receiver_gets_retries_then_every_event_in_order(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver(fail_first=3, fail_numbers=frozenset({6, 7, 11})) as receiver:
        made = await create_webhook(client, receiver.url, location_ids=[store])
        await changes(client, store, sku, 10)
        expected = await hooks.logged(store, 10)
        await eventually(lambda: len(receiver.delivered()) >= 10, what="all delivered")
        log = await all_delivered(client, made["id"], 10)
        assert_delivered_in_order(receiver, made["secret"], expected)
        assert len(receiver.seen()) == 10 + 6
        first = log[0]
        assert first["status"] == "delivered" and first["attempts"] == 4
        assert [a["status_code"] for a in first["attempt_log"]] == [503, 503, 503, 200]
        assert [a["attempt"] for a in first["attempt_log"]] == [1, 2, 3, 4]
        assert first["attempt_log"][0]["error"] == "answered HTTP 503"
        assert first["attempt_log"][-1]["error"] is None
        assert first["last_status_code"] == 200 and first["last_error"] is None
        assert first["next_attempt_at"] is None and first["delivered_at"] is not None
        times = [a["at"] for a in first["attempt_log"]]
        assert times == sorted(times)
        assert sum(d["attempts"] for d in log) == len(receiver.seen())
        assert (await hooks.webhook(made["id"]))["status"] == "active"
    await client.delete(f"{HOOKS}/{made['id']}")


async def test_a_receiver_down_too_long_pauses_the_webhook_and_keeps_everything(
        hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver() as receiver:
        receiver.down = True
        made = await create_webhook(client, receiver.url, location_ids=[store])
        await changes(client, store, sku, 3)
        started = time.monotonic()

        async def paused() -> bool:
            return (await hooks.webhook(made["id"]))["status"] == "paused"

        await eventually(paused, within=GIVE_UP_SECONDS + 10, what="the webhook paused")
        assert time.monotonic() - started >= GIVE_UP_SECONDS * 0.9
        webhook = await hooks.webhook(made["id"])
        assert "answered HTTP 503" in webhook["paused_reason"]
        tries = len(receiver.seen())
        assert tries >= 5 and {r.event_id for r in receiver.seen()} == {
            (await hooks.logged(store, 3))[0].id}  # only the oldest was tried
        await changes(client, store, sku, 2)  # queued while paused
        await asyncio.sleep(0.5)
        assert len(receiver.seen()) == tries  # a paused webhook is not sent to
        log = await deliveries(client, made["id"])
        assert [d["status"] for d in log] == ["pending"] * 5
        assert all(d["next_attempt_at"] is None for d in log)
        assert log[0]["attempts"] == tries == len(log[0]["attempt_log"])
        assert [d["attempts"] for d in log[1:]] == [0, 0, 0, 0]
        assert log[0]["last_error"] == "answered HTTP 503"

        receiver.down = False
        resumed = await client.post(f"{HOOKS}/{made['id']}/resume")
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["status"] == "active"
        assert resumed.json()["paused_reason"] is None
        expected = await hooks.logged(store, 5)
        await eventually(lambda: len(receiver.delivered()) >= 5, what="the rest delivered")
        log = await all_delivered(client, made["id"], 5)
        assert_delivered_in_order(receiver, made["secret"], expected)
        assert log[0]["attempts"] == tries + 1
    await client.delete(f"{HOOKS}/{made['id']}")


async def test_an_unreachable_receiver_is_logged_and_retried(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    made = await create_webhook(client, f"http://127.0.0.1:{free_port()}/gone",
                                location_ids=[store])
    await changes(client, store, sku, 1)

    async def tried_twice() -> bool:
        log = await deliveries(client, made["id"])
        return bool(log) and log[0]["attempts"] >= 2

    await eventually(tried_twice, what="two attempts")
    (entry,) = await deliveries(client, made["id"])
    assert entry["status"] == "pending"
    assert entry["last_status_code"] is None and entry["last_error"] == "could not connect"
    # A closed port reads as any connection failure does: nothing tells it from a filtered one.
    assert {(a["status_code"], a["error"]) for a in entry["attempt_log"]} == {
        (None, "could not connect")}
    deleted = await client.delete(f"{HOOKS}/{made['id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "deleted"
    assert deleted.json()["discarded_deliveries"] == 1


async def test_a_deleted_webhook_is_gone_and_gets_nothing_more(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver() as receiver:
        made = await create_webhook(client, receiver.url, location_ids=[store])
        await changes(client, store, sku, 2)
        # recorded as delivered, not only received: the receiver answers before the
        # dispatcher writes down the outcome
        await all_delivered(client, made["id"], 2)
        deleted = await client.delete(f"{HOOKS}/{made['id']}")
        assert deleted.json()["discarded_deliveries"] == 0
        await changes(client, store, sku, 2)
        await asyncio.sleep(0.3)
        assert len(receiver.seen()) == 2
    assert_problem(await client.get(f"{HOOKS}/{made['id']}"), 404, "not_found")
    assert_problem(await client.get(f"{HOOKS}/{made['id']}/deliveries"), 404, "not_found")
    assert_problem(await client.delete(f"{HOOKS}/{made['id']}"), 404, "not_found")
    assert made["id"] not in [w["id"] for w in await collect(client, HOOKS)]


async def test_redeliver_sends_an_event_again_before_later_ones(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver() as receiver:
        made = await create_webhook(client, receiver.url, location_ids=[store])
        await changes(client, store, sku, 3)
        await eventually(lambda: len(receiver.delivered()) >= 3, what="delivered")
        first = (await deliveries(client, made["id"]))[0]
        response = await client.post(
            f"{HOOKS}/{made['id']}/deliveries/{first['id']}/redeliver")
        assert response.status_code == 202, response.text
        assert response.json()["status"] in ("pending", "delivered")
        await eventually(lambda: len(receiver.delivered()) >= 4, what="sent again")
        again = receiver.delivered()[-1]
        assert again.event_id == first["event_id"]
        assert again.body == receiver.delivered()[0].body
        assert verify_signature(made["secret"], again.headers["x-stockline-signature"],
                                again.body, now=again.at)
        one: dict[str, Any] = {}

        async def recorded() -> bool:
            path = f"{HOOKS}/{made['id']}/deliveries/{first['id']}"
            one.update((await client.get(path)).json())
            return bool(one["status"] == "delivered")

        await eventually(recorded, what="the redelivery recorded")
        assert one["attempts"] == 2
        assert [a["status_code"] for a in one["attempt_log"]] == [200, 200]

        other = await create_webhook(client, receiver.url, location_ids=[store])
        wrong = await client.post(f"{HOOKS}/{other['id']}/deliveries/{first['id']}/redeliver")
        assert_problem(wrong, 404, "not_found")
        await client.delete(f"{HOOKS}/{other['id']}")
    await client.delete(f"{HOOKS}/{made['id']}")


async def test_redeliver_on_a_paused_webhook_is_409(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver() as receiver:
        receiver.down = True
        made = await create_webhook(client, receiver.url, location_ids=[store])
        await changes(client, store, sku, 1)

        async def paused() -> bool:
            return (await hooks.webhook(made["id"]))["status"] == "paused"

        await eventually(paused, within=GIVE_UP_SECONDS + 10, what="paused")
        (entry,) = await deliveries(client, made["id"])
        response = await client.post(f"{HOOKS}/{made['id']}/deliveries/{entry['id']}/redeliver")
        assert assert_problem(response, 409, "invalid_state")["state"] == "paused"
    deleted = await client.delete(f"{HOOKS}/{made['id']}")  # a paused one can be deleted
    assert deleted.json()["discarded_deliveries"] == 1


async def test_the_delivery_log_pages_and_filters(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver() as receiver:
        made = await create_webhook(client, receiver.url, ["inventory.changed"],
                                    location_ids=[store])
        await changes(client, store, sku, 5)
        await eventually(lambda: len(receiver.delivered()) >= 5, what="delivered")
        receiver.down = True
        await changes(client, store, sku, 2)
        path = f"{HOOKS}/{made['id']}/deliveries"

        async def two_pending() -> bool:
            return len(await collect(client, path, {"status": "pending"})) == 2

        await eventually(two_pending, what="two pending")
        page = (await client.get(path, params={"limit": 2})).json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        everything = await collect(client, path, limit=2)
        ids = [d["event_id"] for d in everything]
        assert ids == sorted(ids, reverse=True) and len(ids) == 7  # newest first
        delivered = await collect(client, path, {"status": "delivered"})
        pending = await collect(client, path, {"status": "pending"})
        assert len(delivered) == 5 and len(pending) == 2
        assert max(d["event_id"] for d in delivered) < min(d["event_id"] for d in pending)
        for entry in everything:
            assert entry["webhook_id"] == made["id"]
            assert entry["event_type"] == "inventory.changed"
            assert set(entry) >= {"id", "status", "attempts", "next_attempt_at",
                                  "last_attempt_at", "last_status_code", "last_error",
                                  "delivered_at", "created_at", "attempt_log"}
        waiting = pending[-1]  # the oldest pending: the one being retried
        assert waiting["attempts"] >= 1 and waiting["last_status_code"] == 503
        assert waiting["next_attempt_at"] is not None
        assert_problem(await client.get(path, params={"status": "lost"}), 422,
                       "validation_error")
        assert_problem(await client.get(path, params={"cursor": "nonsense"}), 422,
                       "validation_error")
        assert_problem(await client.get(f"{path}/999999999"), 404, "not_found")
    await client.delete(f"{HOOKS}/{made['id']}")


async def test_a_slow_receiver_does_not_hold_up_another_webhook(hooks: Hooks) -> None:
    client = hooks.client
    store, sku = await place(client)
    with WebhookReceiver(delay=1.0) as slow, WebhookReceiver() as quick:
        made = [await create_webhook(client, r.url, location_ids=[store])
                for r in (slow, quick)]
        await changes(client, store, sku, 8)
        await eventually(lambda: len(quick.delivered()) >= 8, what="the quick one served")
        # The quick one had all eight before the slow one (a second each, one at a time)
        # was through its eight: it never waited behind it, however loaded the machine.
        assert len(slow.seen()) < 8
        expected = await hooks.logged(store, 8)
        await all_delivered(client, made[1]["id"], 8)
        assert_delivered_in_order(quick, made[1]["secret"], expected)
    for webhook in made:
        await client.delete(f"{HOOKS}/{webhook['id']}")


async def test_a_burst_of_concurrent_writes_arrives_in_log_order(hooks: Hooks) -> None:
    client = hooks.client
    store = (await create_store(client))["code"]
    skus = [(await create_product(client))["sku"] for _ in range(3)]
    for sku in skus:  # the levels first: concurrent first receipts are not the point here
        await receive(client, store, sku, 1)
    await hooks.logged(store, 3)  # logged before the webhook exists: not for it
    with WebhookReceiver(fail_numbers=frozenset({5, 17, 18})) as receiver:
        made = await create_webhook(client, receiver.url, ["inventory.changed"],
                                    location_ids=[store])
        await asyncio.gather(*(receive(client, store, skus[n % 3], 1) for n in range(45)))
        expected = (await hooks.logged(store, 48))[3:]
        await all_delivered(client, made["id"], 45)
        assert_delivered_in_order(receiver, made["secret"], expected)
        for sku in skus:  # each level's versions arrive in the order they were made
            versions = [orjson.loads(r.body)["data"]["version"] for r in receiver.delivered()
                        if orjson.loads(r.body)["sku"] == sku]
            assert versions == sorted(versions) and len(versions) == 15
    await client.delete(f"{HOOKS}/{made['id']}")
