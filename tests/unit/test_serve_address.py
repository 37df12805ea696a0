"""`stockline serve` (what `make run` starts) on an address it cannot listen on says, in one
line, which address and which settings to change, and exits 2 before starting anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
    environment.update({"STOCKLINE_VAR_DIR": str(tmp_path / "var"),
                        "STOCKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}", **env})
    # A generous timeout: if the check were missing, uvicorn would be left to fail (or serve).
    return subprocess.run([sys.executable, "-m", "stockline.entrypoints.cli", "serve", *args],
                          env=environment, capture_output=True, text=True, timeout=120,
                          check=False)


def said(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_taken_port_names_the_setting_to_change(tmp_path: Path, taken_port: int,
                                                           workers: str) -> None:
    done = serve(tmp_path, "--port", str(taken_port), "--workers", workers)
    assert done.returncode == 2, done
    lines = said(done)
    assert len(lines) == 1, lines  # one sentence, no traceback, no uvicorn log
    assert f"cannot listen on 127.0.0.1:{taken_port}" in lines[0]
    assert "already in use" in lines[0]
    assert "STOCKLINE_PORT" in lines[0] and "STOCKLINE_HOST" in lines[0]
    assert not (tmp_path / "var" / "admin_key").exists()  # refused before anything started
    assert not (tmp_path / "never.db").exists()


def test_serve_on_an_address_not_of_this_machine_names_the_host_setting(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1, RFC 5737) is never an address of a test machine
    done = serve(tmp_path, "--port", "8000", STOCKLINE_HOST="192.0.2.1")
    assert done.returncode == 2, done
    lines = said(done)
    assert len(lines) == 1, lines
    assert "cannot listen on 192.0.2.1:8000" in lines[0] and "STOCKLINE_HOST" in lines[0]

