"""deploy/nginx/stockline.conf in front of live nodes: the shipped file, rendered with only
its ``# site:`` values changed (tests/nginx_support.py), run by the machine's nginx.

A node believes X-Forwarded-For / -Proto from nginx only when STOCKLINE_TRUSTED_PROXIES
names it: clients here speak from other loopback addresses (127.0.0.2, 127.0.0.3) than
nginx (127.0.0.1), so the address a node records says whom it believed. The failover
test (three nodes, one killed) is in test_nginx_failover.py.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import websockets
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import (
    ADMIN_KEY,
    Databases,
    LiveServer,
    free_port,
    start_server,
    stop_server,
)
from tests.e2e.test_tls import self_signed
from tests.factories import line, random_code, record_sale, stocked
from tests.nginx_support import (
    SHIPPED,
    Nginx,
    Site,
    check_config,
    nginx_binary,
    render_site,
    running_nginx,
    start_nodes,
)

pytestmark = pytest.mark.slow

SPOOFED = "203.0.113.9"  # what a client claims to be in its own X-Forwarded-For


@dataclass(frozen=True)
class Fronted:
    trusting: LiveServer  # names nginx (127.0.0.1) in STOCKLINE_TRUSTED_PROXIES
    distrusting: LiveServer  # names no proxy
    trusting_nginx: Nginx
    distrusting_nginx: Nginx
    certificate: Path


@pytest.fixture(scope="module")
def nginx_bin() -> str:
    return nginx_binary()


@pytest.fixture(scope="module")
async def fronted(nginx_bin: str, databases: Databases,
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fronted]:
    directory = tmp_path_factory.mktemp("nginx-trust")
    cert, key = self_signed(directory)
    grpc_target = f"127.0.0.1:{free_port()}"
    trusting_env = {"STOCKLINE_TRUSTED_PROXIES": "127.0.0.1",
                    "STOCKLINE_GRPC_PORT": grpc_target.rsplit(":", 1)[1]}
    trusting, distrusting = await asyncio.to_thread(
        start_nodes,
        partial(start_server, await databases.new("sqlite"),
                tmp_path_factory.mktemp("trusting"), extra_env=trusting_env),
        partial(start_server, await databases.new("sqlite"),
                tmp_path_factory.mktemp("distrusting")))
    try:
        with _nginx(directory / "nginx-a", trusting, cert, key, grpc_target) as first, \
                _nginx(directory / "nginx-b", distrusting, cert, key) as second:
            yield Fronted(trusting, distrusting, first, second, cert)
    finally:
        stop_server(distrusting)
        stop_server(trusting)


def _address(node: LiveServer) -> str:
    return node.base_url.removeprefix("http://")


def _nginx(directory: Path, node: LiveServer, cert: Path, key: Path,
           grpc_target: str | None = None) -> AbstractContextManager[Nginx]:
    site = Site.on_free_ports([_address(node)], cert, key,
                              [grpc_target] if grpc_target else ())
    return running_nginx(directory, site)


def _client(base_url: str, certificate: Path, source: str) -> httpx.AsyncClient:
    """An admin client speaking from the loopback address ``source``."""
    transport = httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=certificate),
                                         local_address=source)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30.0,
                             headers={"X-API-Key": ADMIN_KEY})


async def _write(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    """One audited write (a new warehouse), sent with ``headers``."""
    response = await client.post("/v1/warehouses", headers=headers, json={
        "code": random_code("WH"), "name": "Behind nginx"})
    assert response.status_code == 201, response.text
    return response


async def _audited(client: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    page = (await client.get("/v1/audit", params={"method": "POST", "limit": 50})).json()
    found = [entry for entry in page["items"] if entry["request_id"] == request_id]
    assert len(found) == 1, (request_id, page)
    return found[0]


def test_the_shipped_file_renders_only_its_site_lines(tmp_path: Path, nginx_bin: str) -> None:
    cert, key = self_signed(tmp_path)
    site = Site.on_free_ports(["127.0.0.1:1", "127.0.0.1:2"], cert, key)
    check_config(nginx_bin, tmp_path / "conf", site)  # nginx -t accepts it
    shipped = SHIPPED.read_text().splitlines()
    rendered = (tmp_path / "conf" / "stockline.conf").read_text().splitlines()
    changed = [line for line in shipped if "# site:" in line]
    assert [line for line in shipped if line not in changed] == [
        line for line in rendered if "# site:" not in line]
    assert sum("server 127.0.0.1:" in line and "max_fails=3" in line
               for line in rendered) == 4  # two nodes, their HTTP and their gRPC
    with pytest.raises(ValueError, match="access-log"):
        render_site(SHIPPED.read_text(), {k: v for k, v in site.values(tmp_path).items()
                                          if k != "access-log"})


async def test_a_trusted_nginx_passes_on_the_clients_address_and_scheme(
        fronted: Fronted) -> None:
    async with _client(fronted.trusting_nginx.base_url, fronted.certificate,
                       "127.0.0.2") as client:
        # whatever the client claims, nginx says who it is and that it came over TLS
        response = await _write(client, **{"X-Forwarded-For": SPOOFED,
                                           "X-Forwarded-Proto": "http"})
        assert response.headers["strict-transport-security"].startswith("max-age=")
        made_by_nginx = response.headers["x-request-id"]
        entry = await _audited(client, made_by_nginx)
        assert entry["ip"] == "127.0.0.2", entry
        given = await _write(client, **{"X-Request-ID": "till-7.receipt-42"})
        assert given.headers["x-request-id"] == "till-7.receipt-42"
        assert (await _audited(client, "till-7.receipt-42"))["ip"] == "127.0.0.2"
    async with _client(fronted.trusting_nginx.base_url, fronted.certificate,
                       "127.0.0.1") as client:
        # a client on nginx's own address: its header is replaced all the same (appended
        # to, the node would skip the trusted address and believe the made-up one)
        local = await _write(client, **{"X-Forwarded-For": SPOOFED})
        assert (await _audited(client, local.headers["x-request-id"]))["ip"] == "127.0.0.1"
    logged = {entry.request_id: entry for entry in fronted.trusting_nginx.log_lines()}
    assert logged[made_by_nginx].status == 201 and logged["till-7.receipt-42"].status == 201


async def test_a_node_that_does_not_name_nginx_sees_nginx(fronted: Fronted) -> None:
    async with _client(fronted.distrusting_nginx.base_url, fronted.certificate,
                       "127.0.0.2") as client:
        response = await _write(client)
        assert "strict-transport-security" not in response.headers  # plain HTTP from nginx
        entry = await _audited(client, response.headers["x-request-id"])
        assert entry["ip"] == "127.0.0.1", entry


async def test_a_trusting_node_believes_nobody_else(fronted: Fronted) -> None:
    """Straight to the node that trusts nginx, from another address: its headers are
    ignored (the nodes' ports must be reachable from nginx only, and even so)."""
    async with _client(fronted.trusting.base_url, fronted.certificate,
                       "127.0.0.3") as client:
        response = await _write(client, **{"X-Forwarded-For": SPOOFED,
                                           "X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in response.headers
        entry = await _audited(client, response.headers["x-request-id"])
        assert entry["ip"] == "127.0.0.3", entry


async def test_plain_http_is_redirected_to_https(fronted: Fronted) -> None:
    port = fronted.trusting_nginx.site.http_port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as plain:
        response = await plain.post("/v1/sales/record?x=1", json={})
    assert response.status_code == 308  # a POST stays a POST
    assert response.headers["location"] == "https://127.0.0.1/v1/sales/record?x=1"


async def test_a_node_that_refuses_connections_costs_no_request(fronted: Fronted,
                                                                 tmp_path: Path) -> None:
    """A node that is down (nothing listens on its port) beside a live one: nginx passes
    every request it sends there, writes included, to the live node (nothing reached the
    dead one), until it takes the dead one out of rotation."""
    cert, key = self_signed(tmp_path)
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    site = Site.on_free_ports([down, _address(fronted.trusting)], cert, key)
    with running_nginx(tmp_path / "nginx", site) as nginx:
        async with _client(nginx.base_url, cert, "127.0.0.2") as client:
            for _ in range(4):
                await _write(client)  # 201 every time
                assert (await client.get("/readyz")).status_code == 200
        tried = [entry.upstreams for entry in nginx.log_lines()]
    assert (down, _address(fronted.trusting)) in tried, tried


async def test_no_node_answering_is_a_problem_to_retry(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    nobody = Site.on_free_ports([f"127.0.0.1:{free_port()}"], cert, key)  # nothing listens
    with running_nginx(tmp_path / "nginx", nobody) as nginx:
        async with _client(nginx.base_url, cert, "127.0.0.2") as client:
            response = await client.post("/v1/sales/record", json={},
                                         headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["code"] == "service_unavailable" and body["status"] == 503
    assert "Idempotency-Key" in body["detail"]


async def test_websockets_pass_through_nginx(fronted: Fronted) -> None:
    """The upgrade is passed on: events over /v1/events/ws, and GraphQL's
    graphql-transport-ws on /graphql."""
    tls = ssl.create_default_context(cafile=fronted.certificate)
    url = fronted.trusting_nginx.base_url.replace("https://", "wss://")
    headers = {"X-API-Key": ADMIN_KEY}
    async with _client(fronted.trusting_nginx.base_url, fronted.certificate,
                       "127.0.0.2") as client:
        store, (sku,) = await stocked(client, quantity=3)
        async with websockets.connect(url + "/v1/events/ws", ssl=tls,
                                      additional_headers=headers) as ws:
            await ws.send(json.dumps({"action": "subscribe", "location_id": [store],
                                      "types": ["sale.recorded"]}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "subscribed"
            sale = await record_sale(client, store, [line(sku)])
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))["event"]
            assert (event["type"], event["data"]["sale_id"]) == ("sale.recorded", sale["id"])
    async with websockets.connect(url + "/graphql", ssl=tls, additional_headers=headers,
                                  subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                                  ) as graphql:
        assert graphql.subprotocol == "graphql-transport-ws"
        await graphql.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await asyncio.wait_for(graphql.recv(), 30))
        assert ack["type"] == "connection_ack", ack


def test_grpc_passes_through_nginx_over_tls(fronted: Fronted) -> None:
    credentials = grpc.ssl_channel_credentials(fronted.certificate.read_bytes())
    with grpc.secure_channel(fronted.trusting_nginx.grpc_target, credentials) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                           timeout=30)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
