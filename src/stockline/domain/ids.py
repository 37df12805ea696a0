"""Identifiers the server assigns: a type prefix and a time-ordered random part."""

from __future__ import annotations

import os
import time
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_LENGTH = 26  # characters after the prefix: 128 bits
_RANDOM_BITS = 80


def new_id(prefix: str) -> str:
    """``<prefix>_`` + 26 chars: 48 bits of milliseconds, then 80 random bits.

    Ids made later sort after earlier ones (to the millisecond), which keeps
    index pages of append-heavy tables warm and makes ids readable in logs.
    """
    return id_at(prefix, int(time.time() * 1000), int.from_bytes(os.urandom(10), "big"))


def id_at(prefix: str, millis: int, rest: int) -> str:
    """The id of ``prefix`` made at ``millis`` (since the epoch) whose random part is
    ``rest`` (below 2**80)."""
    value = (millis << _RANDOM_BITS) | rest
    chars = []
    for _ in range(_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def first_id_at(prefix: str, moment: datetime) -> str:
    """The smallest id of ``prefix`` made at ``moment`` or later: every id made from then on
    sorts at or after it, every id made before sorts before it (ids of one prefix have one
    length, and the alphabet's characters are in ascending order)."""
    return id_at(prefix, int(moment.timestamp() * 1000), 0)
