"""``stockline maintain``: the partitions of the months ahead made now, retention applied."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from stockline.adapters.database import open_database
from stockline.adapters.partitions import Upkeep, create_ahead
from stockline.adapters.relay import prune_events
from stockline.config import Settings
from stockline.entrypoints.cli.base import DatabaseUrl, console, say_unreadable, settings_from
from stockline.services.executor import utcnow


def maintain(
    months_ahead: Annotated[int | None, typer.Option(
        min=1, max=60, help="Months of partitions made past the current one (default "
                            "STOCKLINE_PARTITION_MONTHS_AHEAD)")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make the monthly partitions of the ledger, the event log and sales up to
    ``--months-ahead`` months on (PostgreSQL; the servers do it daily), then forget the
    events past STOCKLINE_EVENT_RETENTION_DAYS that the bus and webhooks have had: whole
    months by dropping their partitions. Says what it did. Safe beside running servers."""
    settings = settings_from(database_url=database_url)
    started = time.perf_counter()
    try:
        done = asyncio.run(_maintain(settings, months_ahead or settings.partition_months_ahead))
    except (DBAPIError, OSError) as error:
        say_unreadable(settings, error, verb="maintain")
        raise typer.Exit(2) from error
    for name in done.created:
        console.print(f"[green]created[/green] {name}")
    for name in done.dropped:
        console.print(f"[yellow]dropped[/yellow] {name}")
    console.print(f"{len(done.created)} partitions created, {len(done.dropped)} dropped, "
                  f"{done.forgotten} events forgotten, in {time.perf_counter() - started:.1f} s")


async def _maintain(settings: Settings, ahead: int) -> Upkeep:
    database = open_database(settings.database_url)
    try:
        with console.status("creating the partitions ahead"):
            created = await create_ahead(database.write, now=utcnow(), ahead=ahead)
        with console.status("applying the event retention"):
            pruned = await prune_events(database.write, now=utcnow(),
                                        retention=timedelta(days=settings.event_retention_days))
        return Upkeep(created=created, dropped=pruned.dropped, forgotten=pruned.forgotten)
    finally:
        await database.dispose()
