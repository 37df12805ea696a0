"""What every command shares: the consoles, the settings, how a database problem is said."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from stockline.adapters.logging import redact
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.domain.errors import DomainError
from stockline.services.executor import StorageUnavailable

console = Console(stderr=True)
stdout = Console()  # what a command answers (a key, a list), apart from its messages
T = TypeVar("T")
DatabaseUrl = Annotated[str | None, typer.Option(help="Overrides STOCKLINE_DATABASE_URL")]


def settings_from(**overrides: object) -> Settings:
    """Settings from the environment, with command-line options on top (and exported, so
    that worker processes see them too)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    for name, value in given.items():
        os.environ[f"STOCKLINE_{name.upper()}"] = str(value)
    return Settings()


def say_unreadable(settings: Settings, error: Exception, *, verb: str = "read") -> None:
    reason = error.orig if isinstance(error, DBAPIError) else error
    console.print(f"[red]cannot {verb} the database[/red] "
                  f"({redact(settings.database_url)}): {escape(str(reason))}\n"
                  "Is it reachable, and is its schema up to date (`stockline migrate`)?")


def wide(target: Console) -> Console:
    """``target``, or, when piped (to grep, a file), a console whose tables keep one line
    per row instead of folding to a default 80 columns."""
    return target if target.is_terminal else Console(width=250)


def run_in_container(settings: Settings, work: Callable[[Container], Awaitable[T]], *,
                     explain: Callable[[DomainError], None] | None = None) -> T:
    """``work`` done with a container of ``settings`` (closed after). A refusal is said
    (``explain`` shows its detail first), as is a database out of reach: exit 1."""
    async def run() -> T:
        container = bootstrap(settings)
        try:
            return await work(container)
        finally:
            await container.close()
    try:
        return asyncio.run(run())
    except DomainError as error:
        if explain is not None:
            explain(error)
        console.print(f"[red]refused:[/red] {escape(str(error))}")
        raise typer.Exit(1) from error
    except (DBAPIError, OSError, StorageUnavailable) as error:
        say_unreadable(settings, error, verb="use")
        raise typer.Exit(1) from error
