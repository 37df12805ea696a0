"""Reading Prometheus text (what /metrics answers) in tests."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Awaitable, Callable

import httpx

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample: (name, labels, value)."""
    found = []
    for row in text.splitlines():
        if row.startswith("#") or not row.strip():
            continue
        match = _SAMPLE.match(row)
        assert match is not None, row
        name, labels, value = match.groups()
        found.append((name, dict(_LABEL.findall(labels or "")), float(value)))
    return found


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series (None when absent)."""
    for found, their_labels, value in samples(text):
        if found == name and their_labels == labels:
            return value
    return None


def value(text: str, name: str, **labels: str) -> float:
    """The value of one series, absent counting as 0 (a counter not yet incremented)."""
    found = sample(text, name, **labels)
    return 0.0 if found is None else found


def metric_names(text: str) -> set[str]:
    """Every name a query may use: the samples', and those that # TYPE declares (with a
    histogram's _bucket, _count and _sum, a counter's _total), seen or not yet."""
    names = {name for name, _, _ in samples(text)}
    for row in text.splitlines():
        if row.startswith("# TYPE "):
            _, _, name, kind = row.split()
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
    return names


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 20.0,
                     what: str = "") -> None:
    """Wait until ``check`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)
