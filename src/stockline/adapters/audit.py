"""The audit trail: who did what, from where, with what outcome. Append-only.

Requests only hand their record to a queue; a writer task appends queued records in one
statement every few milliseconds, so auditing costs the request path a queue put, not a
transaction. Records still queued when the process stops are flushed on shutdown.

What is recorded is who (principal id, name, role), what (method, path, route, status,
outcome), the request id, the client address and the time; never a body, a credential or
customer data. Text arrives from the client (a path is whatever it asked for), so each
field is stored escaped (control characters, backslashes and bidirectional controls as
``\\xNN``/``\\uNNNN``) and clipped to its column.

Requests refused for too many failed credentials from one address (answered before any
check) are counted instead of appended one by one: the first such refusal in a window
opens a burst, and the window's refusals become one entry carrying their ``count`` and the
time of the last (``last_at``), appended when the window ends (or when the trail is read,
or the process stops). The application only ever appends (migration 0005 adds triggers
that refuse UPDATE and DELETE).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

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
    count: int = 1  # the requests this entry stands for: more than one for a burst
    last_at: datetime | None = None  # when the last of a burst arrived


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    if status == 401:
        return "auth_failed"
    if status == 403:
        return "denied"
    return "refused" if status < 500 else "error"


@dataclass(slots=True)
class _Burst:
    first: AuditRecord
    until: float  # monotonic time at which the window closes
    count: int = 1
    last_at: datetime | None = None

    def entry(self) -> AuditRecord:
        if self.count == 1:
            return self.first
        return replace(self.first, count=self.count, last_at=self.last_at)


class AuditTrail:
    def __init__(self, engine: AsyncEngine, *, flush_seconds: float = 0.05,
                 batch: int = 500, capacity: int = 100_000, burst_seconds: float = 60.0,
                 max_bursts: int = 10_000) -> None:
        self._engine, self._flush, self._batch = engine, flush_seconds, batch
        self._queue: asyncio.Queue[AuditRecord] = asyncio.Queue(maxsize=capacity)
        self._pending: list[dict[str, object]] = []  # taken off the queue, not yet written
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # the writer task and a reader's flush never both write
        self._burst_seconds, self._max_bursts = burst_seconds, max_bursts
        self._bursts: dict[tuple[str | None, int], _Burst] = {}

    def record(self, record: AuditRecord) -> None:
        """Queue ``record`` to be appended as it is (escaped and clipped)."""
        self._put(fit(record))

    def count_refusal(self, record: AuditRecord) -> None:
        """Count ``record`` into its address's burst: one entry per address and status
        for each window, however many requests it refuses."""
        key = (record.ip, record.status)
        burst = self._bursts.get(key)
        if burst is None:
            if len(self._bursts) >= self._max_bursts:  # many addresses: close early, stay small
                self._close_bursts(everything=True)
            self._bursts[key] = _Burst(fit(record), time.monotonic() + self._burst_seconds)
        else:
            burst.count += 1
            burst.last_at = record.at

    def _close_bursts(self, *, everything: bool) -> None:
        now = time.monotonic()
        for key, burst in list(self._bursts.items()):
            if everything or burst.until <= now:
                del self._bursts[key]
                self._put(burst.entry())

    def _put(self, record: AuditRecord) -> None:
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

    async def flush(self, *, open_bursts: bool = True) -> int:
        """Append everything queued now, and the bursts counted so far unless
        ``open_bursts`` is false (then only those whose window is over); the number of
        entries written."""
        written = 0
        self._close_bursts(everything=open_bursts)
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
                await self.flush(open_bursts=False)
            except asyncio.CancelledError:
                raise
            except Exception:  # kept pending: written by the next flush that succeeds
                log.exception("audit_flush_failed", pending=len(self._pending))


_FIELDS = tuple(f.name for f in fields(AuditRecord))  # flat values: no deep copy (asdict)
_LENGTHS = {c.name: c.type.length for c in audit_log.columns
            if isinstance(c.type, String) and c.type.length}


# Control characters (a raw newline or ESC would forge log lines or drive a terminal
# that shows the trail), the backslash that introduces an escape, and the bidirectional
# controls that make text read otherwise than it is stored; lone surrogates, which no
# database encodes.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\\\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     r"\ud800-\udfff]")
CLIPPED = "\u2026"  # ends a value cut to fit its column


def _escaped(match: re.Match[str]) -> str:
    code = ord(match[0])
    return "\\\\" if code == 0x5C else f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def fit_text(value: str, length: int) -> str:
    """``value`` escaped and at most ``length`` characters long (``CLIPPED`` at the end
    when it was cut)."""
    text = _UNSAFE.sub(_escaped, value[:length + 1])  # escaping only lengthens
    return text if len(text) <= length else text[:length - 1] + CLIPPED


def fit(record: AuditRecord) -> AuditRecord:
    """The record as it will be stored: every text field escaped and clipped to its
    column. One unfit row would otherwise fail its whole batch for ever, and an unbounded
    one cost memory for as long as it is queued."""
    changes: dict[str, Any] = {name: fit_text(value, length)
                               for name, length in _LENGTHS.items()
                               if isinstance(value := getattr(record, name), str)}
    return replace(record, **changes)


def _row(record: AuditRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in _FIELDS}
