"""Identifiers the server assigns: a type prefix and a time-ordered random part."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def new_id(prefix: str) -> str:
    """``<prefix>_`` + 26 chars: 48 bits of milliseconds, then 80 random bits.

    Ids made later sort after earlier ones (to the millisecond), which keeps
    index pages of append-heavy tables warm and makes ids readable in logs.
    """
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
