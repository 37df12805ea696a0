"""What every command shares: the consoles, the settings, how a database problem is said."""

from __future__ import annotations

import os
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from stockline.adapters.logging import redact
from stockline.config import Settings

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
