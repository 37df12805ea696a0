"""``python -m bench.protocols``: gRPC and GraphQL beside the REST calls they stand for,
in one run, against the same server and database.

For each backend: a fresh database (``--locations`` stores x ``--skus`` SKUs, loaded in
bulk), the real server (``stockline serve``, production settings, ``--workers``) with its
gRPC port, and:

- REST's spread sale: ``POST /v1/sales/record`` of one unit at a random level, driven by
  wrk with ``--concurrency`` connections (as ``python -m bench`` measures it);
- gRPC ``RecordSales``: the same sales (one unit at a random level, no idempotency key, as
  wrk sends them) over ``--streams`` bidirectional streams, each on a connection of its own
  (``--channels``), each answered in order, a client keeping at most WINDOW sales
  unanswered per stream; the client is Python (grpc.aio) in a process of its own, its
  requests made before the clock starts;
- the two take turns: one second of warm-up each, then ``--rounds`` rounds of
  ``--seconds`` each, REST first in odd rounds and gRPC first in even ones, so that a
  change in the machine's load falls on both; the rates are the totals, and each
  round's ratio is printed too, with the server's and the client's CPU per sale;
- GraphQL's nested read, ``location { levels(first: 50) { ... product { ... } } }``, one
  request, beside the REST calls that give the same (the location, its first 50 levels,
  and each level's product: 52 requests, the 50 products asked at once), each with
  ``--read-concurrency`` readers for ``--rounds`` x ``--seconds``.

The table prints each rate and the ratios (gRPC over REST's sale rate, GraphQL over the
REST reads). Everything is bounded by time and runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import BENCH_KEY, Dataset, location, prepare, serving, sku
from bench.loadgen import run_wrk, wrk_available
from stockline.entrypoints.grpc.v1 import common_pb2, sales_pb2, sales_pb2_grpc

console = Console(width=150)
PAGE = 50
WINDOW = 128  # sales a client keeps unanswered on one stream
NESTED = ("query ($code: String!) { location(code: $code) { code name type "
          f"levels(first: {PAGE}) {{ edges {{ node {{ sku onHand available reserved version "
          "product { sku name category price { amount currency } } } } } } }")
Reader = Callable[[httpx.AsyncClient, str], Awaitable[None]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sales(data: Dataset, count: int) -> list[sales_pb2.RecordSaleRequest]:
    """``count`` one-unit sales at random levels (a pool the streams cycle through)."""
    price = common_pb2.Money(amount="10.00", currency="USD")
    return [sales_pb2.RecordSaleRequest(
        location_id=location(random.randrange(data.locations)),
        lines=[sales_pb2.SaleLineIn(sku=sku(random.randrange(data.skus)), quantity=1,
                                    unit_price=price)]) for _ in range(count)]


async def grpc_sales(target: str, data: Dataset, *, streams: int, channels: int,
                     seconds: float, window: int = WINDOW) -> tuple[int, int, float]:
    """Sales recorded over ``streams`` RecordSales streams for ``seconds``, each keeping
    at most ``window`` sales unanswered: (sold, refused, elapsed). The requests are made
    before the clock starts; each channel is its own connection (the kernel spreads
    connections, not channels, over the server's workers)."""
    pool = _sales(data, 2000)
    metadata = (("x-api-key", BENCH_KEY),)
    opened = [grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
              for _ in range(channels)]
    sold = refused = 0
    deadline = time.perf_counter() + seconds

    async def stream(channel: grpc.aio.Channel) -> None:
        nonlocal sold, refused
        call = sales_pb2_grpc.SalesStub(channel).RecordSales(metadata=metadata)
        room = asyncio.Semaphore(window)

        async def send() -> None:
            n = random.randrange(len(pool))
            while time.perf_counter() < deadline:
                await room.acquire()
                await call.write(pool[n % len(pool)])
                n += 1
            await call.done_writing()

        sender = asyncio.create_task(send())
        while (answer := await call.read()) != grpc.aio.EOF:
            room.release()
            if answer.HasField("sale"):
                sold += 1
            else:
                refused += 1
        await sender

    started = time.perf_counter()
    try:
        await asyncio.gather(*(stream(opened[n % channels]) for n in range(streams)))
    finally:
        for channel in opened:
            await channel.close()
    return sold, refused, time.perf_counter() - started


def grpc_client(target: str, data: Dataset, streams: int, channels: int,
                seconds: float) -> tuple[int, int, float, float]:
    """``grpc_sales`` run in a process of the pool (the client's own interpreter, as wrk
    is REST's): (sold, refused, elapsed, the client's CPU seconds)."""
    cpu = time.process_time()
    sold, refused, took = asyncio.run(grpc_sales(target, data, streams=streams,
                                                 channels=channels, seconds=seconds))
    return sold, refused, took, time.process_time() - cpu


def _cpu_of(chosen: Callable[[str, str, list[str]], bool]) -> float:
    """CPU seconds used so far by the processes ``chosen(pid, name, fields)`` picks."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(" (")[2].rpartition(")")
        except OSError:  # ended meanwhile
            continue
        fields = rest.split()
        if chosen(stat.parent.name, name, fields):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its children (the server's workers)."""
    return _cpu_of(lambda each, _name, fields: str(pid) in (each, fields[1]))


def database_cpu() -> float:
    """CPU seconds used so far by PostgreSQL's processes on this machine (its backends do
    the SQL of both sides' sales; SQLite's share is inside the server's own CPU)."""
    return _cpu_of(lambda _each, name, _fields: name == "postgres")


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended (wrk, once it has run)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


async def graphql_read(client: httpx.AsyncClient, code: str) -> None:
    answer = await client.post("/graphql", json={"query": NESTED, "variables": {"code": code}})
    body = answer.json()
    if answer.status_code != 200 or "errors" in body:
        raise RuntimeError(f"graphql read failed: {answer.text[:300]}")
    if len(body["data"]["location"]["levels"]["edges"]) != PAGE:
        raise RuntimeError("graphql read: a short page")


async def rest_read(client: httpx.AsyncClient, code: str) -> None:
    """The same data over REST: the location, its levels, then each level's product."""
    place = await client.get(f"/v1/retail-locations/{code}")
    page = await client.get("/v1/inventory", params={"location_id": code, "limit": PAGE})
    if place.status_code != 200 or page.status_code != 200:
        raise RuntimeError(f"rest read failed: {place.status_code} {page.status_code}")
    levels = page.json()["items"]
    found = await asyncio.gather(*(client.get(f"/v1/products/{x['sku']}") for x in levels))
    if len(levels) != PAGE or any(x.status_code != 200 for x in found):
        raise RuntimeError("rest read: a short page or a product missing")


async def reads(base_url: str, read: Reader, data: Dataset, *, concurrency: int,
                seconds: float) -> tuple[int, float]:
    """Logical reads done by ``concurrency`` readers for ``seconds``: (count, elapsed)."""
    limits = httpx.Limits(max_connections=concurrency * 4)
    done = 0
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": BENCH_KEY},
                                 limits=limits, timeout=60) as client:
        await read(client, location(0))  # warm up
        deadline = time.perf_counter() + seconds

        async def reader() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await read(client, location(random.randrange(data.locations)))
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(reader() for _ in range(concurrency)))
        return done, time.perf_counter() - started


