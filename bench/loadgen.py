"""The load generator: wrk (Debian's package) with the Lua scripts in bench/wrk/, run as its
own process so that it never shares the server's interpreter. Each run is closed-loop:
``concurrency`` connections, each sending its next request when the last one answered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from bench.harness import BENCH_KEY, Dataset, Measured

WRK_DIR = Path(__file__).parent / "wrk"


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(base_url: str, script: str, *, concurrency: int, seconds: float, data: Dataset,
            hot: bool = False, idempotent: bool = False) -> Measured:
    """``script`` (``sale`` or ``level``) against ``base_url``; statuses other than the one
    the script expects count as errors."""
    env = {**os.environ, "BENCH_KEY": BENCH_KEY, "BENCH_SKUS": str(data.skus),
           "BENCH_LOCATIONS": str(data.locations), "BENCH_HOT": "1" if hot else "0",
           "BENCH_IDEMPOTENT": "1" if idempotent else "0", "BENCH_WRK_DIR": str(WRK_DIR)}
    threads = max(1, min(2, concurrency))
    command = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s",
               "--timeout", "30s", "-s", str(WRK_DIR / f"{script}.lua"), base_url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                          timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    figures = json.loads(line.removeprefix("WRK_RESULT "))
    return Measured(count=figures["ok"], seconds=figures["duration_us"] / 1e6,
                    p50=figures["p50_us"] / 1e6, p99=figures["p99_us"] / 1e6,
                    errors=figures["unexpected"] + figures["socket_errors"])
