"""``stockline import KIND FILE``: a CSV file checked and applied as POST /v1/imports does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from stockline.bootstrap import Container
from stockline.config import Settings
from stockline.domain.errors import DomainError
from stockline.domain.imports import ImportFile, ImportKind, ImportResult, InvalidRows
from stockline.entrypoints.cli.base import (
    DatabaseUrl,
    console,
    run_in_container,
    settings_from,
    wide,
)
from stockline.entrypoints.cli.base import stdout as out
from stockline.entrypoints.cli.keys import CLI_CALLER
from stockline.entrypoints.imports import read_file
from stockline.services.imports.files import import_file

CHUNK = 1 << 20
SHOWN_ERRORS = 200


def import_(
    kind: Annotated[ImportKind, typer.Argument(help="What the file holds")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="A CSV file, UTF-8, header row first")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; write nothing")]
    = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Import a CSV file of products, locations, levels or suppliers straight into the
    database, by the same checks and the same service as POST /v1/imports/{kind}: every
    bad row is listed and nothing changes, or the whole file is applied. Prints the
    answer as JSON; exits 1 when the file is refused."""
    settings = settings_from(database_url=database_url)
    with Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        data = _read(file, progress)
        checking = progress.add_task("checking", total=None)
        checked = read_file(kind, data, max_rows=settings.import_max_rows, dry_run=dry_run,
                            on_rows=lambda done, total: progress.update(
                                checking, completed=done, total=total))
        progress.update(checking, total=checked.total, completed=checked.total)
        applying = progress.add_task("checking" if dry_run else "applying", total=1)
        result = _apply(settings, checked)
        progress.update(applying, completed=1)
    out.print_json(data={"kind": result.kind.value, "rows": result.rows,
                         "created": result.created, "updated": result.updated,
                         "unchanged": result.unchanged, "dry_run": result.dry_run})


def _read(file: Path, progress: Progress) -> bytes:
    reading = progress.add_task("reading", total=file.stat().st_size)
    parts = []
    with file.open("rb") as source:
        while chunk := source.read(CHUNK):
            parts.append(chunk)
            progress.advance(reading, len(chunk))
    return b"".join(parts)


def _apply(settings: Settings, checked: ImportFile[Any]) -> ImportResult:
    def explain(error: DomainError) -> None:
        if isinstance(error, InvalidRows):
            wide(out).print(_errors_table(error))

    async def work(container: Container) -> ImportResult:
        return await container.writes.run(import_file, checked, CLI_CALLER)

    return run_in_container(settings, work, explain=explain)


def _errors_table(refused: InvalidRows) -> Table:
    errors = refused.errors
    title = f"{len(errors)} error(s)" + (f", first {SHOWN_ERRORS} shown"
                                         if len(errors) > SHOWN_ERRORS else "")
    table = Table("line", "column", "message", title=title, box=box.SIMPLE_HEAD)
    for e in errors[:SHOWN_ERRORS]:
        table.add_row(str(e.line), escape(e.field), escape(e.message))
    return table
