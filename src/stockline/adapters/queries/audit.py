"""The read side of the audit trail: newest first, filtered, keyset-paginated by id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select

from stockline.adapters.audit import AuditRecord
from stockline.adapters.queries.base import Page, QueryBase, decode_cursor, page_of
from stockline.adapters.tables import audit_log

A = audit_log.c
_FIELDS = tuple(c.name for c in audit_log.columns if c.name != "id")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int  # the order of appending: newer entries have greater ids
    record: AuditRecord


class AuditQueries(QueryBase):
    async def audit(self, *, principal_id: str | None, outcome: str | None,
                    method: str | None, start: datetime | None, end: datetime | None,
                    limit: int, cursor: str | None) -> Page[AuditEntry]:
        """Audit entries, newest first; ``start`` inclusive and ``end`` exclusive on ``at``."""
        conditions: list[ColumnElement[bool]] = []
        if principal_id is not None:
            conditions.append(A.principal_id == principal_id)
        if outcome is not None:
            conditions.append(A.outcome == outcome)
        if method is not None:
            conditions.append(A.method == method)
        if start is not None:
            conditions.append(A.at >= start)
        if end is not None:
            conditions.append(A.at < end)
        if cursor:
            (before,) = decode_cursor(cursor, int)
            conditions.append(A.id < before)
        rows = await self._all(select(audit_log).where(*conditions)
                               .order_by(A.id.desc()).limit(limit + 1))
        # By mapping: a Row is a tuple, whose own ``count`` would shadow the column's.
        entries = [AuditEntry(id=row.id, record=AuditRecord(
            **{name: row._mapping[name] for name in _FIELDS})) for row in rows]
        return page_of(entries, limit, lambda e: [e.id])
