"""docs/API.md lists every route the server answers, and no other: its "Every route"
table against the paths of the OpenAPI document, both ways."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from stockline.entrypoints.http.app import create_app

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"
# Served, but not operations of the document: the document itself, its page, and the
# WebSocket (which OpenAPI cannot describe).
OUTSIDE_THE_DOCUMENT = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/v1/events/ws")}
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)` \| (.+) \|$")


def documented_routes() -> list[tuple[str, str]]:
    text = API_DOC.read_text()
    section = text.split("\n## Every route\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    routes = []
    for row in rows:
        match = ROW.match(row)
        assert match is not None, f"not a route row (| `METHOD /path` | what it does |): {row}"
        routes.append((match.group(1), match.group(2)))
    return routes


def served_routes() -> set[tuple[str, str]]:
    spec = create_app().openapi()
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


def test_every_route_in_the_document_is_in_api_md_and_no_other() -> None:
    documented = documented_routes()
    assert len(documented) == len(set(documented)), "a route listed twice"
    served = served_routes()
    assert sorted(served - set(documented)) == [], "served but not in docs/API.md"
    listed = set(documented) - OUTSIDE_THE_DOCUMENT
    assert sorted(listed - served) == [], "in docs/API.md but not served"


async def test_the_routes_outside_the_document_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/docs")).status_code == 200
    # The WebSocket's handshake is tested in test_strict_queries and test_event_stream.
