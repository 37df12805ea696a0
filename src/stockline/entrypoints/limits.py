"""Limits on what one request may carry, whatever protocol brings it."""

from __future__ import annotations

from stockline.config import Settings
from stockline.domain.errors import InvalidInput


def at_most_lines(settings: Settings, count: int, what: str) -> None:
    """At most STOCKLINE_MAX_LINES lines per document (a transfer, a hold, an order)."""
    if count > settings.max_lines:
        raise InvalidInput("lines", f"at most {settings.max_lines} lines per {what}")
