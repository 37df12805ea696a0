"""A request's line and headers are bounded in size and in time, before the app sees them.

Over raw sockets against a live server: a head over STOCKLINE_MAX_HEADER_BYTES is a 431
problem and the connection closes; a head not complete within
STOCKLINE_HEADER_TIMEOUT_SECONDS is a 408 problem (or, when nothing was sent, a plain
close); a burst of both leaves the server's memory and another client's latency flat.
No database is involved, so these run on SQLite alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import Databases, LiveServer, start_server, stop_server

HEADER_TIMEOUT = 2.0
KIB = 1024
MIB = 1024 * KIB


@pytest.fixture(scope="module")
async def server_url(databases: Databases) -> str:
    return await databases.new("sqlite")


@pytest.fixture(scope="module")
def server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    started = start_server(server_url, tmp_path_factory.mktemp("heads"), extra_env={
        "STOCKLINE_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT)})
    try:
        yield started
    finally:
        stop_server(started)


@contextlib.asynccontextmanager
async def _connection(server: LiveServer) -> AsyncIterator[
        tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    host, port = server.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a Content-Length: status, headers, body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    return _parsed(head + await reader.readexactly(_length(head)))


def _length(head: bytes) -> int:
    return int(_parsed(head)[1]["content-length"])


def _parsed(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip()
               for k, v in (line.split(":", 1) for line in lines if ":" in line)}
    return int(status_line.split()[1]), headers, body


def _problem(answer: bytes, expected: int, code: str) -> None:
    status, headers, body = _parsed(answer)
    assert status == expected, answer[:300]
    assert headers["content-type"] == "application/problem+json"
    problem = orjson.loads(body)
    assert (problem["status"], problem["code"]) == (expected, code), problem
    assert headers["connection"] == "close"


async def _until_closed(reader: asyncio.StreamReader, seconds: float = 30) -> bytes:
    """Everything the server sends until it closes; fails if it is open after ``seconds``."""
    return await asyncio.wait_for(reader.read(), seconds)


async def _stream_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       piece: bytes, pieces: int, pause: float = 0.0) -> tuple[int, bytes]:
    """Sends a head that never ends, ``piece`` after ``piece`` (``pause`` s apart), until
    the server closes the connection or ``pieces`` are sent. Returns the bytes sent and
    what the server answered before it closed."""
    answered = asyncio.create_task(_until_closed(reader, 60))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: stockline.test\r\nX-Long: ")
    sent = 0
    try:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            for _ in range(pieces):
                if answered.done():
                    break
                writer.write(piece)
                await writer.drain()
                sent += len(piece)
                if pause:
                    await asyncio.wait([answered], timeout=pause)
        return sent, await answered
    finally:
        answered.cancel()


def _head(path: str = "/healthz", **fields: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: stockline.test",
             *(f"{name.replace('_', '-')}: {value}" for name, value in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# -- size ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("head", [
    pytest.param(_head(X_Big="x" * (32 * KIB)), id="one-32KiB-header"),
    pytest.param(_head(**{f"X_Many_{n}": "y" * 100 for n in range(300)}), id="300-headers"),
    pytest.param(_head("/healthz?" + "q" * (20 * KIB)), id="20KiB-request-line"),
])
async def test_a_head_over_16_kib_is_a_431_problem_and_the_connection_closes(
        server: LiveServer, head: bytes) -> None:
    async with _connection(server) as (reader, writer):
        writer.write(head)
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.drain()
        _problem(await _until_closed(reader), 431, "headers_too_large")


async def test_a_head_just_under_the_limit_is_served_and_the_connection_kept(
        server: LiveServer) -> None:
    async with _connection(server) as (reader, writer):
        for _ in range(3):  # and the next request's head has its own budget
            writer.write(_head(X_Filler="z" * (15 * KIB)))
            await writer.drain()
            status, headers, _ = await _answer(reader)
            assert status == 200
            assert headers.get("connection") != "close"


async def test_pipelined_requests_each_get_the_whole_budget(server: LiveServer) -> None:
    """Two heads of 12 KiB in one write are both served; a third over the limit is a 431
    after the answers to the first two, in order."""
    async with _connection(server) as (reader, writer):
        writer.write(_head(X_Filler="a" * (12 * KIB)) + _head(X_Filler="b" * (12 * KIB)))
        await writer.drain()
        assert [(await _answer(reader))[0] for _ in range(2)] == [200, 200]
        writer.write(_head(X_Filler="c" * (12 * KIB)) + _head(X_Filler="d" * (20 * KIB)))
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.drain()
        assert (await _answer(reader))[0] == 200
        _problem(await _until_closed(reader), 431, "headers_too_large")


async def test_a_huge_head_streamed_is_cut_off_early(server: LiveServer) -> None:
    """The server answers and closes long before 64 MiB are sent: it never buffers them."""
    async with _connection(server) as (reader, writer):
        sent, answer = await _stream_head(reader, writer, b"h" * (256 * KIB), 256)
    _problem(answer, 431, "headers_too_large")
    assert sent < 64 * MIB


# -- time ---------------------------------------------------------------------------------------

async def test_a_head_that_stops_halfway_is_a_408_within_the_header_timeout(
        server: LiveServer) -> None:
    async with _connection(server) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: stockline.test\r\nX-Half")
        await writer.drain()
        # Well before the 65 s keep-alive (a loose bound: the machine may be loaded).
        _problem(await _until_closed(reader, 30), 408, "request_timeout")


async def test_a_trickled_head_is_cut_off_at_the_header_timeout(server: LiveServer) -> None:
    """A byte every 0.2 s keeps the connection busy, but the head must be whole in time."""
    async with _connection(server) as (reader, writer):
        sent, answer = await _stream_head(reader, writer, b"s", 150, pause=0.2)
    assert sent < 150, "still open after 30 s"
    _problem(answer, 408, "request_timeout")


async def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(
        server: LiveServer) -> None:
    async with _connection(server) as (reader, _):
        assert await _until_closed(reader, 30) == b""


async def test_an_idle_keep_alive_connection_outlives_the_header_timeout(
        server: LiveServer) -> None:
    """Between requests the keep-alive timeout (65 s) applies, not the header timeout."""
    async with _connection(server) as (reader, writer):
        writer.write(_head())
        await writer.drain()
        assert (await _answer(reader))[0] == 200
        await asyncio.sleep(HEADER_TIMEOUT * 2)
        writer.write(_head())
        await writer.drain()
        assert (await _answer(reader))[0] == 200


# -- a burst of both, while another client is served ------------------------------------------

def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:"))
               .split()[1])


async def _huge_head(server: LiveServer, size: int) -> None:
    async with _connection(server) as (reader, writer):
        await _stream_head(reader, writer, b"h" * (256 * KIB), size // (256 * KIB))


async def _trickled_head(server: LiveServer) -> float:
    """Seconds until the server closed a head sent one header every 0.5 s."""
    async with _connection(server) as (reader, writer):
        started = time.monotonic()
        await _stream_head(reader, writer, b"1\r\nX-Drip: ", 60, pause=0.5)
        return time.monotonic() - started


async def _probe(client: httpx.AsyncClient, until: float) -> list[float]:
    taken = []
    while time.monotonic() < until:
        started = time.perf_counter()
        assert (await client.get("/healthz")).status_code == 200
        taken.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    return taken


async def test_memory_and_latency_stay_flat_under_huge_and_trickled_heads(
        server: LiveServer, record_property: pytest.RecordProperty) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        before = await _probe(client, time.monotonic() + 1)
        baseline = _rss_kib(server.process.pid)
        until = time.monotonic() + HEADER_TIMEOUT * 3
        probe = asyncio.create_task(_probe(client, until))
        trickled = [asyncio.create_task(_trickled_head(server)) for _ in range(50)]
        for _ in range(3):  # rounds of 8 connections each sending a 32 MiB header
            await asyncio.gather(*(_huge_head(server, 32 * MIB) for _ in range(8)))
        grown_mib = (_rss_kib(server.process.pid) - baseline) / 1024
        during = await probe
        cut_off = await asyncio.gather(*trickled)
    record_property("header_burst", {"rss_growth_mib": grown_mib,
                                     "healthz_median_before_s": statistics.median(before),
                                     "healthz_median_during_s": statistics.median(during),
                                     "trickled_closed_after_s": max(cut_off)})
    assert grown_mib < 64, grown_mib
    # Flat: unbounded heads took it to 2.8 s; a loaded machine may be slow before too.
    assert statistics.median(during) < max(0.5, 10 * statistics.median(before)), during
    assert max(cut_off) < 25, cut_off  # cut at the header timeout, not 30 s later
