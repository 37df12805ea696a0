"""Reservation races through real sockets, on SQLite and on PostgreSQL.

A dedicated server with two worker processes, each running the expiry sweeper every
0.1 s, so holds expire while clients commit them and two sweepers compete for every
expired hold. Totals are read back from the API afterwards: holds, sales, levels, ledger.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, start_server, stop_server
from tests.factories import (
    assert_ledger_identity,
    collect,
    hold_line,
    ledger,
    sales_at,
    stocked,
)

pytestmark = pytest.mark.slow

SWEEP_INTERVAL_S = 0.1
RACE_TIMEOUT_S = 60.0  # generous: a loaded machine is slow, not wrong


@pytest.fixture(scope="module")
def sweeping_server(server_database_url: str, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[LiveServer]:
    # A small pool: the hot level rows serialise the writes anyway, and the PostgreSQL
    # server's connections are shared with every other suite running at the same time.
    server = start_server(server_database_url, tmp_path_factory.mktemp("sweeping"), workers=2,
                          extra_env={"STOCKLINE_RESERVATION_SWEEP_INTERVAL_SECONDS":
                                     str(SWEEP_INTERVAL_S), "STOCKLINE_DB_POOL_SIZE": "5"})
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
async def live(sweeping_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with httpx.AsyncClient(base_url=sweeping_server.base_url,
                                 headers={"X-API-Key": sweeping_server.admin_key},
                                 limits=limits, timeout=httpx.Timeout(60.0)) as client:
        yield client


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


def _kind(response: httpx.Response) -> tuple[int, str | None]:
    if response.status_code < 400:
        return response.status_code, None
    try:
        return response.status_code, response.json().get("code")
    except ValueError:
        return response.status_code, f"(not JSON: {response.text[:200]!r})"


def _assert_server_healthy(server: LiveServer) -> None:
    """No failed sweep and no unhandled error in either worker's log."""
    log = server.log_path.read_text(errors="replace")
    for marker in ("job_failed", "unhandled_error", "Traceback", "Exception in ASGI application"):
        assert marker not in log, log[-4000:]


def _assert_all(responses: list[httpx.Response], status: int, server: LiveServer) -> None:
    wrong = [(r.status_code, r.text[:300]) for r in responses if r.status_code != status]
    if wrong:
        log = server.log_path.read_text(errors="replace")[-4000:]
        pytest.fail(f"{len(wrong)} answers were not {status}: {wrong[:3]}\n--- server log "
                    f"tail ---\n{log}")


async def _race(*requests: Any) -> list[httpx.Response]:
    try:
        return list(await asyncio.wait_for(asyncio.gather(*requests), RACE_TIMEOUT_S))
    except TimeoutError:
        pytest.fail(f"requests still unanswered after {RACE_TIMEOUT_S} s (hung?)")


async def _holds(client: httpx.AsyncClient, store: str, **filters: str) -> list[dict[str, Any]]:
    return await collect(client, "/v1/reservations", {"location_id": store, **filters})


async def test_30_holds_on_10_available_units(live: httpx.AsyncClient, backend: str,
                                              sweeping_server: LiveServer) -> None:
    store, (sku,) = await stocked(live, quantity=10)
    started = time.perf_counter()
    responses = await _race(*(live.post("/v1/reservations", json={
        "location_id": store, "lines": [hold_line(sku, 1)]}) for _ in range(30)))
    elapsed = time.perf_counter() - started
    kinds = Counter(_kind(r) for r in responses)
    _report(f"\n[{backend}] 30 holds of 1 unit on 10 available: "
            f"{kinds[(201, None)]} held, {kinds[(409, 'insufficient_stock')]} refused "
            f"(409 insufficient_stock), {elapsed:.2f} s")
    assert kinds == {(201, None): 10, (409, "insufficient_stock"): 20}, kinds
    for r in responses:
        if r.status_code == 409:
            assert r.json()["lines"] == [{"sku": sku, "requested": 1, "available": 0}]

    current = await assert_ledger_identity(live, store, sku)
    assert (current["on_hand"], current["reserved"], current["available"]) == (10, 10, 0)
    held = {r.json()["id"] for r in responses if r.status_code == 201}
    assert {h["id"] for h in await _holds(live, store, status="active")} == held
    assert len(await _holds(live, store)) == 10, "a refused hold left a row"
    _assert_server_healthy(sweeping_server)


