"""Webhooks go to public addresses only, on SQLite and PostgreSQL.

A webhook aimed at loopback, a private network, link-local (the cloud metadata service)
or any other address that is not public is refused when it is made, and again when a
delivery connects (a name may resolve elsewhere by then); only an operator's
``STOCKLINE_WEBHOOK_ALLOW_PRIVATE`` lets them through. The delivery log keeps an
answer's status code or a short fixed reason, never what the receiver said, and never
which way a connection failed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from tests.conftest import ADMIN_KEY, Databases
from tests.e2e.test_webhooks import WebhookReceiver, eventually
from tests.factories import (
    admin_client,
    assert_problem,
    collect,
    create_product,
    create_store,
    create_webhook,
    deliveries,
    error_fields,
    receive,
)

HOOKS = "/v1/webhooks"
GIVE_UP_SECONDS = 2.0


@dataclass(frozen=True)
class Stockline:
    client: httpx.AsyncClient
    container: Container

    async def webhook(self, webhook_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{HOOKS}/{webhook_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def first_attempts(self, webhook_id: str, count: int) -> dict[str, Any]:
        """The oldest delivery, once it has been tried ``count`` times."""
        found: list[dict[str, Any]] = []

        async def tried() -> bool:
            found[:] = await deliveries(self.client, webhook_id)
            return bool(found) and found[0]["attempts"] >= count

        await eventually(tried, what=f"{count} attempts")
        return found[0]


@contextlib.asynccontextmanager
async def stockline(database_url: str, var_dir: Path, *, allow_private: bool,
                    events: bool = True) -> AsyncIterator[Stockline]:
    """The app in process; ``events``: with its relay and webhook dispatcher."""
    settings = Settings(database_url=database_url, admin_key=ADMIN_KEY, env="test",
                        log_level="warning", var_dir=var_dir,
                        webhook_allow_private=allow_private,
                        webhook_retry_base_seconds=0.05, webhook_retry_cap_seconds=0.2,
                        webhook_give_up_after_hours=GIVE_UP_SECONDS / 3600,
                        webhook_poll_interval_seconds=0.05, webhook_idle_poll_seconds=0.2,
                        webhook_timeout_seconds=2)
    container = bootstrap(settings)
    await container.start(events=events, jobs=False)
    try:
        async with admin_client(settings, container) as client:
            yield Stockline(client, container)
    finally:
        await container.close()


@pytest.fixture(scope="module")
async def refusing_url(backend: str, databases: Databases) -> str:
    return await databases.new(backend)


@pytest.fixture(scope="module")
async def refusing(refusing_url: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Stockline]:
    """Stockline as it runs by default: webhooks to public addresses only."""
    async with stockline(refusing_url, tmp_path_factory.mktemp("var"),
                         allow_private=False) as app:
        yield app


@pytest.fixture(scope="module")
async def allowing(backend: str, databases: Databases,
                   tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stockline]:
    """Stockline whose operator allows private destinations (a database of its own)."""
    async with stockline(await databases.new(backend), tmp_path_factory.mktemp("var"),
                         allow_private=True) as app:
        yield app


async def place(client: httpx.AsyncClient) -> tuple[str, str]:
    """A new store and a new product: a receipt of it there is the store's first event."""
    return (await create_store(client))["code"], (await create_product(client))["sku"]


# -- when a webhook is made ---------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://127.0.0.2/hook", "http://10.0.0.8/hook",
    "http://172.16.0.1/hook", "http://172.31.255.1/hook", "https://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]:9000/hook",
    "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0:8000/hook", "http://100.64.0.1/hook",
    "http://[fd00::1]/hook", "http://[fe80::1]/hook", "http://localhost:8080/hook",
    "http://LOCALHOST/hook", "http://127.1/hook", "http://2130706433/hook",
])
async def test_a_webhook_to_an_address_that_is_not_public_is_refused(
        refusing: Stockline, url: str) -> None:
    before = await collect(refusing.client, HOOKS)
    response = await refusing.client.post(HOOKS, json={"url": url, "event_types": ["*"]})
    problem = assert_problem(response, 422, "validation_error")
    assert error_fields(problem) == ["url"]
    assert "public address" in problem["detail"]
    assert await collect(refusing.client, HOOKS) == before


