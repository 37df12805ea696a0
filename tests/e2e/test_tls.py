"""TLS and secure headers: `stockline serve` over HTTPS sends HSTS; every answer carries
the secure headers; the docs page keeps a policy that lets Swagger UI run."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import Databases, LiveServer, start_server, stop_server
from tests.factories import without_credentials

COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
          "referrer-policy": "no-referrer"}


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
async def tls_server(databases: Databases, tmp_path_factory: pytest.TempPathFactory
                     ) -> AsyncIterator[tuple[LiveServer, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(directory)
    server = start_server(await databases.new("sqlite"), directory, scheme="https",
                          extra_env={"STOCKLINE_SSL_CERTFILE": str(cert),
                                     "STOCKLINE_SSL_KEYFILE": str(key)})
    try:
        yield server, cert
    finally:
        stop_server(server)


@pytest.mark.slow
async def test_serve_over_tls_answers_https_with_hsts(tls_server: tuple[LiveServer, Path]
                                                      ) -> None:
    server, cert = tls_server
    assert server.base_url.startswith("https://")
    trusted = ssl.create_default_context(cafile=cert)
    async with httpx.AsyncClient(base_url=server.base_url, verify=trusted,
                                 headers={"X-API-Key": server.admin_key}) as https:
        for path in ("/readyz", "/v1/products"):
            response = await https.get(path)
            assert response.status_code == 200, response.text
            hsts = response.headers["strict-transport-security"]
            assert hsts.startswith("max-age=") and int(hsts[8:].split(";")[0]) >= 31_536_000
            assert COMMON.items() <= response.headers.items()
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.slow
async def test_plain_http_on_the_tls_port_is_not_served(tls_server: tuple[LiveServer, Path]
                                                        ) -> None:
    server, _ = tls_server
    plain = server.base_url.replace("https://", "http://")
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"{plain}/readyz")
    except httpx.TransportError:
        return
    assert response.status_code != 200


async def test_every_answer_carries_the_secure_headers(client: httpx.AsyncClient) -> None:
    answers = {
        "ok": await client.get("/v1/products", params={"limit": 1}),
        "not found": await client.get(f"/v1/products/{'NOPE-' + 'X' * 8}"),
        "unauthorized": await without_credentials(client, "GET", "/v1/products"),
        "probe": await client.get("/healthz"),
        "spec": await client.get("/openapi.json"),
        "no route": await client.get("/nowhere"),
    }
    for what, response in answers.items():
        headers = response.headers
        assert COMMON.items() <= headers.items(), what
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, what
        assert "strict-transport-security" not in headers, what  # plain http: no HSTS
    for what in ("ok", "not found", "unauthorized"):
        assert answers[what].headers["cache-control"] == "no-store", what


async def test_the_docs_page_keeps_working_under_its_own_policy(
        client: httpx.AsyncClient) -> None:
    docs = await without_credentials(client, "GET", "/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert "swagger-ui" in docs.text.lower()
    csp = docs.headers["content-security-policy"]
    assert COMMON.items() <= docs.headers.items()
    # The page's inline bootstrap script, its styles and its calls to the API are allowed;
    # other sites may not frame it.
    assert "script-src 'self' 'unsafe-inline'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    # Its scripts and styles come from this server (no CDN): anonymous, and allowed by it.
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in docs.text
        served = await without_credentials(client, "GET", f"/docs/assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000, asset
    assert "cdn.jsdelivr" not in docs.text
