"""A throwaway PostgreSQL primary and a streaming replica of it, made by the test itself:
``initdb`` on a free port in a temporary directory, the replica by ``pg_basebackup -R``
on another. Built for speed (no fsync, small buffers); both killed at the end, whatever
happened."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI, free_port


def _server_binaries() -> Path:
    """STOCKLINE_TEST_PG_BIN, else the newest of Debian's PostgreSQL server packages."""
    if given := os.environ.get("STOCKLINE_TEST_PG_BIN"):
        return Path(given)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _server_binaries()
OWNER = "postgres"  # the server refuses to run as root
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 80
wal_level = replica
max_wal_senders = 4
hot_standby = on
wal_receiver_status_interval = 1s
logging_collector = off
"""


@dataclass(frozen=True)
class Cluster:
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def plain_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def kill(self) -> None:
        """Whatever state it is in: stopped at once, or its postmaster killed (its
        children notice and exit)."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


def run(tool: str, *args: str) -> str:
    """A PostgreSQL tool, as the postgres user when the test runs as root."""
    command = [str(PG_BIN / tool), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", OWNER, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return done.stdout


def _available() -> str | None:
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL server binaries in {PG_BIN}"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user(OWNER)):
        return "running as root without runuser or a postgres user"
    return None


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _owned_temp_dir() -> Path:
    """A directory the postgres user owns (pytest's own are private to the test's user)."""
    made = Path(tempfile.mkdtemp(prefix="stockline-replica-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(OWNER)
        os.chown(made, owner.pw_uid, owner.pw_gid)
    made.chmod(0o700)
    return made


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:  # the file stays its owner's
        f.write(text)


@contextlib.contextmanager
def primary_and_replica() -> Iterator[tuple[Cluster, Cluster]]:
    """A primary (its database ``postgres`` empty) and its streaming replica, both
    running; killed and removed on the way out, whatever happened."""
    problem = _available()
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + ": required under CI")
        pytest.skip(problem)
    root = _owned_temp_dir()
    primary = Cluster(root / "primary", free_port(), root / "primary.log")
    replica = Cluster(root / "replica", free_port(), root / "replica.log")
    try:
        run("initdb", "-D", str(primary.data), "--no-sync", "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C")
        _append(primary.data / "postgresql.conf", SETTINGS.format(port=primary.port,
                                                                  sockets=root))
        primary.start()
        run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        _append(replica.data / "postgresql.conf", f"\nport = {replica.port}\n")
        replica.start()
        yield primary, replica
    finally:
        for cluster in (replica, primary):
            cluster.kill()
        shutil.rmtree(root, ignore_errors=True)
