"""``stockline migrate`` and ``stockline demo``: the schema, and the demo data set."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from stockline.adapters.database import open_database
from stockline.adapters.logging import redact
from stockline.adapters.migrate import upgrade
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.entrypoints.cli.base import (
    DatabaseUrl,
    console,
    say_unreadable,
    settings_from,
)
from stockline.entrypoints.demo import DemoLoadError, DemoReport, load_demo


def migrate(database_url: DatabaseUrl = None) -> None:
    """Bring the database schema up to date (safe to run again)."""
    settings = settings_from(database_url=database_url)
    asyncio.run(_migrate(settings))
    console.print(f"[green]schema up to date[/green] ({redact(settings.database_url)})")


async def _migrate(settings: Settings) -> None:
    database = open_database(settings.database_url)
    try:
        await upgrade(database.write)
    finally:
        await database.dispose()


def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Load only into a database "
                                                               "without products")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Load the demo data set: a sports brand's warehouses, stores, catalog, stock and three
    weeks of sales (safe to run again: only what is missing is added)."""
    settings = settings_from(database_url=database_url)
    asyncio.run(_demo(settings, if_empty=if_empty))


async def _demo(settings: Settings, *, if_empty: bool) -> None:
    container = bootstrap(settings)
    try:
        try:
            count = await container.queries.product_count()
        except (DBAPIError, OSError) as error:
            say_unreadable(settings, error)
            raise typer.Exit(1) from error
        if if_empty and count:
            console.print(f"demo data skipped: the database has {count} products already "
                          f"({redact(settings.database_url)})")
            return
        started = time.monotonic()
        try:
            with Progress(TextColumn("{task.description:<22}"), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
                report = await load_demo(container, progress=progress)
        except DemoLoadError as error:
            console.print(f"[red]demo data not loaded:[/red] {error}")
            raise typer.Exit(1) from error
        console.print(_demo_table(report))
        outcome = "loaded" if report.added else "already complete: nothing added"
        console.print(f"[green]demo data {outcome}[/green] in {time.monotonic() - started:.1f} s "
                      f"({redact(settings.database_url)})")
    finally:
        await container.close()


def _demo_table(report: DemoReport) -> Table:
    table = Table("", "added", "already there", "refused", title="stockline demo")
    for label, step in (("products", report.products), ("locations", report.locations),
                        ("stocked levels", report.stock), ("reorder points", report.settings),
                        ("sales", report.sales), ("returns", report.returns),
                        ("staff reports", report.feedback), ("counts", report.counts)):
        table.add_row(label, str(step.created), str(step.present), str(step.refused))
    return table
