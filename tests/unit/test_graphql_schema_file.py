"""docs/schema.graphql is the schema /graphql serves: regenerate it with
``stockline graphql-schema -o docs/schema.graphql`` when the schema changes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stockline.entrypoints.cli import app
from stockline.entrypoints.graphql.schema import schema_text

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "schema.graphql"


def test_the_committed_schema_is_the_one_served() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "docs/schema.graphql is stale: run `stockline graphql-schema -o docs/schema.graphql`")


def test_the_command_prints_the_schema() -> None:
    result = CliRunner().invoke(app, ["graphql-schema"])
    assert result.exit_code == 0, result.output
    assert result.output == schema_text()
    assert "type Query {" in result.output and "type Subscription {" in result.output
