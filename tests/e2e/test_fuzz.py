"""Schemathesis over the server's own OpenAPI document: every check, no failure.

A real ``stockline serve`` (its own database, on both backends) is fuzzed with the admin
key through every phase: the schema's examples, coverage of each constraint's edges,
random valid and invalid requests, and stateful sequences along the links it infers
(create a product, then read, patch and stock it; record a sale, then return it; ...).
Every check is on (``--checks all``): no 5xx, only documented statuses, content types
and headers, answers that match their schema, invalid input refused, valid input
accepted. What the schema cannot say about a request is in tests/e2e/fuzz_hooks.py and
tests/e2e/schemathesis.toml, each with its reason.

The quick run takes about 30 s a backend; STOCKLINE_SOAK=1 runs 200 examples an operation
and fuzzes for up to 10 minutes a backend:

    STOCKLINE_SOAK=1 .venv/bin/pytest tests/e2e/test_fuzz.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Databases, LiveServer, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("st")
SOAK = os.environ.get("STOCKLINE_SOAK") == "1"
# Runs of (phases, examples per operation, seconds at most). The quick one gives the
# single-request phases and the stateful one a time box each, so that both always run.
RUNS = ([("examples,coverage,fuzzing,stateful", 200, 600)] if SOAK else
        [("examples,coverage,fuzzing", 5, 15), ("stateful", 5, 10)])
# A time box spent before the first case (loading the document and probing the server
# take seconds on a loaded machine) is run again once with this much more time.
LOADED_MACHINE_SECONDS = 60

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def fuzz_database_url(backend: str, databases: Databases) -> str:
    """A database of its own: the fuzzer fills it with whatever it can make."""
    return await databases.new(backend)


@pytest.fixture(scope="module")
def fuzz_server(fuzz_database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    # A signing key, so that /v1/oauth/token answers as it does in production.
    server = start_server(fuzz_database_url, tmp_path_factory.mktemp("fuzz"), extra_env={
        "STOCKLINE_TOKEN_SECRET": "fuzz-signing-secret-0123456789abcdef0123"})
    try:
        yield server
    finally:
        stop_server(server)


def _schemathesis(server: LiveServer, phases: str, examples: int, seconds: int,
                  report: Path) -> tuple[int, str]:
    command = [str(SCHEMATHESIS), "--config-file", str(ROOT / "tests/e2e/schemathesis.toml"),
               "run", f"{server.base_url}/openapi.json",
               # Every check runs by default; "--checks all" would also override the
               # per-operation settings of schemathesis.toml, so it is not given.
               "--header", f"X-API-Key: {server.admin_key}",
               "--phases", phases, "--max-examples", str(examples), "--max-time", str(seconds),
               # One worker: with two, Hypothesis's ast.parse of lambdas in two threads at
               # once now and then fails inside CPython 3.11.7 ("SystemError: AST
               # constructor recursion depth mismatch"), an error of the tool, not the API.
               "--workers", "1", "--no-color", "--max-failures", "50",
               "--generation-database", "none",
               "--report", "junit", "--report-junit-path", str(report)]
    # Run in a scratch folder: schemathesis leaves a .schemathesis cache where it runs.
    result = subprocess.run(command, cwd=report.parent, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=seconds + 300, check=False)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(("phases", "examples", "seconds"), RUNS,
                         ids=[phases.split(",")[-1] for phases, _, _ in RUNS])
def test_schemathesis_finds_no_failure(fuzz_server: LiveServer, tmp_path: Path,
                                       record_property: pytest.RecordProperty, phases: str,
                                       examples: int, seconds: int) -> None:
    code, output = _schemathesis(fuzz_server, phases, examples, seconds, tmp_path / "junit.xml")
    if code == 0 and re.search(r"(\d+) generated", output) is None:
        code, output = _schemathesis(fuzz_server, phases, examples, LOADED_MACHINE_SECONDS,
                                     tmp_path / "junit.xml")
    cases = re.search(r"(\d+) generated", output)
    record_property("fuzz_cases", cases.group(1) if cases else "?")
    summary = re.search(r"\d+ generated[^\n]*", output)
    sys.stdout.write(f"\nschemathesis ({phases}): {summary.group(0) if summary else '?'}\n")
    assert code == 0, output[-20_000:]
    assert cases is not None and int(cases.group(1)) > 0, output[-5_000:]
    server_log = fuzz_server.log_path.read_text(errors="replace")
    assert "unhandled_error" not in server_log, server_log[-5_000:]
