"""Load-test your own Stockline deployment with a realistic mix (Locust).

    pip install -e '.[load]'
    STOCKLINE_KEY=<an admin or manager key> locust -f bench/locustfile.py \\
        --host http://127.0.0.1:8000 --users 100 --spawn-rate 20 --run-time 2m --headless

Each simulated user works at the stores and warehouses the API lists and the SKUs they
hold (it reads them once at start): about 90% reads (one level, a SKU at every location,
a product, recent sales) and 10% writes (POS sales with an idempotency key, holds that are
committed or released, small transfers from a warehouse to a store). An answer of 409
``insufficient_stock`` is an expected outcome of a write, not a failure. Aim it at a
staging copy: it really sells, holds and moves stock.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.env import Environment

KEY = os.environ.get("STOCKLINE_KEY", "")
WORLD: dict[str, list[str]] = {"stores": [], "warehouses": [], "skus": []}


def _codes(client: Any, path: str, field: str, limit: int = 500) -> list[str]:
    answer = client.get(path, params={"limit": limit}, headers={"X-API-Key": KEY})
    answer.raise_for_status()
    return [item[field] for item in answer.json()["items"]]


@events.test_start.add_listener
def discover(environment: Environment, **_: Any) -> None:
    """Read the locations and SKUs once, before the users start."""
    import httpx

    with httpx.Client(base_url=environment.host or "http://127.0.0.1:8000",
                      timeout=30) as client:
        WORLD["stores"] = _codes(client, "/v1/retail-locations", "code")
        WORLD["warehouses"] = _codes(client, "/v1/warehouses", "code")
        WORLD["skus"] = _codes(client, "/v1/products", "sku")
    if not WORLD["stores"] or not WORLD["skus"]:
        raise RuntimeError("the deployment has no stores or products to load-test")


class RetailUser(FastHttpUser):
    wait_time = between(0.05, 0.5)

    def on_start(self) -> None:
        self.headers = {"X-API-Key": KEY}

    def _store(self) -> str:
        return random.choice(WORLD["stores"])

    def _sku(self) -> str:
        return random.choice(WORLD["skus"])

    # -- reads (about 90%) -------------------------------------------------------------

    @task(50)
    def read_level(self) -> None:
        self.client.get(f"/v1/inventory/{self._store()}/{self._sku()}", headers=self.headers,
                        name="/v1/inventory/{location}/{sku}")

    @task(20)
    def sku_everywhere(self) -> None:
        self.client.get("/v1/inventory", params={"sku": self._sku(), "limit": 100},
                        headers=self.headers, name="/v1/inventory?sku=")

    @task(12)
    def read_product(self) -> None:
        self.client.get(f"/v1/products/{self._sku()}", headers=self.headers,
                        name="/v1/products/{sku}")

    @task(8)
    def recent_sales(self) -> None:
        self.client.get("/v1/sales", params={"location_id": self._store(), "limit": 20},
                        headers=self.headers, name="/v1/sales?location_id=")

    # -- writes (about 10%) ------------------------------------------------------------

    def _write(self, path: str, body: dict[str, Any], name: str) -> Any:
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        with self.client.post(path, json=body, headers=headers, name=name,
                              catch_response=True) as answer:
            if answer.status_code == 409:
                answer.success()  # out of stock is an answer, not an error
            return answer

    @task(6)
    def pos_sale(self) -> None:
        lines = [{"sku": self._sku(), "quantity": random.randint(1, 2),
                  "unit_price": {"amount": "49.90", "currency": "USD"}}
                 for _ in range(random.choice((1, 1, 1, 2, 3)))]
        self._write("/v1/sales/record", {"location_id": self._store(), "lines": lines,
                                         "channel": "pos"}, "/v1/sales/record")

    @task(2)
    def hold_then_commit_or_release(self) -> None:
        answer = self._write("/v1/reservations", {
            "location_id": self._store(), "ttl_seconds": 300,
            "lines": [{"sku": self._sku(), "quantity": 1}]}, "/v1/reservations")
        if answer.status_code != 201:
            return
        hold = answer.json()["id"]
        action = "commit" if random.random() < 0.7 else "release"
        self._write(f"/v1/reservations/{hold}/{action}", {},
                    f"/v1/reservations/{{id}}/{action}")

    @task(2)
    def transfer(self) -> None:
        if not WORLD["warehouses"]:
            return
        self._write("/v1/stock-movements/transfer", {
            "from_location_id": random.choice(WORLD["warehouses"]),
            "to_location_id": self._store(),
            "lines": [{"sku": self._sku(), "quantity": 1}]}, "/v1/stock-movements/transfer")
