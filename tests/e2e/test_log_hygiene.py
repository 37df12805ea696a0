"""A live server's whole log, after keyed requests, WebSocket connections, a webhook, a
sale with a customer and a forced database error: every line is JSON, and no key, token,
ticket, secret, customer reference or contact appears in any of them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text
from websockets.exceptions import InvalidStatus

from tests.conftest import ADMIN_KEY, Databases, LiveServer, start_server, stop_server
from tests.factories import create_api_key, create_webhook, execute_sql, line, stocked


class _Receiver:
    """A webhook receiver on a free port, counting what it gets."""

    def __init__(self) -> None:
        received = self.received = [0]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received[0] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    made = _Receiver()
    try:
        yield made
    finally:
        made.close()


def _tag(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


async def _refuse_contacts_starting(database_url: str, backend: str, prefix: str) -> None:
    """A real database error on the sale path: the customer's row is refused by the
    database itself (PostgreSQL's message then quotes the failing row)."""
    if backend == "postgres":
        await execute_sql(database_url, text(
            "ALTER TABLE customers ADD CONSTRAINT ck_log_hygiene "
            f"CHECK (contact IS NULL OR contact NOT LIKE '{prefix}%')"))
    else:
        await execute_sql(database_url, text(
            "CREATE TRIGGER log_hygiene BEFORE INSERT ON customers "
            f"WHEN NEW.contact LIKE '{prefix}%' "
            "BEGIN SELECT RAISE(ABORT, 'contact refused'); END"))


async def _websockets(server: LiveServer, key: str, secrets: list[str]) -> None:
    base = server.base_url.replace("http://", "ws://") + "/v1/events/ws"
    async with websockets.connect(f"{base}?api_key={key}", open_timeout=10):
        pass
    for query in (f"api_key={secrets[0]}", f"ticket={secrets[1]}"):
        with pytest.raises(InvalidStatus):
            async with websockets.connect(f"{base}?{query}", open_timeout=10):
                pass


async def _ticket_streams(client: httpx.AsyncClient, server: LiveServer) -> list[str]:
    """Real tickets, each opening a stream (SSE, then WebSocket): both are logged."""
    tickets = []
    for _ in range(2):
        answer = await client.post("/v1/events/tickets")
        assert answer.status_code == 201, answer.text
        tickets.append(answer.json()["ticket"])
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as anonymous, \
            anonymous.stream("GET", "/v1/events/stream",
                             params={"ticket": tickets[0]}) as response:
        assert response.status_code == 200
    base = server.base_url.replace("http://", "ws://") + "/v1/events/ws"
    async with websockets.connect(f"{base}?ticket={tickets[1]}", open_timeout=10):
        pass
    return tickets


async def _keyed_requests(client: httpx.AsyncClient, key: str, token: str) -> None:
    for headers, params in (({"X-API-Key": key}, {}),
                            ({"Authorization": f"Bearer {token}"}, {}),
                            ({}, {"api_key": key}), ({}, {"access_token": token})):
        response = await client.get("/v1/products", headers={"X-API-Key": "", **headers},
                                    params=params)
        assert response.status_code in (200, 401, 422), response.text


async def _wait_for(condition: Any, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(0.1)


async def test_no_credential_or_customer_reaches_the_log(
        backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory,
        receiver: _Receiver) -> None:
    url = await databases.new(backend)
    server = start_server(url, tmp_path_factory.mktemp("logs"), extra_env={
        "STOCKLINE_LOG_LEVEL": "info", "STOCKLINE_LOG_FORMAT": "json",
        "STOCKLINE_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
        "STOCKLINE_WEBHOOK_ALLOW_PRIVATE": "true"})  # the receiver is on 127.0.0.1
    refused = _tag("refuse-")
    kept = {"admin key": ADMIN_KEY, "token": _tag("tok_"), "hook token": _tag("hook"),
            "wrong key": _tag("sk_wrong_"), "ticket": _tag("tkt_"),
            "customer": _tag("LOG-"), "contact": _tag("jo.") + "@example.com",
            "refused customer": _tag("LOG-"), "refused contact": refused + "@example.com"}
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60,
                                     headers={"X-API-Key": ADMIN_KEY}) as client:
            kept["key"] = (await create_api_key(client, "manager"))["key"]
            await create_webhook(
                client, f"http://127.0.0.1:{receiver.port}/hook?token={kept['hook token']}",
                ["sale.recorded"])
            await _keyed_requests(client, kept["key"], kept["token"])
            await _websockets(server, kept["key"], [kept["wrong key"], kept["ticket"]])
            kept["SSE ticket"], kept["WebSocket ticket"] = await _ticket_streams(client, server)
            store, (sku,) = await stocked(client, 10)
            sale = await client.post("/v1/sales/record", json={
                "location_id": store, "lines": [line(sku)],
                "customer": {"ref": kept["customer"], "contact": kept["contact"]}})
            assert sale.status_code == 201, sale.text
            await _wait_for(lambda: receiver.received[0] >= 1)
            await _refuse_contacts_starting(url, backend, "refuse-")
            failed = await client.post("/v1/sales/record", json={
                "location_id": store, "lines": [line(sku)],
                "customer": {"ref": kept["refused customer"],
                             "contact": kept["refused contact"]}})
            assert failed.status_code == 500, failed.text
    finally:
        stop_server(server)
    lines = [line for line in server.log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert all(isinstance(record, dict) for record in records)
    whole = "\n".join(lines)
    found = {what: value for what, value in kept.items() if value in whole}
    assert not found, found
    # What the log had to say about each of them is there, with the values left out.
    loggers = {record.get("logger") for record in records}
    assert {"uvicorn.error", "httpx"} <= loggers, loggers
    assert any("WebSocket /v1/events/ws?api_key=***" in str(record.get("event"))
               for record in records)
    assert any(record.get("query") == "api_key=***" for record in records)
    assert any(record.get("query") == "ticket=***" for record in records)
    assert any("/hook?token=***" in str(record.get("event")) for record in records)
    failure = next(r for r in records if r.get("event") == "unhandled_error")
    assert failure["exception"], failure
