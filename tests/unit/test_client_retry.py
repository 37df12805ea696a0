"""stockline.client without a server (httpx MockTransport): retries keep the write's
Idempotency-Key, Retry-After is honoured, problems become typed exceptions, and the event
stream resumes from the last id without a duplicate."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stockline.client import (
    AsyncClient,
    Client,
    ConnectionFailed,
    Event,
    Forbidden,
    InsufficientStock,
    InvalidState,
    InventoryChange,
    Line,
    Money,
    NotFound,
    RateLimited,
    ServerError,
    StocklineError,
    StreamReset,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)

BASE = "http://stockline.test"
SALE = {"id": "sal_1", "location_id": "S1", "status": "completed", "units": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "total": {"amount": "10.00", "currency": "USD"},
        "lines": [{"line_no": 1, "sku": "A", "quantity": 1, "returned_quantity": 0,
                   "unit_price": {"amount": "10.00", "currency": "USD"},
                   "total": {"amount": "10.00", "currency": "USD"}}],
        "returns": [], "a_field_added_later": True}
LINE = Line("A", 1, Money(Decimal("10.00"), "USD"))
Answer = httpx.Response | Exception


def problem(status: int, code: str, headers: dict[str, str] | None = None,
            **extra: Any) -> httpx.Response:
    body = {"type": f"urn:stockline:problem:{code}", "title": code, "status": status,
            "detail": f"the {code} detail", "code": code, **extra}
    return httpx.Response(status, json=body, headers={
        "content-type": "application/problem+json", **(headers or {})})


class Script:
    """Answers requests in order from a script, and keeps every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def keys(self) -> list[str | None]:
        return [r.headers.get("idempotency-key") for r in self.requests]

    def client(self, **options: Any) -> Client:
        return Client(BASE, api_key="k", backoff=0.0, transport=httpx.MockTransport(self),
                      **options)

    def async_client(self, **options: Any) -> AsyncClient:
        async def handle(request: httpx.Request) -> httpx.Response:
            return self(request)
        return AsyncClient(BASE, api_key="k", backoff=0.0,
                           transport=httpx.MockTransport(handle), **options)


def dropped() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError("Server disconnected without sending a response.")


def test_a_write_retried_after_503_and_a_dropped_connection_keeps_its_key() -> None:
    script = Script(problem(503, "service_unavailable"), dropped(),
                    httpx.Response(201, json=SALE))
    with script.client() as api:
        sale = api.record_sale("S1", [LINE])
    assert sale.id == "sal_1" and sale.total.amount == Decimal("10.00")
    keys = script.keys()
    assert len(keys) == 3 and keys[0] is not None and len(set(keys)) == 1
    assert json.loads(script.requests[0].content) == {
        "location_id": "S1",
        "lines": [{"sku": "A", "quantity": 1,
                   "unit_price": {"amount": "10.00", "currency": "USD"}}]}
    assert script.requests[0].headers["x-api-key"] == "k"


def test_every_write_gets_its_own_key_unless_one_is_given() -> None:
    script = Script(*[httpx.Response(201, json=SALE)] * 3)
    with script.client() as api:
        api.record_sale("S1", [LINE])
        api.record_sale("S1", [LINE])
        api.record_sale("S1", [LINE], idempotency_key="pos-7-000123")
    first, second, given = script.keys()
    assert first and second and first != second and given == "pos-7-000123"


async def test_the_async_client_retries_with_the_same_key() -> None:
    script = Script(httpx.ConnectError("refused"), problem(429, "rate_limited"),
                    httpx.Response(201, json=SALE))
    async with script.async_client() as api:
        sale = await api.record_sale("S1", [LINE])
    assert sale.id == "sal_1"
    assert len(script.requests) == 3 and len(set(script.keys())) == 1


def test_reads_are_retried_too_without_a_key() -> None:
    level = {"location_id": "S1", "sku": "A", "on_hand": 3, "reserved": 1, "available": 2}
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(200, json=level))
    with script.client() as api:
        assert api.level("S1", "A").available == 2
    assert script.keys() == [None, None]


def test_retry_after_is_waited_for() -> None:
    script = Script(problem(429, "rate_limited", {"Retry-After": "1"}),
                    httpx.Response(201, json=SALE))
    began = time.monotonic()
    with script.client() as api:  # no backoff of its own: the wait is the header's
        api.record_sale("S1", [LINE])
    assert time.monotonic() - began >= 0.9
    assert len(script.requests) == 2


def test_a_retry_after_longer_than_the_client_waits_is_raised_with_it() -> None:
    script = Script(problem(429, "rate_limited", {"Retry-After": "3600"}))
    with script.client() as api, pytest.raises(RateLimited) as raised:
        api.record_sale("S1", [LINE])
    assert raised.value.retry_after == 3600 and raised.value.status == 429
    assert len(script.requests) == 1


