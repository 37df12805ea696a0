"""``stockline reconcile``: every level checked against what should explain it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import write_to_textfile
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from stockline.adapters.database import open_database
from stockline.adapters.reconcile import Reconciler
from stockline.config import Settings
from stockline.domain.reconcile import ReconcileReport
from stockline.entrypoints.cli.base import (
    DatabaseUrl,
    console,
    say_unreadable,
    settings_from,
    stdout,
    wide,
)
from stockline.entrypoints.http.business_metrics import reconcile_registry
from stockline.services.executor import utcnow


def reconcile(
    location_id: Annotated[str | None, typer.Option(help="Only this location's levels")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (the "
                                                         "answer of GET /v1/admin/reconcile)")]
    = False,
    textfile: Annotated[Path | None, typer.Option(
        help="Also write the result as Prometheus metrics to this file (node exporter's "
             "textfile format: stockline_reconcile_drift, ..._last_run_timestamp_seconds)")]
    = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Check every level against its ledger, live reservations, open transfers, lots, open
    purchase orders and event log (as GET /v1/admin/reconcile). Exits 1 when anything
    drifts, 0 when every invariant holds."""
    if textfile is not None and location_id is not None:
        console.print("[red]--textfile reports the whole database (its metrics stand for "
                      "every level): leave out --location-id[/red]")
        raise typer.Exit(2)
    settings = settings_from(database_url=database_url)
    started = utcnow()
    try:
        report = asyncio.run(_reconcile(settings, location_id))
    except (DBAPIError, OSError) as error:
        say_unreadable(settings, error)
        raise typer.Exit(2) from error
    if textfile is not None:
        _write_textfile(textfile, report, started)
    if as_json:
        stdout.print_json(data=report.as_dict())
    elif report.drift:
        wide(stdout).print(_drift_table(report))
    if report.total:
        counts = ", ".join(f"{check}: {n}" for check, n in sorted(report.counts.items()))
        console.print(f"[red]drift found[/red] in {report.checked} levels ({counts})")
        raise typer.Exit(1)
    console.print(f"[green]no drift[/green]: {report.checked} levels reconcile")


def _write_textfile(path: Path, report: ReconcileReport, started: datetime) -> None:
    """Written whole or not at all (a file beside it, renamed over it): the node exporter
    never reads half of it."""
    try:
        write_to_textfile(str(path), reconcile_registry(report, started))
    except OSError as error:
        console.print(f"[red]cannot write {escape(str(path))}: "
                      f"{escape(error.strerror or str(error))}[/red]")
        raise typer.Exit(2) from error


def _drift_table(report: ReconcileReport) -> Table:
    table = Table("check", "location", "sku", "expected", "actual", "detail",
                  title=f"{report.total} drift(s) in {report.checked} levels"
                        + (f" (first {len(report.drift)} shown)" if report.truncated
                           else ""), box=box.SIMPLE_HEAD)
    for d in report.drift:
        table.add_row(d.check.value, d.location_id or "-", d.sku or "-", str(d.expected),
                      str(d.actual), escape(d.detail))
    return table


async def _reconcile(settings: Settings, location_id: str | None) -> ReconcileReport:
    database = open_database(settings.database_url)
    try:
        with Progress(TextColumn("reconciling levels"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("levels", total=None)
            async for step in Reconciler(database.read).run(now=utcnow(),
                                                           location_id=location_id):
                if isinstance(step, ReconcileReport):
                    return step
                progress.update(task, completed=step.checked, total=step.of)
    finally:
        await database.dispose()
    raise AssertionError("the reconciler ends with its report")
