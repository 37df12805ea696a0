"""Reconciliation on a schedule, inside the server: the result becomes metrics.

Every process of every node may run the job, but only the one leading the outbox relay
reconciles (one run per interval across the whole deployment, never one per worker); it
looks every few seconds whether a run is due and whether it leads, so that a new leader
takes over the schedule within moments.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.reconcile import Reconciler
from stockline.domain.reconcile import ReconcileReport

# How often the job looks whether a run is due (and whether this process leads).
LOOK_SECONDS = 5.0
# Told each finished run's report and when it started.
Reported = Callable[[ReconcileReport, datetime], None]


async def reconcile_report(engine: AsyncEngine, *, now: datetime,
                           location_id: str | None = None) -> ReconcileReport:
    """Every check over every level (or one location's), to the end: the report."""
    async for step in Reconciler(engine).run(now=now, location_id=location_id):
        if isinstance(step, ReconcileReport):
            return step
    raise AssertionError("the reconciler ends with its report")


class ScheduledReconcile:
    """A job for ``Periodic`` (every ``LOOK_SECONDS``): reconciles once ``interval`` has
    passed since its last run, while ``leading()``; each report goes to ``on_report``."""

    def __init__(self, engine: AsyncEngine, *, interval: timedelta,
                 leading: Callable[[], bool], clock: Callable[[], datetime]) -> None:
        self._engine, self._interval = engine, interval
        self._leading, self._clock = leading, clock
        self._due: datetime | None = None  # None: at the first look that leads
        self.on_report: Reported = lambda report, at: None

    @property
    def look_seconds(self) -> float:
        return min(LOOK_SECONDS, self._interval.total_seconds())

    async def __call__(self) -> int | None:
        """The drifts found by a run made now, or None when none was due or this process
        does not lead the relay."""
        now = self._clock()
        if not self._leading() or (self._due is not None and now < self._due):
            return None
        report = await reconcile_report(self._engine, now=now)
        self._due = now + self._interval
        self.on_report(report, now)
        return report.total
