"""The ``stockline`` command: serve, migrate, demo, relay."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import time
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from stockline.adapters.database import open_database
from stockline.adapters.migrate import upgrade
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.entrypoints.demo import DemoLoadError, DemoReport, load_demo

app = typer.Typer(help="Stockline: real-time inventory and sales.", no_args_is_help=True,
                  add_completion=False)
console = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    """Settings from the environment, with command-line options on top (and exported, so
    that worker processes see them too)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    for name, value in given.items():
        os.environ[f"STOCKLINE_{name.upper()}"] = str(value)
    return Settings()


def ensure_admin_key(settings: Settings) -> tuple[str, str]:
    """The admin key and where it came from: the setting, the kept file, or made now."""
    if settings.admin_key is not None:
        return settings.admin_key.get_secret_value(), "STOCKLINE_ADMIN_KEY"
    path = settings.var_dir / "admin_key"
    if path.exists():
        return path.read_text().strip(), str(path)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    key = "sk_admin_" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key, f"{path} (generated now)"


async def _migrate(settings: Settings) -> None:
    database = open_database(settings.database_url)
    try:
        await upgrade(database.write)
    finally:
        await database.dispose()


@app.command()
def migrate(database_url: Annotated[str | None, typer.Option(help="Overrides "
                                                                  "STOCKLINE_DATABASE_URL")] = None
            ) -> None:
    """Bring the database schema up to date (safe to run again)."""
    settings = _settings(database_url=database_url)
    asyncio.run(_migrate(settings))
    console.print(f"[green]schema up to date[/green] ({_redacted(settings.database_url)})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    admin_key: Annotated[str | None, typer.Option(help="The admin API key")] = None,
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """Serve the API (and /docs). Prints the admin key to use."""
    settings = _settings(host=host, port=port, workers=workers, admin_key=admin_key,
                         database_url=database_url)
    key, source = ensure_admin_key(settings)
    os.environ["STOCKLINE_ADMIN_KEY"] = key
    if settings.workers > 1:
        metrics_dir = settings.var_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    base = f"http://{settings.host}:{settings.port}"
    console.print(Panel.fit(
        f"Stockline on [bold]{base}[/bold]  (API docs: {base}/docs)\n"
        f"Database: {_redacted(settings.database_url)}\n"
        f"Admin key: [bold]{key}[/bold]\n  from {source}\n"
        f"Try:  curl -H 'X-API-Key: {key}' {base}/v1/warehouses",
        title="stockline serve"))
    uvicorn.run("stockline.entrypoints.http.app:create_app_from_env", factory=True,
                host=settings.host, port=settings.port, workers=settings.workers,
                log_level=settings.log_level, access_log=False, server_header=False,
                timeout_keep_alive=settings.keep_alive_seconds)


@app.command()
def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Load only into a database "
                                                               "without products")] = False,
    database_url: Annotated[str | None, typer.Option(help="Overrides "
                                                          "STOCKLINE_DATABASE_URL")] = None,
) -> None:
    """Load the demo data set: a sports brand's warehouses, stores, catalog, stock and three
    weeks of sales (safe to run again: only what is missing is added)."""
    settings = _settings(database_url=database_url)
    asyncio.run(_demo(settings, if_empty=if_empty))


async def _demo(settings: Settings, *, if_empty: bool) -> None:
    container = bootstrap(settings)
    try:
        try:
            count = await container.queries.product_count()
        except (DBAPIError, OSError) as error:
            reason = error.orig if isinstance(error, DBAPIError) else error
            console.print(f"[red]cannot read the database[/red] "
                          f"({_redacted(settings.database_url)}): {reason}\n"
                          "Is it reachable, and is its schema up to date (`stockline migrate`)?")
            raise typer.Exit(1) from error
        if if_empty and count:
            console.print(f"demo data skipped: the database has {count} products already "
                          f"({_redacted(settings.database_url)})")
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
                      f"({_redacted(settings.database_url)})")
    finally:
        await container.close()


def _demo_table(report: DemoReport) -> Table:
    table = Table("", "added", "already there", "refused", title="stockline demo")
    for label, step in (("products", report.products), ("locations", report.locations),
                        ("stocked levels", report.stock), ("reorder points", report.settings),
                        ("sales", report.sales)):
        table.add_row(label, str(step.created), str(step.present), str(step.refused))
    return table


@app.command()
def relay(database_url: Annotated[str | None, typer.Option(help="Overrides "
                                                                "STOCKLINE_DATABASE_URL")] = None
          ) -> None:
    """Run the outbox relay alone, without serving HTTP: committed changes become the event
    log and go on the bus (STOCKLINE_BUS_URL) until SIGTERM or Ctrl-C. Safe beside servers,
    which relay too: one relay at a time holds the lease and moves events."""
    settings = _settings(database_url=database_url)
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
                  f"({_redacted(settings.database_url)}, bus {container.bus.name}); "
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


def _redacted(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def main() -> None:
    app()


if __name__ == "__main__":
    main()

