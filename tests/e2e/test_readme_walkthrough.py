"""The README's shell snippets, as written, against a real server: the curl walk-through
twice on the same database (both runs give the documented answers), and the keys snippet.

The snippets are read from README.md itself, so the README cannot drift from what the
server answers. Only their address line is rewritten (the server listens on a free port);
the admin key is where the README reads it, ``var/admin_key``, in the directory they run in.
Both backends: the session's live server is shared, so the second costs little.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockline.entrypoints.demo.sites import DemoSize, stores
from tests.conftest import IN_CI, LiveServer

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_API = "API=http://127.0.0.1:8000"
ANSWER = re.compile(r"^(?P<body>.*) \[(?P<status>\d{3})\]$")
Answer = tuple[int, dict[str, Any]]


@pytest.fixture(autouse=True)
def needs_curl() -> None:
    if shutil.which("curl") is None:
        if IN_CI:
            pytest.fail("curl is needed to run the README's snippets")
        pytest.skip("curl is not installed")


def shell_block(heading: str) -> str:
    """The first ```sh block of the README section under ``heading``."""
    text = README.read_text()
    section = text[text.index(f"\n{heading}\n"):]
    found = re.search(r"^```sh\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert found is not None, f"no shell block under {heading!r}"
    return found.group(1)


def aimed_at(script: str, server: LiveServer) -> str:
    """``script`` with its documented address replaced by the live server's."""
    lines = script.splitlines()
    assert lines.count(DOCUMENTED_API) == 1, f"the snippet no longer sets {DOCUMENTED_API}"
    return "\n".join(f"API={server.base_url}" if line == DOCUMENTED_API else line
                     for line in lines) + "\n"


def run_shell(script: str, server: LiveServer, workdir: Path) -> list[Answer]:
    """``script`` run by bash in ``workdir`` (whose var/admin_key is the server's key):
    the status and JSON body of every answer it printed, in order."""
    (workdir / "var").mkdir(exist_ok=True)
    (workdir / "var" / "admin_key").write_text(server.admin_key + "\n")
    done = subprocess.run(["bash", "-e", "-c", aimed_at(script, server)], cwd=workdir,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done
    answers = []
    for line in done.stdout.splitlines():
        printed = ANSWER.match(line)
        assert printed is not None, f"not an answer and its status: {line!r}"
        answers.append((int(printed["status"]), json.loads(printed["body"])))
    return answers


def check_walkthrough(answers: list[Answer]) -> tuple[str, str]:
    """The answers the README documents, call by call; the run's store and SKU."""
    assert [status for status, _ in answers] == [201, 201, 200, 201, 201, 200, 200, 409]
    product, store, receipt, sale, replay, level, ledger, short = (b for _, b in answers)
    sku, code = product["sku"], store["code"]
    assert sku.startswith("RUN-PEG41-42-BLK-") and code.startswith("STORE-NYC-")
    assert (receipt["on_hand"], receipt["available"]) == (5, 5)
    assert sale["total"] == {"amount": "259.98", "currency": "USD"} and sale["units"] == 2
    assert replay == sale  # the same sale (same id), not a second one
    assert (level["location_id"], level["sku"]) == (code, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (3, 0, 3)
    assert [(m["type"], m["delta"], m["balance_after"], m["reference"])
            for m in ledger["items"]] == [("receipt", 5, 5, None), ("sale", -2, 3, sale["id"])]
    assert short["code"] == "insufficient_stock"
    assert short["lines"] == [{"sku": sku, "requested": 4, "available": 3}]
    return code, sku


def test_the_curl_walkthrough_runs_twice_on_one_database_with_the_same_answers(
        live_server: LiveServer, tmp_path: Path) -> None:
    script = shell_block("## A sale, with curl")
    first = check_walkthrough(run_shell(script, live_server, tmp_path))
    second = check_walkthrough(run_shell(script, live_server, tmp_path))
    assert first != second  # each run made its own store and product
    with httpx.Client(base_url=live_server.base_url, timeout=30,
                      headers={"X-API-Key": live_server.admin_key}) as api:
        level = api.get(f"/v1/inventory/{first[0]}/{first[1]}").json()
    assert level["on_hand"] == 3  # the second run left the first run's stock alone


def test_the_keys_snippet_creates_a_key_at_a_demo_store(live_server: LiveServer,
                                                        tmp_path: Path) -> None:
    script = shell_block("## Keys, tokens and customers")
    over_http = script[:script.index("# ... or on the server's machine")]
    with httpx.Client(base_url=live_server.base_url, timeout=30,
                      headers={"X-API-Key": live_server.admin_key}) as api:
        # The snippet names a store of the demo data that `make run` loads: made here as
        # the demo makes it (409: an earlier run of this test made it already).
        [site] = [s for s in stores(DemoSize()) if s.code == "ST-NE-02"]
        made = api.post("/v1/retail-locations",
                        json={"code": site.code, "name": site.name, "region": site.region})
        assert made.status_code in (201, 409), made.text
    [(status, key)] = run_shell(over_http, live_server, tmp_path)
    assert status == 201, key
    assert (key["name"], key["role"], key["location_ids"]) == (
        "POS 7, Brooklyn", "store_staff", ["ST-NE-02"])
    assert key["key"].startswith(f"sk_{key['prefix']}_")
