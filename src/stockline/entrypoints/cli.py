"""The ``stockline`` command: serve, migrate, demo, relay, reconcile, keys."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from stockline.adapters.credentials import new_api_key
from stockline.adapters.database import open_database
from stockline.adapters.migrate import upgrade
from stockline.adapters.reconcile import Reconciler
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.domain.errors import DomainError
from stockline.domain.keys import ApiKey, CreateApiKey, RevokeApiKey
from stockline.domain.reconcile import ReconcileReport
from stockline.domain.security import Role
from stockline.entrypoints.demo import DemoLoadError, DemoReport, load_demo
from stockline.services import keys as key_service
from stockline.services.executor import Caller, StorageUnavailable, utcnow

app = typer.Typer(help="Stockline: real-time inventory and sales.", no_args_is_help=True,
                  add_completion=False)
console = Console(stderr=True)
stdout = Console()  # what a command answers (a key, a list), apart from its messages
T = TypeVar("T")


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
    ssl_certfile: Annotated[Path | None, typer.Option(
        help="Serve HTTPS with this certificate chain (PEM); needs --ssl-keyfile")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(
        help="The certificate's private key (PEM)")] = None,
) -> None:
    """Serve the API (and /docs). Prints the admin key to use (outside production)."""
    try:
        settings = _settings(host=host, port=port, workers=workers, admin_key=admin_key,
                             database_url=database_url, ssl_certfile=ssl_certfile,
                             ssl_keyfile=ssl_keyfile)
    except ValidationError as error:
        _refuse_to_serve("the settings are refused", _problems(error))
    tls = _tls_problem(settings)
    if tls is not None:
        _refuse_to_serve("TLS cannot start", [tls])
    key, source = ensure_admin_key(settings)
    os.environ["STOCKLINE_ADMIN_KEY"] = key
    if settings.workers > 1:
        metrics_dir = settings.var_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    scheme = "https" if settings.ssl_certfile else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"
    shown = (f"[bold]{key}[/bold]" if settings.env != "production"
             else "(set; not printed in production)")
    console.print(Panel.fit(
        f"Stockline on [bold]{base}[/bold]  (API docs: {base}/docs)\n"
        f"Database: {_redacted(settings.database_url)}\n"
        f"Admin key: {shown}\n  from {source}\n"
        f"Try:  curl -H 'X-API-Key: <admin key>' {base}/v1/warehouses",
        title="stockline serve"))
    # uvicorn re-raises the SIGTERM it shut down on once done: the process would end
    # "killed by SIGTERM" (-15) after a clean stop. Let that re-raise exit 0 instead.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run("stockline.entrypoints.http.app:create_app_from_env", factory=True,
                host=settings.host, port=settings.port, workers=settings.workers,
                log_level=settings.log_level, access_log=False, server_header=False,
                timeout_keep_alive=settings.keep_alive_seconds,
                # In-flight requests get this long to finish; then the rest are cut off.
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
                ssl_certfile=settings.ssl_certfile, ssl_keyfile=settings.ssl_keyfile,
                # X-Forwarded-For/-Proto are believed only from the proxies named.
                proxy_headers=settings.trusted_proxies is not None,
                forwarded_allow_ips=settings.trusted_proxies)


GRACEFUL_SHUTDOWN_SECONDS = 10


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _problems(error: ValidationError) -> list[str]:
    found = []
    for item in error.errors():
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        where = ".".join(str(part) for part in item.get("loc", ()))
        if where:  # one field's value: named, never shown (it may be a secret)
            found.append(f"STOCKLINE_{where.upper()}: {message}")
        else:  # the production rules: each problem on its own line
            found.extend(message.removeprefix("production settings refused: ").split("; "))
    return found


def _tls_problem(settings: Settings) -> str | None:
    """Why the TLS settings cannot work, found before uvicorn fails with a traceback."""
    cert, key = settings.ssl_certfile, settings.ssl_keyfile
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        return "--ssl-certfile and --ssl-keyfile (STOCKLINE_SSL_CERTFILE/KEYFILE) go together"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        return f"cannot load the certificate {cert} with the key {key}: {error}"
    return None


def _refuse_to_serve(what: str, problems: list[str]) -> NoReturn:
    console.print(f"[red]stockline serve: {what}:[/red]\n" +
                  "\n".join(f"  - {escape(p)}" for p in problems))
    raise typer.Exit(2)


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


def _say_unreadable(settings: Settings, error: DBAPIError | OSError) -> None:
    reason = error.orig if isinstance(error, DBAPIError) else error
    console.print(f"[red]cannot read the database[/red] "
                  f"({_redacted(settings.database_url)}): {escape(str(reason))}\n"
                  "Is it reachable, and is its schema up to date (`stockline migrate`)?")


async def _demo(settings: Settings, *, if_empty: bool) -> None:
    container = bootstrap(settings)
    try:
        try:
            count = await container.queries.product_count()
        except (DBAPIError, OSError) as error:
            _say_unreadable(settings, error)
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


# -- reconcile ------------------------------------------------------------------------------

@app.command()
def reconcile(
    location_id: Annotated[str | None, typer.Option(help="Only this location's levels")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (the "
                                                         "answer of GET /v1/admin/reconcile)")]
    = False,
    database_url: Annotated[str | None, typer.Option(help="Overrides "
                                                          "STOCKLINE_DATABASE_URL")] = None,
) -> None:
    """Check every level against its ledger, live reservations, open transfers, lots, open
    purchase orders and event log (as GET /v1/admin/reconcile). Exits 1 when anything
    drifts, 0 when every invariant holds."""
    settings = _settings(database_url=database_url)
    try:
        report = asyncio.run(_reconcile(settings, location_id))
    except (DBAPIError, OSError) as error:
        _say_unreadable(settings, error)
        raise typer.Exit(2) from error
    if as_json:
        stdout.print_json(data=report.as_dict())
    elif report.drift:
        table = Table("check", "location", "sku", "expected", "actual", "detail",
                      title=f"{report.total} drift(s) in {report.checked} levels"
                            + (f" (first {len(report.drift)} shown)" if report.truncated
                               else ""), box=box.SIMPLE_HEAD)
        for d in report.drift:
            table.add_row(d.check.value, d.location_id or "-", d.sku or "-", str(d.expected),
                          str(d.actual), escape(d.detail))
        (stdout if stdout.is_terminal else Console(width=250)).print(table)
    if report.total:
        counts = ", ".join(f"{check}: {n}" for check, n in sorted(report.counts.items()))
        console.print(f"[red]drift found[/red] in {report.checked} levels ({counts})")
        raise typer.Exit(1)
    console.print(f"[green]no drift[/green]: {report.checked} levels reconcile")


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


# -- keys -----------------------------------------------------------------------------------

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")
# The keys commands act as Stockline itself (no principal to limit them): whoever can run
# them can reach the database anyway.
CLI_CALLER = Caller(principal="cli", actor="cli")
DatabaseUrl = Annotated[str | None, typer.Option(help="Overrides STOCKLINE_DATABASE_URL")]


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    role: Annotated[Role, typer.Option(help="What the key may do")],
    location: Annotated[list[str] | None, typer.Option(
        help="Limit the key to this location (repeat for several)")] = None,
    expires_at: Annotated[str | None, typer.Option(
        help="When it stops working: ISO 8601 with an offset, e.g. 2027-01-31T00:00:00Z")]
    = None,
    rate_limit: Annotated[float | None, typer.Option(
        help="Its own rate limit, requests a second (default: its role's)")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print it: it is shown this once and never stored."""
    expiry = _parse_expiry(expires_at)
    issued = new_api_key()
    command = CreateApiKey(name=name, role=role.value,
                           location_ids=tuple(location) if location else None,
                           expires_at=expiry, rate_limit=rate_limit, prefix=issued.prefix,
                           secret_hash=issued.secret_hash)
    created = _keys_run(database_url, lambda c: c.executor.run(
        key_service.create_key, command, CLI_CALLER))
    stdout.print(Panel.fit(
        f"id:        {created.id}\nname:      {escape(created.name)}\n"
        f"role:      {created.role.value}\n"
        f"locations: {', '.join(created.locations) if created.locations else 'every location'}"
        f"\nexpires:   {created.expires_at.isoformat() if created.expires_at else 'never'}"
        f"\nrate:      {f'{created.rate_limit:g}/s' if created.rate_limit else 'its role'}\n\n"
        "The key, on the last line, is shown this once: Stockline keeps only its hash.",
        title="stockline keys create"))
    # On a line of its own, never folded, so it copies (or pipes: `| tail -1`) whole.
    stdout.print(issued.key, soft_wrap=True, highlight=False, markup=False)