def test_retries_are_bounded() -> None:
    script = Script(*[problem(503, "service_unavailable")] * 3)
    with script.client(retries=2) as api, pytest.raises(Unavailable):
        api.record_sale("S1", [LINE])
    assert len(script.requests) == 3
    script = Script(*[httpx.ConnectError("refused")] * 2)
    with script.client(retries=1) as api, pytest.raises(ConnectionFailed) as failed:
        api.get_sale("sal_1")
    assert failed.value.status == 0 and isinstance(failed.value.__cause__, httpx.ConnectError)


def test_a_refusal_is_not_retried() -> None:
    script = Script(problem(422, "validation_error",
                            errors=[{"field": "delta", "message": "give delta or quantity",
                                     "location": "body", "type": "value_error"}]))
    with script.client() as api, pytest.raises(ValidationFailed) as raised:
        api.update_inventory("S1", "A", delta=1, quantity=2, reason="count")
    assert len(script.requests) == 1
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("delta", "give delta or quantity")]


def test_the_first_try_still_running_is_waited_for() -> None:
    script = Script(problem(409, "idempotency_key_in_use"), httpx.Response(201, json=SALE))
    with script.client() as api:
        assert api.record_sale("S1", [LINE]).id == "sal_1"
    assert len(script.requests) == 2 and len(set(script.keys())) == 1


@pytest.mark.parametrize(("answer", "kind"), [
    (problem(404, "not_found", resource="sale", key="sal_9"), NotFound),
    (problem(403, "forbidden"), Forbidden),
    (problem(401, "unauthorized"), Unauthorized),
    (problem(409, "invalid_state", state="released"), InvalidState),
    (httpx.Response(502, text="<html>bad gateway</html>"), ServerError),
])
def test_problems_are_typed_by_their_code(answer: httpx.Response,
                                          kind: type[StocklineError]) -> None:
    with Script(answer).client() as api, pytest.raises(kind) as raised:
        api.get_sale("sal_9")
    assert raised.value.status == answer.status_code


def test_insufficient_stock_names_the_short_lines() -> None:
    short = problem(409, "insufficient_stock", location_id="S1",
                    lines=[{"sku": "A", "requested": 4, "available": 3}])
    with Script(short).client() as api, pytest.raises(InsufficientStock) as raised:
        api.record_sale("S1", [Line("A", 4, Money(Decimal("1"), "USD"))])
    error = raised.value
    assert (error.code, error.location_id) == ("insufficient_stock", "S1")
    assert [(x.sku, x.requested, x.available) for x in error.lines] == [("A", 4, 3)]


def test_lists_follow_the_cursor_to_the_last_page() -> None:
    def page(skus: list[str], cursor: str | None) -> httpx.Response:
        return httpx.Response(200, json={"items": [
            {"sku": s, "name": s, "category": "c"} for s in skus], "next_cursor": cursor})

    script = Script(page(["A", "B"], "c1"), page(["C", "D"], "c2"), page(["E"], None))
    with script.client() as api:
        found = [p.sku for p in api.products(category="c", attributes={"size": "42"},
                                             page_size=2)]
    assert found == ["A", "B", "C", "D", "E"]
    assert [r.url.params.get("cursor") for r in script.requests] == [None, "c1", "c2"]
    assert all(r.url.params["limit"] == "2" and r.url.params["attr.size"] == "42"
               for r in script.requests)


def test_a_batch_retried_after_503_keeps_its_key_and_types_each_result() -> None:
    level = {"location_id": "S1", "sku": "A", "on_hand": 5, "reserved": 0, "available": 5}
    results = {"results": [{"index": 0, "status": 200, "body": level}, {
        "index": 1, "status": 409, "body": problem(409, "insufficient_stock").json()}]}
    script = Script(problem(503, "service_unavailable", {"Retry-After": "0"}),
                    httpx.Response(200, json=results))
    items = [InventoryChange(location_id="S1", sku="A", delta=5, reason="receipt"),
             {"location_id": "S1", "sku": "A", "delta": -9, "reason": "damage"}]
    with script.client() as api:
        batch = api.update_inventory_batch(items)
    assert [(r.ok, r.level and r.level.on_hand) for r in batch] == [(True, 5), (False, None)]
    assert isinstance(batch.results[1].problem, InsufficientStock)
    keys = script.keys()
    assert len(keys) == 2 and keys[0] is not None and keys[0] == keys[1]
    assert json.loads(script.requests[1].content) == {"items": [
        {"location_id": "S1", "sku": "A", "delta": 5, "reason": "receipt"}, items[1]]}


async def test_an_import_is_retried_with_its_key_and_the_same_file() -> None:
    answer = {"kind": "levels", "rows": 1, "created": 1, "updated": 0, "unchanged": 0,
              "dry_run": True}
    script = Script(dropped(), httpx.Response(200, json=answer))
    async with script.async_client() as api:
        imported = await api.import_csv("levels", b"location_id,sku,on_hand\nS1,A,3\n",
                                        dry_run=True)
    assert (imported.rows, imported.dry_run) == (1, True)
    first, second = script.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert second.headers["content-type"] == "text/csv"
    assert second.content == b"location_id,sku,on_hand\nS1,A,3\n"
    assert (second.url.path, second.url.params["dry_run"]) == ("/v1/imports/levels", "true")


