"""``stockline.v1.Sales``: sales recorded as POST /v1/sales/record records them (the same
body schema validates each, the same operation runs through the one write service, under
its ``idempotency_key``).

``RecordSales`` keeps up to IN_FLIGHT of a stream's sales running at once, so that they
join the same group commit (when it is on) instead of each waiting for the one before;
each is answered in the order sent, with its sale or its own error, and one refused
sale does not end the stream. Its caller's credential is checked again while it lasts
(``StreamGuard``, as the event streams'): once revoked or expired, no further sale is
started and the stream ends UNAUTHENTICATED. The call's admission takes one token from
the caller's rate limit and every sale one more (a sale refused for it is answered
RESOURCE_EXHAUSTED, the stream goes on). Every sale is audited as a REST sale is, with its
own outcome and time; the stream itself only when it fails (refused, or cut off).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from stockline.domain.errors import InvalidInput
from stockline.entrypoints.access import limit_refusal
from stockline.entrypoints.grpc.calls import Call, Service, rpc
from stockline.entrypoints.grpc.convert import fields_of
from stockline.entrypoints.grpc.status import Refusal, S, refusal_of, retry_later
from stockline.entrypoints.grpc.v1 import sales_pb2 as pb
from stockline.entrypoints.grpc.v1 import sales_pb2_grpc
from stockline.entrypoints.grpc.writes import answered, keyed, perform
from stockline.entrypoints.http.permissions import ROUTES
from stockline.entrypoints.http.schemas.sales import SaleCreate
from stockline.entrypoints.http.streams.guard import StreamGuard
from stockline.entrypoints.operations import RECORD_SALE
from stockline.services.ports import StoredAnswer

RECORD = ROUTES[("POST", "/v1/sales/record")]
UNSENT = frozenset({"idempotency_key"})
IN_FLIGHT = 64  # sales of one stream running at once
STREAM = f"/{pb.DESCRIPTOR.services_by_name['Sales'].full_name}/RecordSales"
Pending = asyncio.Queue["asyncio.Task[pb.RecordSalesResult] | None"]


class SalesService(Service, sales_pb2_grpc.SalesServicer):
    NAME = pb.DESCRIPTOR.services_by_name["Sales"].full_name

    @rpc(RECORD, write=True)
    async def RecordSale(self, request: pb.RecordSaleRequest, call: Call) -> pb.Sale:
        return answered(await self.record(request, call), pb.Sale)

    @rpc(RECORD, write=True, each=True)
    async def RecordSales(self, requests: AsyncIterator[pb.RecordSaleRequest],
                          call: Call) -> None:
        container = self.container
        guard = StreamGuard(container.authenticator, container.limiter, call.credential,
                            call.principal,
                            key_cache_seconds=container.settings.key_cache_seconds)
        lapse = asyncio.create_task(guard.lapsed())
        pending: Pending = asyncio.Queue(IN_FLIGHT)
        reader = asyncio.create_task(self._read(requests, call, pending, lapse))
        try:
            while (task := await pending.get()) is not None:
                await call.context.write(await task)
            await reader  # what reading the stream raised, if it did
            if lapse.done():
                raise Refusal(S.UNAUTHENTICATED, f"the stream's credential is no longer "
                              f"accepted ({lapse.result()}); the sales sent after the last "
                              "answer were not recorded", "unauthorized")
        finally:
            reader.cancel()
            lapse.cancel()

    async def record(self, request: pb.RecordSaleRequest, call: Call) -> StoredAnswer:
        """One sale through the write service: its answer (a replay's as first given)."""
        key = keyed(request.idempotency_key)
        body = SaleCreate.model_validate(fields_of(request, leave_out=UNSENT))
        max_lines = self.container.settings.max_lines
        if len(body.lines) > max_lines:
            raise InvalidInput("lines", f"at most {max_lines} lines per sale")
        outcome = await perform(self.container, RECORD_SALE, body.to_command(), call, key)
        return outcome.answer

    async def _read(self, requests: AsyncIterator[pb.RecordSaleRequest], call: Call,
                    pending: Pending, lapse: asyncio.Task[str]) -> None:
        """Start each sale as it comes (waiting while IN_FLIGHT are unanswered), until
        the caller's credential lapses."""
        index = 0
        try:
            async for request in requests:
                if lapse.done():
                    break
                await pending.put(asyncio.create_task(self._one(index, request, call)))
                index += 1
        except Exception:
            await pending.put(None)  # the sales started are answered, then the error
            raise
        await pending.put(None)

    async def _one(self, index: int, request: pb.RecordSaleRequest,
                   call: Call) -> pb.RecordSalesResult:
        """One sale of a stream: its sale, or its own error (never raised); audited
        before it is answered (a client reads what it caused at once)."""
        at = datetime.now(UTC)
        try:
            await self._within_limit(call)
            sale = answered(await self.record(request, call), pb.Sale)
        except Exception as error:  # each sale's error is its own answer
            refusal = refusal_of(error)
            self.audit(STREAM, at, call.context, call, refusal, write=True)
            return pb.RecordSalesResult(index=index, error=refusal.status())
        self.audit(STREAM, at, call.context, call, None, write=True)
        return pb.RecordSalesResult(index=index, sale=sale)

    async def _within_limit(self, call: Call) -> None:
        principal = call.principal
        decision = await self.container.limiter.check(principal.id, principal.role.value)
        if decision is not None and (why := limit_refusal(decision)) is not None:
            raise retry_later(S.RESOURCE_EXHAUSTED, why, "rate_limited", decision.retry_after)