async def test_commit_racing_release_ends_each_hold_once(
        live: httpx.AsyncClient, backend: str, sweeping_server: LiveServer) -> None:
    store, (sku,) = await stocked(live, quantity=40)
    holds = await _race(*(live.post("/v1/reservations", json={
        "location_id": store, "lines": [hold_line(sku, 2)]}) for _ in range(20)))
    _assert_all(holds, 201, sweeping_server)
    ids = [r.json()["id"] for r in holds]
    requests = []
    for hold_id in ids:  # two commits and a release for every hold, all at once
        requests += [live.post(f"/v1/reservations/{hold_id}/commit", json={}),
                     live.post(f"/v1/reservations/{hold_id}/release"),
                     live.post(f"/v1/reservations/{hold_id}/commit")]
    responses = await _race(*requests)
    assert {_kind(r) for r in responses} <= {(201, None), (200, None), (409, "invalid_state")}
    sale_ids = set()
    for n, hold_id in enumerate(ids):
        commit_a, release, commit_b = responses[3 * n:3 * n + 3]
        winners = [r for r in (commit_a, release, commit_b) if r.status_code < 400]
        assert len(winners) == 1, (hold_id, [r.text for r in (commit_a, release, commit_b)])
        final = (await live.get(f"/v1/reservations/{hold_id}")).json()
        if winners[0] is release:
            assert (final["status"], final["sale_id"]) == ("released", None)
        else:
            assert (final["status"], final["sale_id"]) == ("committed", winners[0].json()["id"])
            sale_ids.add(final["sale_id"])
    sales = await sales_at(live, store)
    _report(f"\n[{backend}] commit, release and commit racing on each of 20 holds: "
            f"{len(sale_ids)} committed, {20 - len(sale_ids)} released")
    assert {s["id"] for s in sales} == sale_ids
    current = await assert_ledger_identity(live, store, sku)
    assert (current["on_hand"], current["reserved"]) == (40 - 2 * len(sale_ids), 0)
    _assert_server_healthy(sweeping_server)


async def _commit_at(client: httpx.AsyncClient, hold: dict[str, Any],
                     offset: float) -> tuple[float, httpx.Response]:
    """Commit ``offset`` seconds from the hold's expiry; (when it was sent, the answer)."""
    target = datetime.fromisoformat(hold["expires_at"]) + timedelta(seconds=offset)
    await asyncio.sleep(max(0.0, (target - datetime.now(UTC)).total_seconds()))
    sent = (datetime.now(UTC) - datetime.fromisoformat(hold["expires_at"])).total_seconds()
    return sent, await client.post(f"/v1/reservations/{hold['id']}/commit", json={})


@dataclass
class ExpiryRace:
    """100 holds on two SKUs of one store, each committed some time from its expiry."""

    store: str
    skus: tuple[str, str]
    bodies: list[dict[str, Any]]
    holds: list[dict[str, Any]]
    answers: list[tuple[float, httpx.Response]]

    @property
    def committed(self) -> set[str]:
        return {h["id"] for h, (_, r) in zip(self.holds, self.answers, strict=True)
                if r.status_code == 201}


async def _race_around_expiry(live: httpx.AsyncClient, server: LiveServer,
                              ttl: int) -> ExpiryRace:
    """Holds of ``ttl`` seconds; 40 commits sent before each hold's expiry (0.6 to 0.05 of
    the ttl ahead), 20 at it (within 20 ms) and 40 after it (0.05 to 0.3 of the ttl late),
    in a random order."""
    store, (x, y) = await stocked(live, quantity=400, skus=2)
    bodies = [{"location_id": store, "ttl_seconds": ttl,
               "lines": [hold_line(x, 1 + n % 3)] + ([hold_line(y, 2)] if n % 2 else [])}
              for n in range(100)]
    created = await _race(*(live.post("/v1/reservations", json=b) for b in bodies))
    _assert_all(created, 201, server)
    holds = [r.json() for r in created]
    scale = ttl / 2
    offsets = ([scale * (-1.2 + 1.1 * n / 39) for n in range(40)]
               + [-0.02 + 0.04 * n / 19 for n in range(20)]
               + [scale * (0.1 + 0.5 * n / 39) for n in range(40)])
    random.Random(20260302 + ttl).shuffle(offsets)
    answers = await _race(*(_commit_at(live, h, o) for h, o in zip(holds, offsets,
                                                                    strict=True)))
    kinds = Counter(_kind(r) for _, r in answers)
    assert set(kinds) <= {(201, None), (409, "invalid_state")}, kinds
    return ExpiryRace(store, (x, y), bodies, holds, answers)