@dataclass
class Side:
    """One side's sales: how many, in how long, the CPU the server and the client spent on
    them, and the answers that were not sales (errors, refusals)."""

    count: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    errors: int = 0
    database_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def __add__(self, other: Side) -> Side:
        return Side(self.count + other.count, self.seconds + other.seconds,
                    self.server_cpu + other.server_cpu, self.client_cpu + other.client_cpu,
                    self.errors + other.errors, self.database_cpu + other.database_cpu)

    def per_sale_ms(self, cpu: float) -> str:
        return f"{cpu / self.count * 1000:.2f}" if self.count else ""


class SaleSides:
    """REST's and gRPC's sales against one served Stockline (server process ``pid``): each
    client in a process of its own (wrk; a Python grpc.aio client in a pool's process),
    the server's and the client's CPU read around each timed run."""

    def __init__(self, base_url: str, target: str, pid: int, data: Dataset,
                 args: argparse.Namespace, pool: ProcessPoolExecutor) -> None:
        self.base_url, self.target, self.pid, self.data = base_url, target, pid, data
        self.args, self.pool = args, pool

    async def rest(self, seconds: float) -> Side:
        server, client, database = tree_cpu(self.pid), children_cpu(), database_cpu()
        done = await asyncio.to_thread(run_wrk, self.base_url, "sale", data=self.data,
                                       concurrency=self.args.concurrency, seconds=seconds)
        return Side(done.count, done.seconds, tree_cpu(self.pid) - server,
                    children_cpu() - client, done.errors, database_cpu() - database)

    async def grpc(self, seconds: float) -> Side:
        channels = self.args.channels or self.args.streams
        server, database = tree_cpu(self.pid), database_cpu()
        sold, refused, took, client = await asyncio.get_running_loop().run_in_executor(
            self.pool, grpc_client, self.target, self.data, self.args.streams, channels,
            seconds)
        return Side(sold, took, tree_cpu(self.pid) - server, client, refused,
                    database_cpu() - database)

    async def rounds(self) -> tuple[Side, Side, list[float]]:
        """Both sides, one second of warm-up each, then ``--rounds`` rounds of
        ``--seconds`` each, taking turns at going first (a change of the machine's load
        meets both): their totals, and each round's ratio of gRPC to REST."""
        await self.rest(1.0)
        await self.grpc(1.0)  # and the client's process started
        rest, rpc, ratios = Side(), Side(), []
        for n in range(self.args.rounds):
            if n % 2 == 0:
                one_rest, one_rpc = await self.rest(self.args.seconds), None
                one_rpc = await self.grpc(self.args.seconds)
            else:
                one_rpc = await self.grpc(self.args.seconds)
                one_rest = await self.rest(self.args.seconds)
            console.print(f"  round {n + 1}: REST {one_rest.rate:,.0f} sales/s, gRPC "
                          f"{one_rpc.rate:,.0f} sales/s, load {os.getloadavg()[0]:.1f}")
            rest, rpc = rest + one_rest, rpc + one_rpc
            ratios.append(one_rpc.rate / one_rest.rate if one_rest.rate else 0.0)
        return rest, rpc, ratios


