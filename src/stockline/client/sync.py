"""``Client``: the API from blocking code."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping
from types import TracebackType
from typing import Self, TypeVar

import httpx
from httpx_sse import connect_sse

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
from stockline.client.methods import call, listing
from stockline.client.models import Event
from stockline.client.stream import STREAM_PATH, Follower, newest_call, newest_id

T = TypeVar("T")


class Client:
    """A Stockline API client: ``Client("http://127.0.0.1:8000", api_key="...")``.

    Every write sends an Idempotency-Key (a new one unless given); connection errors,
    429 and 503 are retried ``retries`` times with the same key, after ``Retry-After``.
    Problems are raised as ``StocklineError`` subclasses (``InsufficientStock``,
    ``NotFound``, ...). Use it as a context manager, or call ``close()``.
    ``transport``: an httpx transport to send through (tests, proxies)."""

    def __init__(self, base_url: str, *, api_key: str | None = None, token: str | None = None,
                 timeout: float = 10.0, retries: int = 3, backoff: float = 0.5,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._retry = Retry(attempts=retries, backoff=backoff)
        self._timeout = timeout
        self._http = httpx.Client(transport=transport,
                                  **connection(base_url, api_key, token, timeout))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, params=call.params,
                                              json=call.json, content=call.content,
                                              headers=call.headers())
            except httpx.TransportError as error:
                wait = self._retry.after_error(attempt, error)
            else:
                pause = self._retry.after_response(attempt, response)
                if pause is None:
                    return call.result(response)
                wait = pause
            time.sleep(wait)
            attempt += 1

    def _iterate(self, listing: Listing[T]) -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = self._send(listing.page(cursor))
            yield from listing.items(page)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def export_chunks(self, path: str, params: Mapping[str, ParamValue] | None = None
                      ) -> Iterator[bytes]:
        """The CSV export of the list route ``path`` (``"/v1/inventory"``, ...) filtered
        by ``params`` as its JSON list is: every row of every page, as the server streams
        it, chunk by chunk (the header row first)."""
        return self._export(export(path, params))

    def export_csv(self, path: str, params: Mapping[str, ParamValue] | None = None, *,
                   into: Target) -> int:
        """Write ``export_chunks(path, params)`` into a file (a path, or a binary file
        object, left open) as it arrives; returns how many rows it holds (the header not
        counted)."""
        job = export(path, params)
        with opened(into) as file:
            for chunk in self._export(job):
                file.write(chunk)
        return job.rows

    def _export(self, job: Export) -> Iterator[bytes]:
        attempt = 0
        while True:
            try:
                with self._http.stream("GET", job.path, params=job.params,
                                       headers=job.headers()) as response:
                    if response.is_success:
                        yield from map(job.take, response.iter_bytes())
                        return
                    response.read()
                    wait = job.refused(self._retry, attempt, response)
            except httpx.TransportError as error:
                wait = job.dropped(self._retry, attempt, error)
            time.sleep(wait)
            attempt += 1

    def newest_event_id(self) -> int:
        """The id of the newest event of the log (0 while it is empty): a stream or a log
        read from there misses nothing that happens later."""
        return newest_id(self._send(newest_call()))

    def events(self, *, after: int | None = None, types: Filter = None,
               location_id: Filter = None, sku: Filter = None,
               on_reset: Callable[[Reset], None] | None = None,
               reconnects: int | None = None, idle_timeout: float = 60.0
               ) -> Generator[Event, None, None]:
        """Every event after ``after`` (None: from now on), live, forever: a dropped
        connection or a restarted server is resumed from the last id, with no gap and
        no duplicate. Filters take one value or several. A ``reset`` (the point was
        pruned) calls ``on_reset``, or raises ``StreamReset`` when it is None.
        ``reconnects``: failed connections in a row before ``ConnectionFailed`` (None:
        never give up)."""
        follower = Follower(event_filter(types, location_id, sku), after, self._retry,
                            reconnects, on_reset)
        if follower.position is None:
            follower.position = self.newest_event_id()
        timeout = stream_timeout(self._timeout, idle_timeout)
        while True:
            try:
                with connect_sse(self._http, "GET", STREAM_PATH, params=follower.filters,
                                 headers=follower.headers(), timeout=timeout) as source:
                    if source.response.status_code != 200:
                        source.response.read()
                        follower.refused(source.response)
                    else:
                        follower.connected()
                        for message in source.iter_sse():
                            if (event := follower.take(message)) is not None:
                                yield event
                            elif follower.closed:
                                break
                        else:
                            follower.ended()
            except httpx.TransportError as error:
                follower.dropped(error)
            time.sleep(follower.wait)

    record_sale = call(ops.record_sale)
    get_sale = call(ops.get_sale)
    update_sale = call(ops.update_sale)
    return_sale = call(ops.return_sale)
    level = call(ops.level)
    update_inventory = call(ops.update_inventory)
    update_inventory_batch = call(ops.update_inventory_batch)
    import_csv = call(ops.import_csv)
    set_reorder_settings = call(ops.set_reorder_settings)
    transfer = call(ops.transfer)
    receive_transfer = call(ops.receive_transfer)
    cancel_transfer = call(ops.cancel_transfer)
    close_transfer = call(ops.close_transfer)
    get_transfer = call(ops.get_transfer)
    reserve = call(ops.reserve)
    commit_reservation = call(ops.commit_reservation)
    release_reservation = call(ops.release_reservation)
    get_reservation = call(ops.get_reservation)
    create_product = call(ops.create_product)
    update_product = call(ops.update_product)
    get_product = call(ops.get_product)
    create_location = call(ops.create_location)
    get_location = call(ops.get_location)
    update_location = call(ops.update_location)
    get_supplier = call(ops.get_supplier)
    update_supplier = call(ops.update_supplier)
    get_purchase_order = call(ops.get_purchase_order)

    products = listing(lists.products)
    warehouses = listing(lists.warehouses)
    retail_locations = listing(lists.retail_locations)
    inventory = listing(lists.inventory)
    sales = listing(lists.sales)
    movements = listing(lists.movements)
    transfers = listing(lists.transfers)
    reservations = listing(lists.reservations)
    suppliers = listing(lists.suppliers)
    purchase_orders = listing(lists.purchase_orders)
    events_log = listing(lists.events_log)
    replenishment_suggestions = listing(lists.replenishment_suggestions)
    webhooks = listing(lists.webhooks)
    webhook_deliveries = listing(lists.webhook_deliveries)
    api_keys = listing(lists.api_keys)
    audit = listing(lists.audit)
