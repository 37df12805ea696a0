"""The audit trail: who did what, from where, with what outcome. Append-only.

Requests only hand their record to a queue; a writer task appends queued records in one
statement every few milliseconds, so auditing costs the request path a queue put, not a
transaction. Records still queued when the process stops are flushed on shutdown.

What is recorded is who (principal id, name, role), what (method, path, route, status,
outcome), the request id, the client address and the time; never a body, a credential or
customer data. The application only ever appends (migration 0005 adds triggers that
refuse UPDATE and DELETE).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass, fields
from datetime import datetime

import structlog
from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.tables import audit_log

log = structlog.get_logger("stockline.audit")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    principal_id: str | None
    principal_name: str | None
    role: str | None
    method: str
    path: str
    route: str | None
    status: int
    outcome: str  # "success", "refused" (4xx), "denied" (403), "auth_failed" (401), "error"
    request_id: str | None
    ip: str | None
    detail: str | None = None


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    if status == 401:
        return "auth_failed"
    if status == 403:
        return "denied"
    return "refused" if status < 500 else "error"


class AuditTrail:
    def __init__(self, engine: AsyncEngine, *, flush_seconds: float = 0.05,
                 batch: int = 500, capacity: int = 100_000) -> None:
        self._engine, self._flush, self._batch = engine, flush_seconds, batch
        self._queue: asyncio.Queue[AuditRecord] = asyncio.Queue(maxsize=capacity)
        self._pending: list[dict[str, object]] = []  # taken off the queue, not yet written
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # the writer task and a reader's flush never both write

    def record(self, record: AuditRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:  # the database is far behind: say so, keep serving
            log.error("audit_queue_full", dropped=asdict(record))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> int:
        """Append everything queued now; the number of records written."""
        written = 0
        async with self._lock:
            while self._pending or not self._queue.empty():
                while not self._queue.empty() and len(self._pending) < self._batch:
                    self._pending.append(_row(self._queue.get_nowait()))
                async with self._engine.begin() as conn:
                    await conn.execute(audit_log.insert(), self._pending)
                written += len(self._pending)
                self._pending = []
        return written

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # kept pending: written by the next flush that succeeds
                log.exception("audit_flush_failed", pending=len(self._pending))


_FIELDS = tuple(f.name for f in fields(AuditRecord))  # flat values: no deep copy (asdict)
_LENGTHS = {c.name: c.type.length for c in audit_log.columns
            if isinstance(c.type, String) and c.type.length}


def _row(record: AuditRecord) -> dict[str, object]:
    """The record as a row that always fits: text clipped to its column, no NUL (which
    PostgreSQL refuses). One unfit row would otherwise fail its whole batch for ever."""
    row: dict[str, object] = {name: getattr(record, name) for name in _FIELDS}
    for name, length in _LENGTHS.items():
        value = row.get(name)
        if isinstance(value, str):
            row[name] = value.replace("\x00", "\ufffd")[:length]
    return row
