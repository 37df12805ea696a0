"""The Prometheus rules and the Grafana dashboard in deploy/: valid, unit-tested with
promtool (Debian's prometheus package; required under CI=true), and naming only metrics
that a running server exports, so that neither can drift from the code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import IN_CI, Databases, LiveServer, start_server, stop_server
from tests.metrics_support import metric_names, sample

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = ("alerts_test.yml", "alerts_test_days.yml")  # by the minute; by the hour
DASHBOARD = DEPLOY / "grafana" / "stockline.json"
# Made by Prometheus itself for every target, not by the server.
FROM_PROMETHEUS = {"up"}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool not found (apt-get install prometheus)"
        if IN_CI:
            pytest.fail(message + ": required under CI")
        pytest.skip(message)
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=DEPLOY / "prometheus", capture_output=True, text=True,
                          timeout=300, check=False)


def test_the_alert_rules_are_valid(promtool: str) -> None:
    checked = run(promtool, "check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_pass_their_unit_tests(promtool: str) -> None:
    tested = run(promtool, "test", "rules", *RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_has_a_unit_test_where_it_fires() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"]
              for rule in group["rules"]}
    tests = [test for name in RULE_TESTS
             for test in yaml.safe_load((DEPLOY / "prometheus" / name).read_text())["tests"]]
    firing = {case["alertname"] for test in tests for case in test["alert_rule_test"]
              if case["exp_alerts"]}
    assert alerts == firing


def test_the_example_prometheus_configuration_is_valid(promtool: str) -> None:
    checked = run(promtool, "check", "config", "--syntax-only", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_is_grafana_json_with_a_query_per_target() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    queries = [p for p in panels if p["type"] != "row"]
    assert queries and all(p["targets"] and all(t["expr"] for t in p["targets"])
                           for p in queries)


# -- no drift from the code --------------------------------------------------------------

def rule_expressions() -> list[str]:
    return [rule["expr"] for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    return [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"]
            for t in p.get("targets", [])]


def names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: ours all start with ``stockline_``
    (no label or function does); ``up`` is Prometheus's."""
    found = set(re.findall(r"\bstockline_[a-z0-9_]+", expr))
    return found | {"up"} if re.search(r"\bup\s*\{", expr) else found


def test_names_are_found_in_expressions() -> None:
    assert names_in('sum by (job) (rate(stockline_http_requests_total{status=~"5.."}[5m]))'
                    ' / up{job="stockline"}') == {"stockline_http_requests_total", "up"}


@pytest.fixture(scope="module")
async def server(databases: Databases, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[LiveServer]:
    """A server that reconciles every second (as the relay's leader)."""
    url = await databases.new("sqlite")
    started = start_server(url, tmp_path_factory.mktemp("alerts"), extra_env={
        "STOCKLINE_RECONCILE_INTERVAL_SECONDS": "1", "STOCKLINE_METRICS_CACHE_SECONDS": "0"})
    try:
        yield started
    finally:
        stop_server(started)


@pytest.fixture(scope="module")
def exported(server: LiveServer) -> Iterator[str]:
    """/metrics after a sale, a refusal, a stream opened and a reconcile run."""
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": server.admin_key},
                      timeout=30) as client:
        drive(client)
        driven = time.time()
        with client.stream("GET", "/v1/events/stream") as stream:
            assert stream.status_code == 200
            text = scrape_until(client, lambda t: (sample(  # a run that saw the sale
                t, "stockline_reconcile_last_run_timestamp_seconds") or 0) > driven)
            assert sample(text, "stockline_stream_clients", protocol="sse") == 1
        yield text


def drive(client: httpx.Client) -> None:
    def ok(response: httpx.Response) -> dict[str, Any]:
        assert response.is_success, response.text
        return dict(response.json())

    suffix = str(time.monotonic_ns())[-8:]
    store = ok(client.post("/v1/retail-locations", json={
        "code": f"S{suffix}", "name": "Store", "region": "test"}))["code"]
    sku = ok(client.post("/v1/products", json={
        "sku": f"P{suffix}", "name": "Product", "category": "test",
        "price": {"amount": "5.00", "currency": "USD"}}))["sku"]
    ok(client.post("/v1/inventory/update", json={"location_id": store, "sku": sku,
                                                  "delta": 1, "reason": "receipt"}))
    ok(client.post("/v1/sales/record", json={"location_id": store, "lines": [
        {"sku": sku, "quantity": 1, "unit_price": {"amount": "5.00", "currency": "USD"}}]}))
    assert client.get("/v1/products/none-such").status_code == 404


def scrape_until(client: httpx.Client, done: Any, within: float = 30.0) -> str:
    deadline = time.monotonic() + within
    while True:
        response = client.get("/metrics")
        assert response.status_code == 200, response.text
        if done(response.text) or time.monotonic() > deadline:
            return response.text
        time.sleep(0.2)


@pytest.mark.parametrize("where", ["alerts", "dashboard"])
def test_every_metric_named_is_one_the_server_exports(exported: str, where: str) -> None:
    expressions = rule_expressions() if where == "alerts" else dashboard_expressions()
    named = set().union(*(names_in(e) for e in expressions))
    assert named - FROM_PROMETHEUS, "no metric found: the parsing is broken"
    missing = named - FROM_PROMETHEUS - metric_names(exported)
    assert not missing, f"{where} name metrics the server does not export: {sorted(missing)}"


def test_the_server_exports_the_business_and_operations_metrics(exported: str) -> None:
    assert (sample(exported, "stockline_stockouts_total") or 0) >= 1  # the sale took the last
    assert sample(exported, "stockline_relay_leading") == 1
    assert sample(exported, "stockline_bus_connected", bus="memory") == 1
    assert sample(exported, "stockline_reconcile_drift", check="on_hand_ledger") == 0
    assert (sample(exported, "stockline_reconcile_levels_checked") or 0) >= 1
