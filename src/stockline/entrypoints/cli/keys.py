"""``stockline keys``: create (shown once), list and revoke API keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from stockline.adapters.credentials import new_api_key
from stockline.bootstrap import Container
from stockline.config import Settings
from stockline.domain.keys import ApiKey, CreateApiKey, RevokeApiKey
from stockline.domain.security import Role
from stockline.entrypoints.cli.base import DatabaseUrl, T, run_in_container, stdout, wide
from stockline.services import keys as key_service
from stockline.services.executor import Caller, utcnow

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.",
                       no_args_is_help=True)
# The keys commands act as Stockline itself (no principal to limit them): whoever can run
# them can reach the database anyway.
CLI_CALLER = Caller(principal="cli", actor="cli")


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
    created = _keys_run(database_url, lambda c: c.writes.run(
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
    wide(stdout).print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...)")],
                database_url: DatabaseUrl = None) -> None:
    """Revoke an API key and its access tokens. Running servers stop accepting it within
    STOCKLINE_KEY_CACHE_SECONDS (a few seconds)."""
    revoked = _keys_run(database_url, lambda c: c.writes.run(
        key_service.revoke_key, RevokeApiKey(key_id=key_id), CLI_CALLER))
    when = revoked.revoked_at.isoformat() if revoked.revoked_at else "?"
    stdout.print(f"[green]revoked[/green] {revoked.id} ({escape(revoked.name)}) at {when}")


def _keys_run(database_url: str | None, work: Callable[[Container], Awaitable[T]]) -> T:
    settings = Settings(database_url=database_url) if database_url else Settings()
    return run_in_container(settings, work)


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
