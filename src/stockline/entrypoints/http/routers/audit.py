"""The audit trail (admins): who did what, from where, with what outcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit
from stockline.entrypoints.http.schemas.audit import AuditEntryOut, AuditMethod, AuditOutcome
from stockline.entrypoints.http.schemas.common import NO_NUL, Instant, Page, problems

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEntryOut], responses=problems(403),
            summary="The audit trail, newest first",
            description="One entry per write (POST, PUT, PATCH, DELETE), whatever its "
                        "outcome, and per refused credential (401) or permission (403) on "
                        "any route; the requests refused (429) from one address for too "
                        "many failed credentials are one entry per window, with their "
                        "`count`. Entries are appended only: never changed or removed. "
                        "Bodies, credentials and query strings are never recorded. `from` "
                        "is inclusive and `to` exclusive, on `at`. Entries are recorded "
                        "within a few milliseconds of their answer; this list shows every "
                        "entry this server has recorded so far.")
async def list_audit(container: ContainerDep, _p: PrincipalDep,
                     principal_id: Annotated[str | None, Query(
                         min_length=1, max_length=100, pattern=NO_NUL)] = None,
                     outcome: AuditOutcome | None = None, method: AuditMethod | None = None,
                     start: Annotated[Instant | None, Query(alias="from")] = None,
                     end: Annotated[Instant | None, Query(alias="to")] = None,
                     limit: Limit = 50, cursor: Cursor = None) -> Page[AuditEntryOut]:
    await container.audit.flush()  # what this process has queued is readable at once
    page = await container.queries.audit(
        principal_id=principal_id, outcome=outcome.value if outcome else None,
        method=method.value if method else None, start=start, end=end, limit=limit,
        cursor=cursor)
    return Page(items=[AuditEntryOut.of(e) for e in page.items], next_cursor=page.next_cursor)
