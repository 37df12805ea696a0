"""``stockline graphql-schema``: the GraphQL schema in SDL, as docs/schema.graphql holds it."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

# Loaded when the command runs: building the schema loads strawberry and every GraphQL
# type, which the other commands (the relay, migrations) should not wait for at start-up.
SCHEMA_MODULE = "stockline.entrypoints.graphql.schema"


def graphql_schema(
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write it to this file (default: print it)")] = None,
) -> None:
    """Print (or write) the GraphQL schema served at /graphql."""
    text: str = importlib.import_module(SCHEMA_MODULE).schema_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
