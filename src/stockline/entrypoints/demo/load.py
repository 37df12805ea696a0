"""Loading the demo plan through the service layer, only what is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from rich.progress import Progress, TaskID

from stockline.bootstrap import Container
from stockline.domain.commands import (
    ReceiveStock,
    RecordSale,
)
from stockline.domain.counting import CountTaskStatus, Feedback
from stockline.domain.errors import AlreadyExists, DomainError, InsufficientStock
from stockline.domain.model import Sale
from stockline.domain.values import SaleStatus
from stockline.entrypoints.demo.aftercare import (
    CHECK_PREFIX,
    PlannedCheck,
    PlannedReturn,
    count_command,
    report_command,
    return_command,
)
from stockline.entrypoints.demo.plan import DemoPlan, build_plan
from stockline.entrypoints.demo.sites import (
    BATCH,
    CALLER,
    SALE_REF_PREFIX,
    DemoLoadError,
    DemoSize,
)
from stockline.services import (
    catalog,
    count_tasks,
    feedback,
    inventory,
    locations,
    returns,
    sales,
)
from stockline.services.executor import Handler

C = TypeVar("C")
R = TypeVar("R")

# -- loading -----------------------------------------------------------------------------

@dataclass(slots=True)
class StepReport:
    created: int = 0
    present: int = 0  # there already
    refused: int = 0  # sales that found the demo stock sold by someone else


@dataclass(slots=True)
class DemoReport:
    products: StepReport = field(default_factory=StepReport)
    locations: StepReport = field(default_factory=StepReport)
    stock: StepReport = field(default_factory=StepReport)  # levels
    settings: StepReport = field(default_factory=StepReport)  # levels
    sales: StepReport = field(default_factory=StepReport)
    returns: StepReport = field(default_factory=StepReport)
    feedback: StepReport = field(default_factory=StepReport)  # staff reports
    counts: StepReport = field(default_factory=StepReport)  # count tasks completed

    @property
    def added(self) -> int:
        return sum(step.created for step in (self.products, self.locations, self.stock,
                                             self.settings, self.sales, self.returns,
                                             self.feedback, self.counts))


FULL_SIZE = DemoSize()


async def load_demo(container: Container, *, size: DemoSize = FULL_SIZE,
                    progress: Progress | None = None, now: datetime | None = None) -> DemoReport:
    """Load whatever of the demo data set is missing, all of it through the service layer."""
    plan = build_plan(size, now or datetime.now(UTC))
    return await load_plan(container, plan, progress)


async def load_plan(container: Container, plan: DemoPlan,
                    progress: Progress | None = None) -> DemoReport:
    """Products, locations, stock and reorder points, then sales: each only where missing."""
    bar = progress if progress is not None else Progress(disable=True)
    report = DemoReport()
    report.products = await _create(container, catalog.create_product, plan.products, bar,
                                    "Products")
    report.locations = await _create(container, locations.create_location, plan.locations, bar,
                                     "Warehouses and stores")
    report.stock, report.settings = await _stock(container, plan, bar)
    report.sales = await _sales(container, plan.sales, bar)
    report.returns = await _returns(container, plan.returns, bar)
    report.feedback, report.counts = await _checks(container, plan.checks, bar)
    return report


async def _run_all(container: Container, handler: Handler[C, R], commands: Sequence[C],
                   bar: Progress, task: TaskID) -> list[R | DomainError]:
    outcomes: list[R | DomainError] = []
    for start in range(0, len(commands), BATCH):
        chunk = commands[start:start + BATCH]
        outcomes.extend(await container.executor.run_batch(handler, chunk, CALLER))
        bar.advance(task, len(chunk))
    return outcomes


async def _create(container: Container, handler: Handler[C, object], commands: Sequence[C],
                  bar: Progress, label: str) -> StepReport:
    task = bar.add_task(label, total=len(commands))
    step = StepReport()
    for outcome in await _run_all(container, handler, commands, bar, task):
        if isinstance(outcome, AlreadyExists):
            step.present += 1
        elif isinstance(outcome, DomainError):
            raise DemoLoadError(f"{label}: {outcome}")
        else:
            step.created += 1
    return step


async def _stock(container: Container, plan: DemoPlan,
                 bar: Progress) -> tuple[StepReport, StepReport]:
    """Receive stock into the levels that do not exist yet; set reorder points where unset."""
    receipts = bar.add_task("Opening stock", total=sum(map(len, plan.stock.values())))
    settings = bar.add_task("Reorder points", total=sum(map(len, plan.settings.values())))
    stocked, configured = StepReport(), StepReport()
    for location_id, quantities in plan.stock.items():
        points = await container.queries.reorder_points(location_id)
        missing = {sku: units for sku, units in quantities.items() if sku not in points}
        if missing:
            await _receive(container, location_id, missing, plan.opened_at)
        stocked.created += len(missing)
        stocked.present += len(quantities) - len(missing)
        bar.advance(receipts, len(quantities))
        wanted = plan.settings.get(location_id, {})
        todo = [command for sku, command in wanted.items()
                if sku in missing or (sku in points and points[sku] is None)]
        configured.present += len(wanted) - len(todo)
        bar.advance(settings, len(wanted) - len(todo))
        for outcome in await _run_all(container, inventory.set_reorder_settings, todo, bar,
                                      settings):
            if isinstance(outcome, DomainError):
                raise DemoLoadError(f"reorder settings at {location_id}: {outcome}")
            configured.created += 1
    return stocked, configured


async def _receive(container: Container, location_id: str, quantities: dict[str, int],
                   opened_at: datetime) -> None:
    receipt = ReceiveStock(location_id=location_id, quantities=quantities,
                           reference="DEMO-OPENING-STOCK", note="demo data set: opening stock",
                           occurred_at=opened_at)
    try:
        await container.executor.run(inventory.receive_stock, receipt, CALLER)
    except DomainError as error:
        raise DemoLoadError(f"opening stock at {location_id}: {error}") from error


async def _sales(container: Container, planned: Sequence[RecordSale],
                 bar: Progress) -> StepReport:
    """Record the sales whose external ref no sale carries yet, oldest first."""
    recorded = await container.queries.sale_refs(SALE_REF_PREFIX)
    todo = [sale for sale in planned if sale.external_ref not in recorded]
    step = StepReport(present=len(planned) - len(todo))
    task = bar.add_task("Sales history", total=len(todo))
    for outcome in await _run_all(container, sales.record_sale, todo, bar, task):
        if isinstance(outcome, Sale):
            step.created += 1
        elif isinstance(outcome, InsufficientStock):
            step.refused += 1
        else:
            raise DemoLoadError(f"sales: {outcome}")
    return step


async def _returns(container: Container, planned: Sequence[PlannedReturn],
                   bar: Progress) -> StepReport:
    """Return what comes back from sales that are recorded and not returned yet."""
    sales_by_ref = await container.queries.sale_ids(SALE_REF_PREFIX)
    step = StepReport()
    todo = []
    for back in planned:
        sale_id, status = sales_by_ref.get(back.sale_ref, (None, None))
        if sale_id is None:
            step.refused += 1  # its sale was refused: nothing to return
        elif status != SaleStatus.COMPLETED:
            step.present += 1
        else:
            todo.append(return_command(back, sale_id))
    task = bar.add_task("Returns", total=len(todo))
    for outcome in await _run_all(container, returns.return_sale, todo, bar, task):
        if isinstance(outcome, DomainError):
            raise DemoLoadError(f"returns: {outcome}")
        step.created += 1
    return step


async def _checks(container: Container, planned: Sequence[PlannedCheck],
                  bar: Progress) -> tuple[StepReport, StepReport]:
    """Report what staff saw (each report a code in its note), then count what was counted
    and is still open."""
    made = {f.note.split(":", 1)[0]: f for f in
            await container.queries.feedback_noted(CHECK_PREFIX) if f.note}
    todo = [check for check in planned if check.code not in made]
    reported = StepReport(present=len(planned) - len(todo))
    commands = [report_command(check, await _on_hand(container, check, check.difference))
                for check in todo]
    task = bar.add_task("Staff reports", total=len(commands))
    for outcome in await _run_all(container, feedback.report_feedback, commands, bar, task):
        if not isinstance(outcome, Feedback):
            raise DemoLoadError(f"staff reports: {outcome}")
        made[(outcome.note or "").split(":", 1)[0]] = outcome
        reported.created += 1
    counted, due = StepReport(), []
    for check in planned:
        task_id = made[check.code].count_task_id
        if check.counted_at is None or task_id is None:
            continue
        found = await container.queries.count_task(task_id)
        if found is None or found.status is not CountTaskStatus.OPEN:
            counted.present += 1
            continue
        on_hand = await _on_hand(container, check, 0)
        due.append(count_command(task_id, on_hand or 0, check))
    task = bar.add_task("Counts", total=len(due))
    for done in await _run_all(container, count_tasks.complete_count_task, due, bar, task):
        if isinstance(done, DomainError):
            raise DemoLoadError(f"counts: {done}")
        counted.created += 1
    return reported, counted


async def _on_hand(container: Container, check: PlannedCheck, plus: int) -> int | None:
    """What the level holds (plus ``plus``, never below 0); None for a report of no SKU."""
    if check.sku is None:
        return None
    level = await container.queries.level(check.location_id, check.sku)
    return max(0, (level.on_hand if level else 0) + plus)
