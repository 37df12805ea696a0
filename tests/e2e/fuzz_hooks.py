"""Schemathesis hooks for tests/e2e/test_fuzz.py: what a schema cannot say about a request.

Both hooks keep a generated request as valid or invalid as it was; they only stop the
fuzzer from sending a valid-looking request that the contract refuses for a reason that
lies outside the request itself (``positive_data_acceptance`` would flag it):

- an ``Idempotency-Key`` is unique per write by contract: the same key with another body
  is refused (422 ``idempotency_key_reused``, tests/e2e/test_idempotency.py), and the
  fuzzer draws small keys such as ``0`` again and again. A valid key becomes a fresh one;
  an invalid one is kept, to be refused.
- a ``cursor`` is an opaque, server-issued token: one the server never gave out is refused
  (422, tests/e2e/test_bad_input.py covers every kind). It is dropped from queries the
  fuzzer meant to be valid; the negative ones keep it.
- a count is a JSON integer, and ``1.0`` is refused as one (tests/e2e/test_bad_input.py);
  JSON Schema's "integer" takes 1.0 all the same. Integral floats in a body the fuzzer
  meant to be valid are sent as integers; the negative ones keep them.

One hook drops cases that are negative only in the fuzzer's eyes (``filter_case``): a query
value is text on the wire, so a query parameter "mutated" to another JSON type (null,
a number, an object; the `type` and `anyOf` keywords) arrives as text that may well be
valid (``location_id=2.2e-57`` is a well-formed code, ``q=null`` a search for "null"),
and a server that accepts it is right to. The same for a malformed ``Authorization``
header sent beside a valid ``X-API-Key``: the API key is the credential used, as
documented. Negative cases with any other mutation are all kept.

One hook (``before_load_schema``) says what each event of ``GET /v1/events/stream`` is.
The document gives the stream's ``text/event-stream`` body as a string, for client
generators (OpenAPI 3.1 has no ``itemSchema``, and an object there breaks the generated
client: tests/unit/test_openapi_document.py), while schemathesis reads a 3.1 document's
schema of an event stream as the schema of each event, parsed. In the fuzzer's copy of the
document that schema becomes the event itself: ``id``, ``event``, ``retry`` and a ``data``
that is a JSON object, so that every event the stream sends (a replay, a ``reset``, a
``close``) is checked for that shape instead of being refused as "not a string".
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation

_KEY = re.compile(r"[\x21-\x7e]{1,255}")


_WIRE_BLIND = frozenset({"type", "anyOf"})
STREAM = "/v1/events/stream"
SSE_EVENT = {
    "type": "object", "required": ["event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"type": "string", "minLength": 1},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": {"type": "object"}},
        "retry": {"type": "integer", "minimum": 0},
    },
}


@schemathesis.hook
def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    answer = raw_schema["paths"][STREAM]["get"]["responses"]["200"]
    answer["content"]["text/event-stream"]["schema"] = SSE_EVENT


def _only_wire_blind(mutation: Any) -> bool:
    if mutation.parameter_location == ParameterLocation.QUERY:
        return set(mutation.keywords) <= _WIRE_BLIND
    return (mutation.parameter_location == ParameterLocation.HEADER
            and (mutation.parameter or "").lower() == "authorization")


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: Any) -> bool:
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    mutations = getattr(data, "mutations", ())
    return not (mutations and all(_only_wire_blind(m) for m in mutations))


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Any) -> Any:
    headers = case.headers
    if headers and _KEY.fullmatch(str(headers.get("Idempotency-Key", ""))):
        case.headers = {**headers, "Idempotency-Key": f"fuzz-{uuid.uuid4().hex}"}
    query = case.query
    negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.QUERY)
    if query and "cursor" in query and not negative:
        case.query = {k: v for k, v in query.items() if k != "cursor"}
    body_negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY)
    if isinstance(case.body, dict | list) and not body_negative:
        case.body = _integers(case.body)
    return case


def _integers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value
