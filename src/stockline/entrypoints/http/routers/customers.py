"""Customers: read one by its reference; erase one (pseudonymize it everywhere)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from stockline.adapters.housekeeping import reclaim_erased
from stockline.domain.customers import REF_PATTERN, EraseCustomer
from stockline.domain.errors import NotFound
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import NO_STORE, ContainerDep, WriterDep
from stockline.entrypoints.http.schemas.common import problems
from stockline.entrypoints.http.schemas.customers import CustomerOut
from stockline.services import customers

router = APIRouter(prefix="/v1/customers", tags=["customers"])
Ref = Annotated[str, Path(pattern=REF_PATTERN)]


@router.get("/{ref}", response_model=CustomerOut, responses=problems(403, 404),
            summary="A customer: contact and sales count",
            description="An erased customer is 404: nothing links its old reference to "
                        "anything any more.")
async def get_customer(ref: Ref, container: ContainerDep, _p: PrincipalDep) -> CustomerOut:
    customer = await container.queries.customer(ref)
    if customer is None:
        raise NotFound("customer", ref)
    return CustomerOut.of(customer)


@router.post("/{ref}/erase", status_code=204, response_class=Response,
             responses=problems(403), summary="Erase a customer (right to erasure)",
             description="Replaces the reference, on the customer and on every sale that "
                         "carries it, with a random pseudonym, deletes the contact, and "
                         "unlinks the idempotency records of requests that named it (a "
                         "retry of one is 422 `idempotency_key_reused`, whatever customer "
                         "it names). Sales, lines, totals, stock and the ledger stay exactly "
                         "as they were. The answer is 204 whether or not the reference was "
                         "known, and says nothing more; erasing is idempotent by nature, so "
                         "an Idempotency-Key is accepted and nothing is kept for it. The "
                         "database is then asked to drop the old row versions (VACUUM on "
                         "PostgreSQL, a WAL checkpoint on SQLite). Customer data never "
                         "appears in events, webhooks, the audit trail (which records this "
                         "route's template, not its path) or the logs.")
async def erase_customer(ref: Ref, write: WriterDep) -> Response:
    await write.run(customers.erase_customer, EraseCustomer(ref=ref))
    await reclaim_erased(write.container.database.write)
    return Response(status_code=204, headers=NO_STORE)
