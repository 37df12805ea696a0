"""``stockline rollup``: fold every waiting sale into the sales report's rollup now."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from stockline.adapters.database import open_database
from stockline.adapters.rollup import fold_waiting
from stockline.config import Settings
from stockline.entrypoints.cli.base import DatabaseUrl, console, say_unreadable, settings_from


def rollup(
    batch: Annotated[int, typer.Option(min=1, help="Sales a fold transaction takes (on "
                                                   "SQLite, sales wait while one runs)")]
    = 5_000,
    database_url: DatabaseUrl = None,
) -> None:
    """Fold every sale the sales report's rollup does not hold yet (the servers do it in
    the background, every STOCKLINE_ROLLUP_INTERVAL_SECONDS): after loading sales straight
    into the tables, say. Safe beside running servers: one fold runs at a time."""
    settings = settings_from(database_url=database_url)
    started = time.perf_counter()
    try:
        folded = asyncio.run(_rollup(settings, batch))
    except (DBAPIError, OSError) as error:
        say_unreadable(settings, error, verb="fold the sales of")
        raise typer.Exit(2) from error
    console.print(f"[green]folded[/green] {folded} sales in "
                  f"{time.perf_counter() - started:.1f} s")


async def _rollup(settings: Settings, batch: int) -> int:
    database = open_database(settings.database_url)
    try:
        return await fold_waiting(database.write, batch=batch, batches=2**62)
    finally:
        await database.dispose()
