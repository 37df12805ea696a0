"""Files in: products, locations, levels or suppliers as CSV, checked whole, applied whole."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from stockline.domain.imports import ImportKind
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep, IdempotencyKey, Writer
from stockline.entrypoints.http.errors import UNSUPPORTED_MEDIA_TYPE, ProblemError
from stockline.entrypoints.http.routers.scope import require_at
from stockline.entrypoints.http.schemas.common import problems
from stockline.entrypoints.http.schemas.imports import ImportOut, ImportRequest
from stockline.entrypoints.imports import digest, read_file
from stockline.entrypoints.operations import IMPORT_FILE, import_request
from stockline.services.imports.common import PERMISSIONS

router = APIRouter(prefix="/v1/imports", tags=["imports"])
CSV = "text/csv"
DESCRIPTION = """\
A CSV file (UTF-8, header row first) of one kind:

- `products`: `sku,name,category`, optional `price_amount,price_currency`, and `attr.<name>`
  columns (attributes, as text; an empty cell removes that attribute from a known product).
- `locations`: `type` (`warehouse` or `store`), `code`, `name`, optional `region` (stores),
  `address`, `latitude`, `longitude`, `capacity`, `time_zone` (an IANA name; an unknown one
  is refused on its line), and `operating_hours.<day>` columns.
- `levels`: `location_id,sku,on_hand` (a count: on_hand is set, with its ledger entry, as
  `POST /v1/inventory/update` with `reason: count` does), optional `reorder_point`,
  `reorder_quantity`, `safety_stock`.
- `suppliers`: `code,name`, optional `lead_time_days`, `contact.name`, `contact.email`,
  `contact.phone`.

Each row is checked by the rules of the JSON body of its create route. Any bad row (or
header) is a 422 `validation_error` whose `errors` name every one as `{line, field,
message}`, and nothing changes. A good file is applied in one transaction; a row that
matches what is stored changes nothing (`unchanged`). A known row takes the values of the
columns the file has; what it has no column for is left as it is. `?dry_run=true` checks
and counts only.
"""


def require_csv(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != CSV:
        raise ProblemError(UNSUPPORTED_MEDIA_TYPE,
                           f"send the file as {CSV} (got '{media or 'nothing'}')")


async def csv_writer(request: Request, container: ContainerDep, principal: PrincipalDep,
                     idempotency_key: IdempotencyKey = None) -> Writer:
    return Writer(request, container, principal, idempotency_key, require_media=require_csv)


# A file (format binary: /docs offers an upload, generators send the bytes as they are).
_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {CSV: {"schema": {
    "type": "string", "format": "binary",
    "examples": ["sku,name,category,price_amount,price_currency,attr.size\n"
                 "RUN-42,Runner 42,footwear,89.99,USD,42\n"]}}}}}


@router.post("/{kind}", response_model=ImportOut, summary="Import a CSV file",
             description=DESCRIPTION, openapi_extra=_BODY,
             responses=problems(403, 422))
async def import_csv(kind: ImportKind, request: Request,
                     write: Annotated[Writer, Depends(csv_writer)],
                     dry_run: Annotated[bool, Query(description="Check only")] = False
                     ) -> Response:
    require_at(write.principal, PERMISSIONS[kind])  # before reading a file it may not import
    data = await request.body()
    settings = request.app.state.settings
    # Checking 100,000 rows takes seconds of CPU: off the event loop.
    file = await asyncio.to_thread(read_file, kind, data, max_rows=settings.import_max_rows,
                                   dry_run=dry_run)
    fingerprint = ImportRequest(kind=kind, dry_run=dry_run, sha256=digest(data))
    return await write.perform(IMPORT_FILE, file, body=fingerprint,
                               identity=import_request(fingerprint))
