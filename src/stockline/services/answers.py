"""What a write answers, as an idempotency record keeps it: in no protocol's terms.

A result is kept as its JSON document (``Operation.document``); a refusal as its code,
its detail and its data (``domain.refusals``). A long refusal is kept abridged: it
changes nothing, so a caller could otherwise have Stockline keep tens of kilobytes per
request for days at no cost.
"""

from __future__ import annotations

from typing import Any

import orjson

from stockline.domain.errors import DomainError
from stockline.domain.refusals import code_of, data_of
from stockline.services.ports import StoredAnswer

KEPT_REFUSAL_MAX_BYTES = 2048
KEPT_DETAIL_CHARS = 500


def refusal_document(code: str, detail: str, **data: Any) -> bytes:
    """A refusal's document: its detail, its code, then its data (in this order, which the
    entrypoints keep when they add their own fields in front)."""
    return orjson.dumps({"detail": detail, "code": code, **data})


def kept_refusal(code: str, detail: str, document: bytes) -> bytes | None:
    """What a record keeps of ``document``, a refusal of this code and detail: None (the
    document itself) up to KEPT_REFUSAL_MAX_BYTES, else the code and the start of the
    detail, marked ``abridged``."""
    if len(document) <= KEPT_REFUSAL_MAX_BYTES:
        return None
    return refusal_document(code, detail[:KEPT_DETAIL_CHARS], abridged=True)


def refusal(error: DomainError) -> StoredAnswer:
    """The answer of a refused write: the whole refusal, and what a replay gives."""
    code, detail = code_of(error), str(error)
    document = refusal_document(code, detail, **data_of(error))
    return StoredAnswer(code, document, kept=kept_refusal(code, detail, document))
