"""Throwaway services to break on purpose: a PostgreSQL cluster, a NATS server and a
RabbitMQ node of the test's own (the machine's are shared with other suites and must never
be stopped), and a client that keeps selling through an outage and counts what it was
answered."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, IN_CI, free_port
from tests.factories import assert_ledger_identity, line, sales_at

SOAK = os.environ.get("STOCKLINE_SOAK", "") == "1"


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} (required under CI)")
    pytest.skip(what)


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


class ThrowawayPostgres:
    """initdb + pg_ctl in a temp dir on a free port; as user postgres when we are root
    (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            _missing("no initdb/pg_ctl on this machine")
        self._initdb, self._pg_ctl = str(initdb), str(pg_ctl)
        self.dir = Path(tempfile.mkdtemp(prefix="stockline-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(self._initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=100")
        self._run(self._pg_ctl, "-D", str(self.data), "-l", str(self.dir / "log"), "-o",
                  options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self._pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    cluster = ThrowawayPostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


class ThrowawayNats:
    """nats-server with JetStream on a free port and a store dir of its own."""

    def __init__(self) -> None:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        if not Path(binary).exists():
            _missing("no nats-server on this machine")
        self._binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="stockline-nats-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.dir / "log").open("ab")
        self.process = subprocess.Popen(
            [self._binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd",
             str(self.dir / "store")], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def throwaway_nats() -> Iterator[ThrowawayNats]:
    server = ThrowawayNats()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


class ThrowawayRabbitMQ:
    """A RabbitMQ node on a free port, with a node name, a data dir and an Erlang cookie of
    its own; stopped with SIGTERM (a clean shutdown) and started again on the same data."""

    # The server itself: Debian's /usr/sbin wrapper would switch to the rabbitmq user,
    # who may not write in the temp dir.
    SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")

    def __init__(self) -> None:
        if not self.SERVER.exists():
            _missing("no rabbitmq-server on this machine")
        self.dir = Path(tempfile.mkdtemp(prefix="stockline-rabbitmq-"))
        self.port = free_port()
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n")
        (self.dir / "rabbitmq-env.conf").write_text("")  # not the machine's node settings
        (self.dir / "enabled_plugins").write_text("[].\n")
        self._env = {
            **os.environ, "HOME": str(self.dir),
            "RABBITMQ_NODENAME": f"stockline-test-{self.port}@localhost",
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.dir / "plugins"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid")}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> None:
        log = (self.dir / "out").open("ab")
        # A session of its own: stop() signals the script and the Erlang VM it started.
        self.process = subprocess.Popen([str(self.SERVER)], env=self._env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90  # an Erlang VM boots slowly on a loaded machine
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if _speaks_amqp(self.port):
                return
            time.sleep(0.2)
        output = (self.dir / "out").read_text(errors="replace")
        raise RuntimeError(f"rabbitmq-server did not start: {output[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
        self.process = None

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _speaks_amqp(port: int) -> bool:
    """Whether the broker answers an AMQP 0-9-1 protocol header (with Connection.Start)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return sock.recv(1)[:1] == b"\x01"  # a method frame
    except OSError:
        return False


@contextlib.contextmanager
def throwaway_rabbitmq() -> Iterator[ThrowawayRabbitMQ]:
    server = ThrowawayRabbitMQ()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def api(base_url: str, timeout: float = 10.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": ADMIN_KEY},
                             timeout=timeout)


def sale_body(store: str, sku: str, ref: str) -> dict[str, Any]:
    return {"location_id": store, "lines": [line(sku)], "external_ref": ref}


@dataclass
class Tally:
    """What a selling client was answered, and when."""

    statuses: Counter[int | str] = field(default_factory=Counter)
    created: dict[str, str] = field(default_factory=dict)  # external_ref -> sale id
    bad_503: list[str] = field(default_factory=list)  # 503s without Retry-After/problem
    replayed: int = 0  # answers replayed from a key's stored response
    slowest: float = 0.0
    last_failure: float = 0.0
    first_success_after: dict[float, float] = field(default_factory=dict)

    def note(self, ref: str, response: httpx.Response, took: float) -> None:
        self.statuses[response.status_code] += 1
        self.slowest = max(self.slowest, took)
        if response.headers.get("Idempotent-Replayed") == "true":
            self.replayed += 1
        if response.status_code == 201:
            self.created[ref] = response.json()["id"]
        elif response.status_code == 503:
            self.last_failure = time.monotonic()
            if ("Retry-After" not in response.headers or not response.headers[
                    "content-type"].startswith("application/problem+json")):
                self.bad_503.append(response.text)


async def sell_once(client: httpx.AsyncClient, store: str, sku: str, ref: str,
                    tally: Tally) -> httpx.Response | None:
    """One sale with Idempotency-Key = ref; None when the connection failed."""
    started = time.monotonic()
    try:
        response = await client.post("/v1/sales/record", json=sale_body(store, sku, ref),
                                     headers={"Idempotency-Key": ref})
    except httpx.TransportError as exc:
        tally.statuses[type(exc).__name__] += 1
        tally.slowest = max(tally.slowest, time.monotonic() - started)
        return None
    tally.note(ref, response, time.monotonic() - started)
    return response


async def sell_until_answered(client: httpx.AsyncClient, store: str, sku: str, ref: str,
                              tally: Tally, *, give_up: float = 120.0) -> int:
    """Send one sale, with the same key, until a definitive answer (201 or a 4xx)."""
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        response = await sell_once(client, store, sku, ref, tally)
        if response is not None and response.status_code < 500:
            return response.status_code
        await asyncio.sleep(0.05)
    raise AssertionError(f"no definitive answer for {ref} within {give_up} s")


async def retried_then_read(client: httpx.AsyncClient, store: str, sku: str, refs: list[str]
                            ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every key sent again until it is answered 201; then the sales on record at the
    store and the level (its ledger identity checked)."""
    for ref in refs:
        assert await sell_until_answered(client, store, sku, ref, Tally()) == 201
    return await sales_at(client, store), await assert_ledger_identity(client, store, sku)


def report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`
