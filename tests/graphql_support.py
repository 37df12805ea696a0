"""What the GraphQL tests share: a document sent as the admin or as a given key."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import as_key

PAYLOAD_ERRORS = "userErrors { code field message }"


async def gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any],
              key: str | None = None) -> dict[str, Any]:
    """The data of a document that must answer without a top-level error (a refusal is a
    payload's ``userErrors``, never an error of the request)."""
    body = {"query": query, "variables": variables}
    response = (await client.post("/graphql", json=body) if key is None
                else await as_key(client, key, "POST", "/graphql", json=body))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert "errors" not in answer, answer
    return answer["data"]


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    """A payload's user errors as (code, field)."""
    return [(e["code"], e["field"]) for e in payload["userErrors"]]
