"""Many level changes in one request (an ERP's nightly sync): each answered on its own."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from stockline.entrypoints.http.deps import WriterDep
from stockline.entrypoints.http.schemas.common import problems
from stockline.entrypoints.http.schemas.inventory_batch import BatchOut, InventoryBatch
from stockline.entrypoints.inventory_batch import batch_operation, batch_request
from stockline.services.inventory_batch import MAX_CHANGES

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])


@router.post("/batch", response_model=BatchOut, responses=problems(),
             summary="Change many levels, each as POST /v1/inventory/update would",
             description=f"1 to {MAX_CHANGES} bodies of `POST /v1/inventory/update`, applied "
                         "in order, each on its own: a refused item changes nothing and "
                         "undoes no other. Each result carries the status and body that "
                         "route answers for that item alone (a body that does not validate "
                         "is that item's 422). Under one `Idempotency-Key` the batch is one "
                         "write: a retry replays the same results and applies nothing.")
async def update_inventory_batch(body: InventoryBatch, write: WriterDep) -> Response:
    return await write.perform(batch_operation(body.items), body.commands(), body=body,
                               identity=batch_request(body))
