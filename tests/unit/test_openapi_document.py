"""The OpenAPI document is one a client generator can use as it is: operation ids and
component names fit to be method and class names, problems typed and under their media
type, the event stream declared as a stream. A client generated from it (by
openapi-python-client) passes ``mypy --strict``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from stockline.domain.errors import (
    AlreadyExists,
    DomainError,
    ExcessLine,
    Forbidden,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidInput,
    InvalidState,
    NotFound,
    QuantityExceeded,
    ShortLine,
    VersionConflict,
)
from stockline.entrypoints.http.app import create_app
from stockline.entrypoints.http.errors import PROBLEM_JSON, domain_problem
from stockline.entrypoints.http.schemas.common import Problem

SPEC: dict[str, Any] = create_app().openapi()
OPERATIONS = [(method, path, operation) for path, item in SPEC["paths"].items()
              for method, operation in item.items()]
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
CODEGEN = Path(sys.prefix) / "codegen" / "bin"  # made by `make` beside the project's venv
# mypy's cache of what does not change between runs (the standard library, httpx, attrs):
# kept beside the generator, so that a run checks only the generated package afresh
# (a cold cache is most of the test's time: the standard library's stubs checked again).
MYPY_CACHE = CODEGEN.parent / "mypy-cache"


def _schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = SPEC["components"]["schemas"][name]
    return found


def test_operation_ids_are_unique_and_lower_camel_case() -> None:
    ids = [operation["operationId"] for _, _, operation in OPERATIONS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*", i)] == []
    by_route = {(m.upper(), p): o["operationId"] for m, p, o in OPERATIONS}
    assert by_route[("POST", "/v1/sales/record")] == "recordSale"
    assert by_route[("GET", "/v1/inventory")] == "listInventory"
    assert by_route[("GET", "/v1/inventory/{location_id}/{sku}")] == "getLevel"
    assert by_route[("POST", "/v1/inventory/update")] == "updateInventory"
    assert by_route[("GET", "/v1/sales")] == "listSales"
    assert by_route[("GET", "/v1/sales/{sale_id}")] == "getSale"
    assert by_route[("POST", "/v1/products")] == "createProduct"


def _inline_titles(node: Any) -> list[str]:
    """Titles of object schemas written out in place rather than named components: a
    generator names a class after them (``Response Healthz Healthz Get``)."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node and "title" in node:
            found.append(node["title"])
        for value in node.values():
            found.extend(_inline_titles(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_inline_titles(value))
    return found


def test_component_names_are_plain_class_names() -> None:
    names = list(SPEC["components"]["schemas"])
    assert [n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)] == []
    assert "LevelPage" in names and "SalePage" in names
    assert _inline_titles(SPEC["paths"]) == []