async def run_backend(backend: str, args: argparse.Namespace,
                      workdir: Path) -> list[list[str]]:
    data = Dataset(args.locations, args.skus, stock=10**9)
    url, cleanup = await prepare(backend, workdir, data)
    port = _free_port()
    env = {"STOCKLINE_GRPC_PORT": str(port)}
    spawn = multiprocessing.get_context("spawn")
    try:
        with (serving(url, workdir, workers=args.workers, extra_env=env) as (base_url, pid),
              ProcessPoolExecutor(1, mp_context=spawn) as pool):
            sides = SaleSides(base_url, f"127.0.0.1:{port}", pid, data, args, pool)
            rest, rpc, ratios = await sides.rounds()
            console.print(f"  REST sale: {rest.rate:,.0f}/s ({rest.errors} errors); gRPC "
                          f"RecordSales: {rpc.rate:,.0f}/s ({rpc.errors} refused)")
            r, s = args.read_concurrency, args.seconds * args.rounds
            nested, nested_s = await reads(base_url, graphql_read, data, concurrency=r,
                                           seconds=s)
            plain, plain_s = await reads(base_url, rest_read, data, concurrency=r, seconds=s)
    finally:
        await cleanup()
    nested_rate, plain_rate = nested / nested_s, plain / plain_s
    each = ", ".join(f"{x:.2f}" for x in ratios)
    return [
        [backend, "sale (spread): REST POST /v1/sales/record, wrk", f"{rest.rate:,.0f}", "",
         rest.per_sale_ms(rest.server_cpu), rest.per_sale_ms(rest.client_cpu),
         rest.per_sale_ms(rest.database_cpu)],
        [backend, f"sale (spread): gRPC RecordSales, {args.streams} streams",
         f"{rpc.rate:,.0f}", f"{rpc.rate / rest.rate:.2f}x REST (rounds: {each})",
         rpc.per_sale_ms(rpc.server_cpu), rpc.per_sale_ms(rpc.client_cpu),
         rpc.per_sale_ms(rpc.database_cpu)],
        [backend, f"nested read: REST, {PAGE + 2} calls", f"{plain_rate:,.1f}", "", "", "",
         ""],
        [backend, "nested read: GraphQL, 1 call", f"{nested_rate:,.1f}",
         f"{nested_rate / plain_rate:.2f}x REST", "", "", ""],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.protocols", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0, help="of each round")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of REST's and gRPC's sales, taking turns at going first")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--channels", type=int, default=0,
                        help="gRPC connections (0: one per stream)")
    parser.add_argument("--read-concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--locations", type=int, default=4)
    parser.add_argument("--skus", type=int, default=5_000)
    args = parser.parse_args()
    if not wrk_available():
        raise SystemExit("wrk is needed for REST's sale rate (apt-get install wrk)")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    load = os.getloadavg()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = Table(title=f"protocols, {started}, load average {load[0]:.1f} {load[1]:.1f} "
                        f"{load[2]:.1f}, {os.cpu_count()} cores, {args.workers} worker(s), "
                        f"{args.rounds} x {args.seconds:g} s each")
    for column in ("backend", "what", "per second", "ratio", "server CPU ms/sale",
                   "client CPU ms/sale", "PostgreSQL CPU ms/sale"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="stockline-bench-") as tmp:
        for backend in backends:
            console.print(f"[bold]{backend}[/]")
            for row in asyncio.run(run_backend(backend, args, Path(tmp))):
                table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()