def test_an_export_is_retried_until_its_first_byte_then_a_drop_is_raised() -> None:
    rows = b'sku,name\r\nA,"two\r\nlines"\r\nB,""""\r\n'
    script = Script(problem(503, "service_unavailable"),
                    httpx.Response(200, content=rows), streamed(Broken(rows[:9])))
    sink = io.BytesIO()
    with script.client() as api:
        assert api.export_csv("/v1/products", {"category": "c"}, into=sink) == 2
        with pytest.raises(ConnectionFailed):
            list(api.export_chunks("/v1/products"))
    assert sink.getvalue() == rows and len(script.requests) == 3
    assert all(r.headers["accept"] == "text/csv" for r in script.requests)
    assert script.requests[0].url.params["category"] == "c"


# -- the event stream -------------------------------------------------------------------

def sse(*messages: str) -> bytes:
    return "".join(m + "\n\n" for m in messages).encode()


def event(event_id: int, named: bool = False) -> str:
    body = json.dumps({"id": event_id, "type": "sale.recorded",
                       "occurred_at": "2026-01-01T00:00:00Z", "location_id": "S1",
                       "sku": "A", "data": {"sale_id": f"sal_{event_id}"}})
    return f"id: {event_id}\n" + ("event: sale.recorded\n" if named else "") + f"data: {body}"


class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A stream body that delivers ``chunk`` and then breaks, as a dropped connection."""

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk

    def __iter__(self) -> Iterator[bytes]:
        yield self.chunk
        raise httpx.ReadError("connection reset by peer")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.chunk
        raise httpx.ReadError("connection reset by peer")


def streamed(content: bytes | Broken) -> httpx.Response:
    headers = {"content-type": "text/event-stream"}
    if isinstance(content, Broken):
        return httpx.Response(200, headers=headers, stream=content)
    return httpx.Response(200, headers=headers, content=content)


def newest(last_id: int) -> httpx.Response:
    return httpx.Response(200, json={"items": [], "next_cursor": None, "reset": {
        "reason": "ahead_of_log", "detail": "", "requested_after": 2**63 - 1,
        "resumes_after": last_id}})


def resumed_stream_script() -> Script:
    return Script(
        newest(10),
        streamed(Broken(sse(": subscribed after 10", event(11), event(12, named=True)))),
        httpx.ConnectError("refused: the server is restarting"),
        streamed(sse(event(12), event(13, named=True),
                     'event: close\ndata: {"code": "credential_revoked", "reason": "revoked",'
                     ' "last_id": 13}')))


def check_resumed(script: Script, ids: list[int]) -> None:
    assert ids == [11, 12, 13]  # 12, replayed after the drop, comes once
    assert script.requests[0].url.params["after"] == str(2**63 - 1)
    resumes = [r.headers.get("last-event-id") for r in script.requests[1:]]
    assert resumes == ["10", "12", "12"]
    assert all(r.url.params.get_list("types") == ["sale.recorded"] for r in script.requests[1:])


def collect(events: Iterator[Event], into: list[int]) -> None:
    for found in events:
        into.append(found.id)


async def collect_async(events: AsyncIterator[Event], into: list[int]) -> None:
    async for found in events:
        into.append(found.id)


def test_the_stream_resumes_from_the_last_id_after_a_drop() -> None:
    script = resumed_stream_script()
    ids: list[int] = []
    # It ends when the key is revoked (the script's last close event).
    with script.client() as api, pytest.raises(Unauthorized):
        collect(api.events(types="sale.recorded"), ids)
    check_resumed(script, ids)


async def test_the_async_stream_resumes_from_the_last_id_after_a_drop() -> None:
    script = resumed_stream_script()
    ids: list[int] = []
    async with script.async_client() as api:
        with pytest.raises(Unauthorized):
            await collect_async(api.events(types=["sale.recorded"]), ids)
    check_resumed(script, ids)


def test_a_server_closing_the_stream_is_followed_after_its_last_id() -> None:
    script = Script(
        streamed(sse(event(6), 'event: close\ndata: {"code": "server_shutdown", '
                               '"reason": "server_shutdown", "last_id": 9}')),
        streamed(sse(event(10))))
    with script.client() as api:
        events = api.events(after=5)
        assert [next(events).id, next(events).id] == [6, 10]
    assert [r.headers.get("last-event-id") for r in script.requests] == ["5", "9"]


def test_a_reset_is_raised_unless_handled() -> None:
    reset = ('id: 40\nevent: reset\ndata: {"reason": "pruned", "detail": "gone", '
             '"requested_after": 3, "resumes_after": 40}')
    with Script(streamed(sse(reset))).client() as api, pytest.raises(StreamReset) as raised:
        next(api.events(after=3))
    assert raised.value.reset.resumes_after == 40
    seen: list[int] = []
    script = Script(streamed(sse(reset, event(41))))
    with script.client() as api:
        found = next(api.events(after=3, on_reset=lambda r: seen.append(r.resumes_after)))
    assert (seen, found.id) == ([40], 41)
