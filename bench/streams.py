"""``python -m bench.streams``: many SSE subscribers on one server process while sales flow.

One server process (``--workers 1``), ``--subscribers`` SSE streams of ``sale.recorded``
opened against it, then sales sent at ``--rate`` a second for ``--seconds``. For every
sale, the time from its 201 answer to its event reaching a subscriber is measured on a
sample of the subscribers (every ``--sample``-th; all of them read every byte). Prints the
p50/p99 of those delays, events missed, and the server's resident memory.

Subscribers are plain asyncio connections that look for sale ids in what they read:
a parser per event in Python would make the load generator, not the server, the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path

import orjson
import uvloop
from rich.console import Console
from rich.table import Table

from bench.harness import BENCH_KEY, Dataset, location, prepare, serving, sku

console = Console(width=150)
SALE_ID = re.compile(rb'"sale_id":\s*"(sale_[0-9A-Za-z]+)"')
CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")


class Subscriber(asyncio.Protocol):
    """One SSE stream read by a bare asyncio protocol: a callback per chunk, with no
    stream reader or task in between, so that reading 1,000 sockets costs the bench
    process little (it shares the two cores with the server it measures)."""

    def __init__(self, tracked: bool) -> None:
        self.tracked = tracked
        self.seen: dict[bytes, float] = {}
        self.ready = asyncio.Event()
        self.closed = asyncio.Event()
        self.bytes = 0
        self._tail = b""

    async def run(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(lambda: self, host, port)
        transport.write(b"GET /v1/events/stream?types=sale.recorded HTTP/1.1\r\n"
                        b"Host: bench\r\nAccept: text/event-stream\r\n"
                        b"X-API-Key: " + BENCH_KEY.encode() + b"\r\n\r\n")
        try:
            await self.closed.wait()
        finally:
            transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.bytes += len(data)
        if not self.ready.is_set() and b"subscribed" in data:
            self.ready.set()
        if self.tracked:
            text = self._tail + data
            for match in SALE_ID.finditer(text):
                self.seen.setdefault(match.group(1), now)
            self._tail = text[-80:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(args: argparse.Namespace, workdir: Path) -> None:
    data = Dataset(args.locations, args.skus, stock=10**9)
    url, cleanup = await prepare(args.backend, workdir, data)
    try:
        # One key stands for all the subscribers here: its stream limit is raised to fit.
        limit = {"STOCKLINE_MAX_STREAMS_PER_PRINCIPAL": str(args.subscribers + 10)}
        with serving(url, workdir, workers=1, extra_env=limit) as (base_url, pid):
            host, port = base_url.removeprefix("http://").split(":")
            subscribers = [Subscriber(n % args.sample == 0) for n in range(args.subscribers)]
            tasks = []
            for n, sub in enumerate(subscribers):
                tasks.append(asyncio.create_task(sub.run(host, int(port))))
                if n % 100 == 99:
                    await asyncio.sleep(0.05)  # do not open a thousand at the same instant
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subscribers)),
                                   timeout=60)
            rss_idle = _rss_mb(pid)
            sent = await _sell(base_url, args, data)
            await asyncio.sleep(1.0)  # the last events on their way
            rss = _rss_mb(pid)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await cleanup()
    _report(args, subscribers, sent, rss_idle, rss)


class _Connection:
    """One keep-alive HTTP/1.1 connection for sales, spoken directly: httpx's pool
    bookkeeping cost the bench process most of a core at 200 sales a second, and a busy
    load generator delays the very receipts it times."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: bench\r\nX-API-Key: %s\r\n"
                          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                          % (path.encode(), BENCH_KEY.encode(), len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = CONTENT_LENGTH.search(head)
        if length is None:
            raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
        return status, await self.reader.readexactly(int(length.group(1)))

    def close(self) -> None:
        self.writer.close()


async def _sell(base_url: str, args: argparse.Namespace, data: Dataset
                ) -> dict[bytes, float]:
    """Sales at a steady rate; each sale's id and the moment its answer arrived."""
    answered: dict[bytes, float] = {}
    host, port = base_url.removeprefix("http://").split(":")
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(32):
        idle.put_nowait(await _Connection.open(host, int(port)))

    async def one(n: int) -> None:
        body = orjson.dumps({"location_id": location(n % data.locations), "lines": [{
            "sku": sku(n % data.skus), "quantity": 1,
            "unit_price": {"amount": "10.00", "currency": "USD"}}]})
        connection = await idle.get()
        try:
            status, answer = await connection.post("/v1/sales/record", body)
        finally:
            idle.put_nowait(connection)
        if status == 201:
            answered[orjson.loads(answer)["id"].encode()] = time.perf_counter()

    pending = []
    started = time.perf_counter()
    total = int(args.rate * args.seconds)
    try:
        for n in range(total):
            delay = started + n / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(one(n)))
        await asyncio.gather(*pending)
    finally:
        while not idle.empty():
            idle.get_nowait().close()
    return answered


def _report(args: argparse.Namespace, subscribers: list[Subscriber],
            sent: dict[bytes, float], rss_idle: float, rss: float) -> None:
    delays: list[float] = []
    missed = 0
    for sub in subscribers:
        if not sub.tracked:
            continue
        for sale_id, answered_at in sent.items():
            heard = sub.seen.get(sale_id)
            if heard is None:
                missed += 1
            else:
                delays.append(max(0.0, heard - answered_at))
    table = Table(title=f"{args.subscribers} SSE subscribers on one process, "
                        f"{args.rate:g} sales/s for {args.seconds:g} s ({args.backend})")
    for col in ("sales answered", "receipts measured", "missed", "p50 ms", "p99 ms",
                "max ms", "RSS idle MB", "RSS MB", "targets"):
        table.add_column(col, justify="right")
    p50 = statistics.median(delays) * 1000 if delays else 0.0
    p99 = statistics.quantiles(delays, n=100)[98] * 1000 if len(delays) > 1 else p50
    verdict = ("met" if p99 < 100 and rss < 400 and not missed else "not met")
    table.add_row(str(len(sent)), f"{len(delays):,}", str(missed), f"{p50:.1f}", f"{p99:.1f}",
                  f"{max(delays) * 1000 if delays else 0:.1f}", f"{rss_idle:.0f}",
                  f"{rss:.0f}", f"p99 < 100 ms, RSS < 400 MB: {verdict}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--locations", type=int, default=50)
    parser.add_argument("--skus", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stockline-streams-") as tmp:
        # uvloop (installed with uvicorn's standard extras): the cheaper loop for the
        # thousand sockets the bench process reads.
        uvloop.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