def test_the_stream_is_declared_as_an_event_stream_only() -> None:
    answers = SPEC["paths"]["/v1/events/stream"]["get"]["responses"]
    assert list(answers["200"]["content"]) == ["text/event-stream"]
    assert answers["200"]["content"]["text/event-stream"]["schema"]["type"] == "string"
    problems = {s: a for s, a in answers.items() if s != "200"}
    assert {"401", "403", "422", "429"} <= set(problems)
    assert all(a["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}
               for a in problems.values())


def _free_text(schema: dict[str, Any]) -> bool:
    """A string schema that says nothing of its characters (no pattern, enum or format)."""
    if any(_free_text(x) for x in schema.get("anyOf", [])):
        return True
    return schema.get("type") == "string" and not {"pattern", "enum", "format"} & set(schema)


def test_every_text_parameter_says_it_takes_no_nul_character() -> None:
    """A NUL character in a query value or header is refused (422) on every route; the
    document says so of each text parameter, so that a fuzzer or a client's validation
    knows the refusal before it is made."""
    free = [(method, path, p["name"]) for method, path, operation in OPERATIONS
            for p in operation.get("parameters", [])
            if p["in"] in ("query", "header") and _free_text(p.get("schema", {}))]
    assert free == []


def test_every_problem_answer_is_problem_json_with_the_problem_schema() -> None:
    wrong = [(m, p, s, answer.get("content")) for m, p, operation in OPERATIONS
             for s, answer in operation["responses"].items()
             if s[0] in "45" and answer.get("content") != {PROBLEM_JSON: {"schema": PROBLEM_REF}}]
    assert wrong == []


def test_the_problem_members_are_typed() -> None:
    problem = _schema("Problem")["properties"]
    lines = problem["lines"]["anyOf"][0]
    assert lines == {"type": "array", "items": {"$ref": "#/components/schemas/ProblemLine"}}
    line = _schema("ProblemLine")
    assert set(line["required"]) == {"sku", "requested"}
    assert {"available", "allowed", "lot"} <= set(line["properties"])
    errors = problem["errors"]["anyOf"][0]
    assert errors == {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}
    assert set(_schema("FieldError")["required"]) == {"field", "message"}
    for member, kind in (("location_id", "string"), ("expected_version", "integer"),
                         ("retry_after", "integer"), ("abridged", "boolean")):
        assert problem[member]["anyOf"][0]["type"] == kind


EVERY_DOMAIN_ERROR: list[DomainError] = [
    NotFound("product", "SKU-1"), AlreadyExists("product", "SKU-1"),
    InsufficientStock("S1", (ShortLine("SKU-1", 3, 1), ShortLine("SKU-2", 2, 0, lot="L1"))),
    QuantityExceeded("sale", "S-1", (ExcessLine("SKU-1", 3, 1),)),
    VersionConflict("S1", "SKU-1", 3, 4), InvalidState("sale", "S-1", "returned", "return"),
    InvalidInput("lines", "too many"), Forbidden("no"), IdempotencyKeyReused("k"),
    IdempotencyKeyInUse("k"),
]


@pytest.mark.parametrize("error", EVERY_DOMAIN_ERROR, ids=lambda e: type(e).__name__)
def test_every_member_a_domain_problem_carries_is_declared_and_typed(
        error: DomainError) -> None:
    _, body = domain_problem(error)
    sent = orjson.loads(body)
    assert set(sent) <= set(Problem.model_fields), set(sent) - set(Problem.model_fields)
    parsed = Problem.model_validate(sent)  # with their declared types
    assert parsed.model_dump(exclude_none=True) == sent


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{CODEGEN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.mark.slow
def test_a_generated_client_has_no_warnings_and_passes_mypy_strict(tmp_path: Path) -> None:
    generator = shutil.which("openapi-python-client", path=str(CODEGEN))
    if generator is None:
        if os.environ.get("CI"):
            pytest.fail("openapi-python-client is required under CI (make installs it in "
                        ".venv/codegen)")
        pytest.skip("no .venv/codegen (make .venv/.installed-dev makes it)")
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    # No post hooks: formatting the generated code is no part of what is checked. The
    # generator knows no CSV: an import's file (text/csv) is sent as the bytes it is, the
    # setting docs/API.md gives for generated clients.
    (tmp_path / "config.yaml").write_text(
        "post_hooks: []\ncontent_type_overrides:\n  text/csv: application/octet-stream\n")
    made = _run([generator, "generate", "--path", "spec.json", "--meta", "none",
                 "--output-path", "stockline_api", "--config", "config.yaml"], tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    output = made.stdout + made.stderr
    assert "Warning" not in output and "warning" not in output, output
    package = tmp_path / "stockline_api"
    for module in ("api/sales/record_sale.py", "api/inventory/list_inventory.py",
                   "models/level_page.py", "models/problem_line.py"):
        assert (package / module).is_file(), module
    checked = _run([str(CODEGEN / "mypy"), "--strict", "--cache-dir", str(MYPY_CACHE),
                    "stockline_api"], tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found" in checked.stdout