@keys_app.command("list")
def keys_list(
    role: Annotated[Role | None, typer.Option(help="Only keys of this role")] = None,
    revoked: Annotated[bool | None, typer.Option(
        "--revoked/--not-revoked", help="Only revoked keys, or only the others")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List API keys, newest first (never their secrets)."""
    found = _keys_run(database_url, lambda c: _all_keys(c, role, revoked))
    now = utcnow()
    table = Table(title=f"{len(found)} API keys (times in UTC)", box=box.SIMPLE_HEAD)
    for column in ("id", "prefix"):  # never folded: they are what one copies
        table.add_column(column, no_wrap=True)
    for column in ("name", "role", "status", "locations", "expires", "last used"):
        table.add_column(column)
    for k in found:
        table.add_row(k.id, k.prefix, escape(k.name), k.role.value, k.status(now).value,
                      ", ".join(k.locations) if k.locations else "all",
                      _when(k.expires_at), _when(k.last_used_at))
    # Piped (to grep, a file): one line per key, not folded to a default 80 columns.
    (stdout if stdout.is_terminal else Console(width=250)).print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...)")],
                database_url: DatabaseUrl = None) -> None:
    """Revoke an API key and its access tokens. Running servers stop accepting it within
    STOCKLINE_KEY_CACHE_SECONDS (a few seconds)."""
    revoked = _keys_run(database_url, lambda c: c.executor.run(
        key_service.revoke_key, RevokeApiKey(key_id=key_id), CLI_CALLER))
    when = revoked.revoked_at.isoformat() if revoked.revoked_at else "?"
    stdout.print(f"[green]revoked[/green] {revoked.id} ({escape(revoked.name)}) at {when}")


def _keys_run(database_url: str | None, work: Callable[[Container], Awaitable[T]]) -> T:
    settings = Settings(database_url=database_url) if database_url else Settings()

    async def run() -> T:
        container = bootstrap(settings)
        try:
            return await work(container)
        finally:
            await container.close()
    try:
        return asyncio.run(run())
    except DomainError as error:
        console.print(f"[red]refused:[/red] {escape(str(error))}")
        raise typer.Exit(1) from error
    except (DBAPIError, OSError, StorageUnavailable) as error:
        reason = error.orig if isinstance(error, DBAPIError) else error
        console.print(f"[red]cannot use the database[/red] "
                      f"({_redacted(settings.database_url)}): {escape(str(reason))}\n"
                      "Is it reachable, and is its schema up to date (`stockline migrate`)?")
        raise typer.Exit(1) from error


async def _all_keys(container: Container, role: Role | None,
                    revoked: bool | None) -> list[ApiKey]:
    found: list[ApiKey] = []
    cursor = None
    while True:
        page = await container.queries.api_keys(role=role.value if role else None,
                                                revoked=revoked, limit=500, cursor=cursor)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _parse_expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise typer.BadParameter("give an ISO 8601 time with an offset, e.g. "
                                 "2027-01-31T00:00:00Z", param_hint="--expires-at")
    return when


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _redacted(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def main() -> None:
    app()


if __name__ == "__main__":
    main()