async def test_the_refusal_does_not_say_what_a_name_resolved_to(refusing: Stockline) -> None:
    response = await refusing.client.post(HOOKS, json={"url": "http://localhost/hook",
                                                       "event_types": ["*"]})
    detail = assert_problem(response, 422, "validation_error")["detail"]
    assert "localhost" in detail and "127.0.0.1" not in detail


async def test_a_name_that_does_not_resolve_is_taken_and_fails_at_delivery(
        refusing: Stockline) -> None:
    store, sku = await place(refusing.client)
    made = await create_webhook(refusing.client, "http://receiver.invalid/hook",
                                location_ids=[store])
    await receive(refusing.client, store, sku, 1)
    entry = await refusing.first_attempts(made["id"], 1)
    attempt = entry["attempt_log"][0]
    assert attempt["status_code"] is None and attempt["error"] == "could not connect"
    await refusing.client.delete(f"{HOOKS}/{made['id']}")


# -- when a delivery connects ---------------------------------------------------------------------

async def test_a_webhook_made_while_allowed_is_refused_at_delivery(
        refusing: Stockline, refusing_url: str, tmp_path: Path) -> None:
    """Made (say) before an upgrade, or while the operator allowed it, to a name that
    resolves to loopback: no delivery reaches it, each attempt is a failure with a fixed
    reason, retried and in the end given up like any other."""
    store, sku = await place(refusing.client)
    with WebhookReceiver() as receiver:
        port = urlsplit(receiver.url).port
        async with stockline(refusing_url, tmp_path, allow_private=True,
                             events=False) as allowed:
            made = await create_webhook(allowed.client, f"http://localhost:{port}/hook",
                                        location_ids=[store])
        await receive(refusing.client, store, sku, 1)
        entry = await refusing.first_attempts(made["id"], 2)

        async def paused() -> bool:
            return bool((await refusing.webhook(made["id"]))["status"] == "paused")

        await eventually(paused, within=GIVE_UP_SECONDS + 15, what="given up")
        assert receiver.seen() == []
    assert entry["status"] == "pending" and entry["last_status_code"] is None
    assert {(a["status_code"], a["error"]) for a in entry["attempt_log"]} == {
        (None, "destination not allowed")}
    assert "destination not allowed" in (await refusing.webhook(made["id"]))["paused_reason"]
    await refusing.client.delete(f"{HOOKS}/{made['id']}")


# -- what the delivery log keeps ------------------------------------------------------------------

class Redirector:
    """Answers every POST with a redirect to ``target``."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(307)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@contextlib.contextmanager
def redirecting(target: str) -> Iterator[Redirector]:
    redirector = Redirector(target)
    try:
        yield redirector
    finally:
        redirector.server.shutdown()
        redirector.server.server_close()


async def test_allowed_local_receivers_get_deliveries_and_their_answers_stay_theirs(
        allowing: Stockline) -> None:
    client = allowing.client
    store, sku = await place(client)
    with WebhookReceiver(fail_first=2) as receiver:  # answers "try again later", then 200
        made = await create_webhook(client, receiver.url, location_ids=[store])
        await receive(client, store, sku, 1)
        entry = await allowing.first_attempts(made["id"], 3)
        assert len(receiver.delivered()) == 1
    assert [(a["status_code"], a["error"]) for a in entry["attempt_log"]] == [
        (503, "answered HTTP 503"), (503, "answered HTTP 503"), (200, None)]
    assert b"try again later" not in orjson.dumps(entry)
    await client.delete(f"{HOOKS}/{made['id']}")


async def test_a_redirect_is_an_answer_and_is_not_followed(allowing: Stockline) -> None:
    client = allowing.client
    store, sku = await place(client)
    with WebhookReceiver() as inside, redirecting(inside.url) as redirector:
        made = await create_webhook(client, redirector.url, location_ids=[store])
        await receive(client, store, sku, 1)
        entry = await allowing.first_attempts(made["id"], 2)
        assert inside.seen() == []
    assert {(a["status_code"], a["error"]) for a in entry["attempt_log"]} == {
        (307, "answered HTTP 307")}
    await client.delete(f"{HOOKS}/{made['id']}")
