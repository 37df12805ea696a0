"""``stockline relay``: the outbox relay on its own, without serving HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from stockline.adapters.logging import configure_logging, redact
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.entrypoints.cli.base import DatabaseUrl, console, settings_from


def relay(database_url: DatabaseUrl = None) -> None:
    """Run the outbox relay alone, without serving HTTP: committed changes become the event
    log and go on the bus (STOCKLINE_BUS_URL) until SIGTERM or Ctrl-C. Safe beside servers,
    which relay too: one relay at a time holds the lease and moves events."""
    settings = settings_from(database_url=database_url)
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(_relay(settings))


async def _relay(settings: Settings) -> None:
    container = bootstrap(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await container.bus.start()
    except Exception as error:  # the events wait in the log until the bus answers
        console.print(f"[yellow]bus {container.bus.name} not reachable yet:[/yellow] {error}")
    running = asyncio.create_task(container.relay.run(), name="relay")
    console.print(f"relay [bold]{settings.node_name}[/bold] running "
                  f"({redact(settings.database_url)}, bus {container.bus.name}); "
                  "SIGTERM or Ctrl-C stops it")
    try:
        await stop.wait()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await container.bus.close()
        await container.close()
    console.print("relay stopped")
