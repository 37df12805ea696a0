"""Shared fixtures: a migrated database per backend, the app, clients, a live server.

Integration and e2e tests that take ``settings`` (directly or through ``client``,
``container`` or ``live_server``) run once on SQLite and once on PostgreSQL. PostgreSQL is
found at STOCKLINE_TEST_POSTGRES_URL (default: the local server's ``test`` database); a
fresh database is created per test session and dropped afterwards. Under CI=true a
missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from tests.factories import admin_client, migrate

ADMIN_KEY = "test-admin-key"
POSTGRES_URL = os.environ.get("STOCKLINE_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
SOAK = os.environ.get("STOCKLINE_SOAK", "") not in ("", "0")
# Every app and server of the suite (in-process, or started with this environment) keeps
# small pools: four xdist workers, each with its own apps and live servers, must fit in
# PostgreSQL's default 100 connections (16 a pool, they ran out of them).
os.environ.setdefault("STOCKLINE_DB_POOL_SIZE", "4")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``backend_agnostic`` runs on SQLite alone, unless STOCKLINE_SOAK=1
    (``make soak``): its subject is no part of the database, and a second server on
    PostgreSQL would prove nothing more for seconds of CPU."""
    if SOAK:
        return
    dropped = [item for item in items if item.get_closest_marker("backend_agnostic")
               and _backend_of(item) == "postgres"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def _backend_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("backend")


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _postgres_reachable() -> str | None:
    try:
        conn = await asyncpg.connect(_plain(POSTGRES_URL), timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


class Databases:
    """Fresh, migrated databases for this session, dropped at its end.

    The migrations run once a backend in each worker, into a template; every database
    handed out is a copy of it (SQLite: the file copied; PostgreSQL: CREATE DATABASE ...
    TEMPLATE), the same schema and rows the migrations leave, for a fraction of the cost
    (tests/integration/test_migrations.py runs the migrations themselves)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._postgres: list[str] = []
        self._templates: dict[str, str] = {}

    async def new(self, backend: str) -> str:
        if backend == "postgres":
            await self._require_postgres()
        template = self._templates.get(backend)
        if template is None:
            template = self._templates[backend] = await self._migrated(backend)
        if backend == "sqlite":
            path = self._tmp.mktemp("sqlite") / "stockline.db"
            shutil.copyfile(template, path)
            return f"sqlite+aiosqlite:///{path}"
        name = await self._create(f'TEMPLATE "{template}"')
        return self._postgres_url(name)

    async def _migrated(self, backend: str) -> str:
        """A template: a SQLite file's path or a PostgreSQL database's name."""
        if backend == "sqlite":
            path = self._tmp.mktemp("sqlite-template") / "stockline.db"
            await migrate(f"sqlite+aiosqlite:///{path}")
            with contextlib.closing(sqlite3.connect(path)) as conn:
                # the write-ahead log folded into the file, which alone is copied
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return str(path)
        name = await self._create("")
        await migrate(self._postgres_url(name))
        return name

    @staticmethod
    async def _require_postgres() -> None:
        problem = await _postgres_reachable()
        if problem is not None:
            message = f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}"
            if IN_CI:
                pytest.fail(message + " (required under CI)")
            pytest.skip(message)

    async def _create(self, template: str) -> str:
        name = f"stockline_t_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(_plain(POSTGRES_URL))
        try:
            await admin.execute(f'CREATE DATABASE "{name}" {template}')
        finally:
            await admin.close()
        self._postgres.append(name)
        return name

    @staticmethod
    def _postgres_url(name: str) -> str:
        return make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=name
                                          ).render_as_string(hide_password=False)

    async def drop_all(self) -> None:
        if not self._postgres:
            return
        admin = await asyncpg.connect(_plain(POSTGRES_URL))
        try:
            for name in self._postgres:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Databases]:
    made = Databases(tmp_path_factory)
    try:
        yield made
    finally:
        await made.drop_all()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def database_url(backend: str, databases: Databases) -> str:
    """The database of the in-process app (``client``, ``container``)."""
    return await databases.new(backend)


@pytest.fixture(scope="session")
async def server_database_url(backend: str, databases: Databases) -> str:
    """The database of the live server processes: apart from the in-process app's, so
    that their background jobs (the reservation sweeper, ...) never touch its tests."""
    return await databases.new(backend)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # webhook_allow_private: the tests' webhook receivers listen on 127.0.0.1. Every
    # in-process request comes from one address (127.0.0.1), so the session's refused
    # credentials, dozens of them, would otherwise run out its failure budget.
    return Settings(database_url=database_url, admin_key=ADMIN_KEY, env="test",
                    log_level="warning", var_dir=tmp_path_factory.mktemp("var"),
                    webhook_allow_private=True, auth_failure_limit=100_000)


@pytest.fixture(scope="session")
async def container(settings: Settings) -> AsyncIterator[Container]:
    c = bootstrap(settings)
    # The relay and hub run as in a server; the periodic jobs do not (tests drive them).
    await c.start(jobs=False)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture(scope="session")
async def app_client(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(settings, container) as client:
        yield client


@pytest.fixture
def client(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """An authenticated client of the in-process app (ASGI transport, no socket)."""
    return app_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    admin_key: str
    process: subprocess.Popen[bytes]
    log_path: Path


def start_server(database_url: str, var_dir: Path, *, workers: int = 1,
                 extra_env: dict[str, str] | None = None, scheme: str = "http") -> LiveServer:
    """``stockline serve`` in its own process on a free port; returns once it is ready.
    ``scheme="https"`` when ``extra_env`` gives it a certificate (readiness is then
    checked without verifying it)."""
    port = free_port()
    # Test clients all speak from 127.0.0.1, refused credentials (the fuzzer's, say) and
    # valid ones alike: a budget of refused credentials they cannot run out.
    env = {**os.environ, "STOCKLINE_DATABASE_URL": database_url,
           "STOCKLINE_ADMIN_KEY": ADMIN_KEY, "STOCKLINE_LOG_LEVEL": "warning",
           "STOCKLINE_VAR_DIR": str(var_dir), "STOCKLINE_AUTH_FAILURE_LIMIT": "100000",
           "STOCKLINE_GRPC_PORT": "0",  # a test that speaks gRPC gives its own port
           **(extra_env or {})}
    log_path = var_dir / f"server-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "stockline.entrypoints.cli", "serve", "--port", str(port),
         "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"{scheme}://127.0.0.1:{port}"
    if _ready(process, f"{base_url}/readyz", log_path, verify=scheme == "http"):
        return LiveServer(base_url, ADMIN_KEY, process, log_path)
    process.kill()
    raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")


def _ready(process: subprocess.Popen[bytes], readyz: str, log_path: Path, *,
           verify: bool) -> bool:
    """Whether ``readyz`` answers 200 within three minutes (a loaded machine, the whole
    suite on two cores beside other work, took over a minute to start two workers). One
    client for every probe: ``httpx.get`` makes a client, and with it a TLS context, each
    time (some 25 ms of CPU a probe, ten probes a second for as long as a server takes to
    start)."""
    deadline = time.monotonic() + 180
    with httpx.Client(timeout=1, verify=verify) as probe:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
            try:
                if probe.get(readyz).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return False


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def live_server(server_database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """The real app under uvicorn, in another process, on a free port of 127.0.0.1."""
    server = start_server(server_database_url, tmp_path_factory.mktemp("live"))
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
async def live(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of the live server."""
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key},
                                 timeout=httpx.Timeout(30.0)) as client:
        yield client