async def _expired_or_committed(live: httpx.AsyncClient, store: str) -> dict[str, Any]:
    """The store's holds once the sweepers have ended every one still active."""
    for _ in range(int(20 / SWEEP_INTERVAL_S)):
        if not await _holds(live, store, status="active"):
            break
        await asyncio.sleep(SWEEP_INTERVAL_S)
    return {h["id"]: h for h in await _holds(live, store)}


def _window(sent: float) -> str:
    return "before" if sent < -0.02 else "after" if sent > 0.02 else "at"


async def test_commits_around_expiry_while_sweepers_run(
        live: httpx.AsyncClient, backend: str, sweeping_server: LiveServer) -> None:
    # On a loaded machine the commits meant to arrive before expiry can all be late: the
    # race is run again with longer holds (and wider margins) until it has both sides.
    for ttl in (2, 4, 8, 16):
        race = await _race_around_expiry(live, sweeping_server, ttl)
        final = await _expired_or_committed(live, race.store)
        if 0 < len(race.committed) < 100:
            break
    assert 0 < len(race.committed) < 100, "the race never put commits on both sides of expiry"
    store, committed, answers = race.store, race.committed, race.answers
    assert len(final) == 100
    statuses = Counter(h["status"] for h in final.values())
    sales = await sales_at(live, store)
    sent_in = Counter(_window(sent) for sent, _ in answers)
    won = Counter(_window(sent) for sent, r in answers if r.status_code == 201)
    _report(f"\n[{backend}] 100 holds of {ttl} s, commits sent before/at/after expiry: "
            f"{sent_in['before']}/{sent_in['at']}/{sent_in['after']}, of which committed "
            f"{won['before']}/{won['at']}/{won['after']}; two server processes sweeping every "
            f"{SWEEP_INTERVAL_S} s; final: {statuses['committed']} committed, "
            f"{statuses['expired']} expired, {statuses['active']} still active; "
            f"{len(sales)} sales")
    assert dict(statuses) == {"committed": len(committed), "expired": 100 - len(committed)}
    for sent, r in answers:
        if sent > 0.0:  # sent after the hold's expiry: the server cannot have committed it
            assert (r.status_code, r.json()["state"]) == (409, "expired"), (sent, r.text)

    sale_of = {h["id"]: h["sale_id"] for h in final.values() if h["status"] == "committed"}
    assert set(sale_of) == committed
    answered = {r.json()["id"] for _, r in answers if r.status_code == 201}
    assert set(sale_of.values()) == answered and len(answered) == len(committed)
    assert all(h["sale_id"] is None for h in final.values() if h["status"] == "expired")
    assert sorted(s["id"] for s in sales) == sorted(answered), "a sale missing or twice"
    await _assert_units_sold(live, race, sales, answered)
    _assert_server_healthy(sweeping_server)


async def _assert_units_sold(live: httpx.AsyncClient, race: ExpiryRace,
                             sales: list[dict[str, Any]], answered: set[str]) -> None:
    """What the committed holds asked for was sold, once, in the ledger too."""
    initial, committed = 400, race.committed
    units: Counter[str] = Counter()  # what the committed holds asked for, per SKU
    for hold, body in zip(race.holds, race.bodies, strict=True):
        if hold["id"] in committed:
            for ln in body["lines"]:
                units[ln["sku"]] += ln["quantity"]
    for sku in race.skus:
        sold_units = sum(ln["quantity"] for s in sales for ln in s["lines"] if ln["sku"] == sku)
        entries = [e for e in await ledger(live, race.store, sku) if e["type"] == "sale"]
        assert {e["reference"] for e in entries} <= answered
        assert sold_units == -sum(e["delta"] for e in entries) == units[sku]
        current = await assert_ledger_identity(live, race.store, sku)
        assert (current["on_hand"], current["reserved"], current["available"]) == (
            initial - units[sku], 0, initial - units[sku])
