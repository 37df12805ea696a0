"""``AsyncClient``: the API from asyncio code, as ``Client`` does it from blocking code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Self, TypeVar

import httpx
from httpx_sse import aconnect_sse

from stockline.client import listings as lists
from stockline.client import operations as ops
from stockline.client.calls import (
    Call,
    Listing,
    ParamValue,
    Retry,
    connection,
    stream_timeout,
)
from stockline.client.errors import Reset
from stockline.client.export import Export, Target, export, opened
from stockline.client.listings import Filter, event_filter
from stockline.client.methods import async_call, async_listing
from stockline.client.models import Event
from stockline.client.stream import STREAM_PATH, Follower, newest_call, newest_id

T = TypeVar("T")


class AsyncClient:
    """``Client`` for asyncio: ``AsyncClient("http://127.0.0.1:8000", api_key="...")``,
    each method awaited, each list an async iterator. Every write sends an
    Idempotency-Key (a new one unless given); connection errors, 429 and 503 are retried
    ``retries`` times with the same key, after ``Retry-After``.
    Problems are raised as ``StocklineError`` subclasses (``InsufficientStock``,
    ``NotFound``, ...). Use it as a context manager, or call ``close()``.
    ``transport``: an httpx transport to send through (tests, proxies)."""

    def __init__(self, base_url: str, *, api_key: str | None = None, token: str | None = None,
                 timeout: float = 10.0, retries: int = 3, backoff: float = 0.5,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._retry = Retry(attempts=retries, backoff=backoff)
        self._timeout = timeout
        self._http = httpx.AsyncClient(transport=transport,
                                  **connection(base_url, api_key, token, timeout))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, params=call.params,
                                              json=call.json, content=call.content,
                                              headers=call.headers())
            except httpx.TransportError as error:
                wait = self._retry.after_error(attempt, error)
            else:
                pause = self._retry.after_response(attempt, response)
                if pause is None:
                    return call.result(response)
                wait = pause
            await asyncio.sleep(wait)
            attempt += 1

    async def _iterate(self, listing: Listing[T]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            page = await self._send(listing.page(cursor))
            for item in listing.items(page):
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def export_chunks(self, path: str, params: Mapping[str, ParamValue] | None = None
                      ) -> AsyncIterator[bytes]:
        """The CSV export of the list route ``path`` (``"/v1/inventory"``, ...) filtered
        by ``params`` as its JSON list is: every row of every page, as the server streams
        it, chunk by chunk (the header row first)."""
        return self._export(export(path, params))

    async def export_csv(self, path: str, params: Mapping[str, ParamValue] | None = None,
                         *, into: Target) -> int:
        """Write ``export_chunks(path, params)`` into a file (a path, or a binary file
        object, left open) as it arrives; returns how many rows it holds (the header not
        counted)."""
        job = export(path, params)
        with opened(into) as file:
            async for chunk in self._export(job):
                await asyncio.to_thread(file.write, chunk)
        return job.rows

    async def _export(self, job: Export) -> AsyncIterator[bytes]:
        attempt = 0
        while True:
            try:
                async with self._http.stream("GET", job.path, params=job.params,
                                             headers=job.headers()) as response:
                    if response.is_success:
                        async for chunk in response.aiter_bytes():
                            yield job.take(chunk)
                        return
                    await response.aread()
                    wait = job.refused(self._retry, attempt, response)
            except httpx.TransportError as error:
                wait = job.dropped(self._retry, attempt, error)
            await asyncio.sleep(wait)
            attempt += 1

    async def newest_event_id(self) -> int:
        """The id of the newest event of the log (0 while it is empty): a stream or a log
        read from there misses nothing that happens later."""
        return newest_id(await self._send(newest_call()))

    async def events(self, *, after: int | None = None, types: Filter = None,
               location_id: Filter = None, sku: Filter = None,
               on_reset: Callable[[Reset], None] | None = None,
               reconnects: int | None = None, idle_timeout: float = 60.0
                     ) -> AsyncGenerator[Event, None]:
        """Every event after ``after`` (None: from now on), live, forever: a dropped
        connection or a restarted server is resumed from the last id, with no gap and
        no duplicate. Filters take one value or several. A ``reset`` (the point was
        pruned) calls ``on_reset``, or raises ``StreamReset`` when it is None.
        ``reconnects``: failed connections in a row before ``ConnectionFailed`` (None:
        never give up)."""
        follower = Follower(event_filter(types, location_id, sku), after, self._retry,
                            reconnects, on_reset)
        if follower.position is None:
            follower.position = await self.newest_event_id()
        timeout = stream_timeout(self._timeout, idle_timeout)
        while True:
            try:
                async with aconnect_sse(self._http, "GET", STREAM_PATH,
                                        params=follower.filters, headers=follower.headers(),
                                        timeout=timeout) as source:
                    if source.response.status_code != 200:
                        await source.response.aread()
                        follower.refused(source.response)
                    else:
                        follower.connected()
                        async for message in source.aiter_sse():
                            if (event := follower.take(message)) is not None:
                                yield event
                            elif follower.closed:
                                break
                        else:
                            follower.ended()
            except httpx.TransportError as error:
                follower.dropped(error)
            await asyncio.sleep(follower.wait)

    record_sale = async_call(ops.record_sale)
    get_sale = async_call(ops.get_sale)
    update_sale = async_call(ops.update_sale)
    return_sale = async_call(ops.return_sale)
    level = async_call(ops.level)
    update_inventory = async_call(ops.update_inventory)
    update_inventory_batch = async_call(ops.update_inventory_batch)
    import_csv = async_call(ops.import_csv)
    set_reorder_settings = async_call(ops.set_reorder_settings)
    transfer = async_call(ops.transfer)
    receive_transfer = async_call(ops.receive_transfer)
    cancel_transfer = async_call(ops.cancel_transfer)
    close_transfer = async_call(ops.close_transfer)
    get_transfer = async_call(ops.get_transfer)
    reserve = async_call(ops.reserve)
    commit_reservation = async_call(ops.commit_reservation)
    release_reservation = async_call(ops.release_reservation)
    get_reservation = async_call(ops.get_reservation)
    create_product = async_call(ops.create_product)
    update_product = async_call(ops.update_product)
    get_product = async_call(ops.get_product)
    create_location = async_call(ops.create_location)
    get_location = async_call(ops.get_location)
    update_location = async_call(ops.update_location)
    get_supplier = async_call(ops.get_supplier)
    update_supplier = async_call(ops.update_supplier)
    get_purchase_order = async_call(ops.get_purchase_order)

    products = async_listing(lists.products)
    warehouses = async_listing(lists.warehouses)
    retail_locations = async_listing(lists.retail_locations)
    inventory = async_listing(lists.inventory)
    sales = async_listing(lists.sales)
    movements = async_listing(lists.movements)
    transfers = async_listing(lists.transfers)
    reservations = async_listing(lists.reservations)
    suppliers = async_listing(lists.suppliers)
    purchase_orders = async_listing(lists.purchase_orders)
    events_log = async_listing(lists.events_log)
    replenishment_suggestions = async_listing(lists.replenishment_suggestions)
    webhooks = async_listing(lists.webhooks)
    webhook_deliveries = async_listing(lists.webhook_deliveries)
    api_keys = async_listing(lists.api_keys)
    audit = async_listing(lists.audit)
