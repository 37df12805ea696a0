"""The ``stockline`` command: serve, migrate, demo, relay, reconcile, rollup, maintain, keys,
import, graphql-schema.

One module per command (``keys`` per command group); this one puts them together.
"""

from __future__ import annotations

import typer

from stockline.entrypoints.cli.graphql_schema import graphql_schema
from stockline.entrypoints.cli.imports import import_
from stockline.entrypoints.cli.keys import keys_app
from stockline.entrypoints.cli.maintain import maintain
from stockline.entrypoints.cli.migrate import demo, migrate
from stockline.entrypoints.cli.reconcile import reconcile
from stockline.entrypoints.cli.relay import relay
from stockline.entrypoints.cli.rollup import rollup
from stockline.entrypoints.cli.serve import ensure_admin_key, serve

__all__ = ["app", "ensure_admin_key", "main"]

app = typer.Typer(help="Stockline: real-time inventory and sales.", no_args_is_help=True,
                  add_completion=False)
for command in (serve, migrate, demo, relay, reconcile, rollup, maintain):
    app.command()(command)
app.add_typer(keys_app, name="keys")
app.command("import")(import_)
app.command("graphql-schema")(graphql_schema)


def main() -> None:
    app()
