"""``stockline serve``: the API under uvicorn, refused with reasons when it cannot be safe."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import signal
import socket
import ssl
from pathlib import Path
from typing import Annotated, NoReturn

import structlog
import typer
import uvicorn
from pydantic import ValidationError
from rich.markup import escape
from rich.panel import Panel

from stockline.adapters.logging import configure_logging, redact
from stockline.config import Settings
from stockline.entrypoints.cli.base import console, settings_from
from stockline.entrypoints.http.protocol import HeadLimits, bounded_http

GRACEFUL_SHUTDOWN_SECONDS = 10
log = structlog.get_logger("stockline.serve")


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    grpc_port: Annotated[int | None, typer.Option(
        help="gRPC port on the same host (0: no gRPC)")] = None,
    admin_key: Annotated[str | None, typer.Option(help="The admin API key")] = None,
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(
        help="Serve HTTPS with this certificate chain (PEM); needs --ssl-keyfile")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(
        help="The certificate's private key (PEM)")] = None,
) -> None:
    """Serve the API (and /docs). Prints the admin key to use (outside production)."""
    try:
        settings = settings_from(host=host, port=port, workers=workers, grpc_port=grpc_port,
                                 admin_key=admin_key,
                                 database_url=database_url, ssl_certfile=ssl_certfile,
                                 ssl_keyfile=ssl_keyfile)
    except ValidationError as error:
        _refuse_to_serve("the settings are refused", _problems(error))
    tls = _tls_problem(settings)
    if tls is not None:
        _refuse_to_serve("TLS cannot start", [tls])
    _refuse_unless_listenable(settings.host, settings.port)
    if settings.grpc_port:
        if settings.grpc_port == settings.port:
            _refuse_to_serve("the ports collide", [
                f"STOCKLINE_GRPC_PORT and STOCKLINE_PORT are both {settings.port}: give gRPC "
                "another port (0 serves no gRPC)"])
        # gRPC binds with SO_REUSEPORT (every worker listens): probed the same way.
        _refuse_unless_listenable(settings.host, settings.grpc_port, reuse_port=True,
                                  setting="STOCKLINE_GRPC_PORT (0: no gRPC)")
    key, source = ensure_admin_key(settings)
    os.environ["STOCKLINE_ADMIN_KEY"] = key
    os.environ["STOCKLINE_WORKERS"] = str(settings.workers)  # each worker knows it has peers
    if settings.workers > 1:
        metrics_dir = settings.var_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    # uvicorn's own lines (this process's and the workers') go through the same JSON
    # logging as the app's: uvicorn is given no logging config of its own.
    configure_logging(settings.log_level, settings.log_format)
    _announce(settings, key, source)
    # uvicorn re-raises the SIGTERM it shut down on once done: the process would end
    # "killed by SIGTERM" (-15) after a clean stop. Let that re-raise exit 0 instead.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run("stockline.entrypoints.http.app:create_app_from_env", factory=True,
                host=settings.host, port=settings.port, workers=settings.workers,
                log_config=None, log_level=settings.log_level, access_log=False,
                server_header=False,
                timeout_keep_alive=settings.keep_alive_seconds,
                # Each request's line and headers: bounded in size and in time.
                http=bounded_http(HeadLimits(settings.max_header_bytes,
                                             settings.header_timeout_seconds)),
                # In-flight requests get this long to finish; then the rest are cut off.
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
                ssl_certfile=settings.ssl_certfile, ssl_keyfile=settings.ssl_keyfile,
                # X-Forwarded-For/-Proto are believed only from the proxies named.
                proxy_headers=settings.trusted_proxies is not None,
                forwarded_allow_ips=settings.trusted_proxies)


def ensure_admin_key(settings: Settings) -> tuple[str, str]:
    """The admin key and where it came from: the setting, the kept file, or made now."""
    if settings.admin_key is not None:
        return settings.admin_key.get_secret_value(), "STOCKLINE_ADMIN_KEY"
    path = settings.var_dir / "admin_key"
    if path.exists():
        return path.read_text().strip(), str(path)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    key = "sk_admin_" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key, f"{path} (generated now)"


def _announce(settings: Settings, key: str, source: str) -> None:
    """The address and the admin key to use, on a terminal; to a log (the output is not a
    terminal), one line that says where the key is, never the key."""
    scheme = "https" if settings.ssl_certfile else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"
    grpc = f"{settings.host}:{settings.grpc_port}" if settings.grpc_port else ""
    if not console.is_terminal:
        log.info("serving", url=base, docs=f"{base}/docs", grpc=grpc or None,
                 database=redact(settings.database_url), admin_key_from=source)
        return
    shown = (f"[bold]{key}[/bold]" if settings.env != "production"
             else "(set; not printed in production)")
    console.print(Panel.fit(
        f"Stockline on [bold]{base}[/bold]  (API docs: {base}/docs)\n"
        + (f"gRPC (stockline.v1) on [bold]{grpc}[/bold]\n" if grpc else "") +
        f"Database: {redact(settings.database_url)}\n"
        f"Admin key: {shown}\n  from {source}\n"
        f"Try:  curl -H 'X-API-Key: <admin key>' {base}/v1/warehouses",
        title="stockline serve"))


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _problems(error: ValidationError) -> list[str]:
    found = []
    for item in error.errors():
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        where = ".".join(str(part) for part in item.get("loc", ()))
        if where:  # one field's value: named, never shown (it may be a secret)
            found.append(f"STOCKLINE_{where.upper()}: {message}")
        else:  # the production rules: each problem on its own line
            found.extend(message.removeprefix("production settings refused: ").split("; "))
    return found


def _tls_problem(settings: Settings) -> str | None:
    """Why the TLS settings cannot work, found before uvicorn fails with a traceback."""
    cert, key = settings.ssl_certfile, settings.ssl_keyfile
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        return "--ssl-certfile and --ssl-keyfile (STOCKLINE_SSL_CERTFILE/KEYFILE) go together"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        return f"cannot load the certificate {cert} with the key {key}: {error}"
    return None


def _refuse_unless_listenable(host: str, port: int, *, reuse_port: bool = False,
                              setting: str = "STOCKLINE_PORT (--port)") -> None:
    """Exit 2 with one line naming the settings to change when ``host:port`` cannot be
    listened on (a port already taken, an address not of this machine), before any worker
    starts. The socket is bound as the server binds it (uvicorn; gRPC with
    ``reuse_port``), then closed again for the server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            probe.bind((host, port))
    except OSError as error:
        shown = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        reason = ("the port is already in use" if error.errno == errno.EADDRINUSE
                  else error.strerror or str(error))
        console.print(f"[red]stockline serve: cannot listen on {escape(shown)}: "
                      f"{escape(reason)}[/red]; set {setting} to a free port, "
                      "or STOCKLINE_HOST (--host) to an address of this machine",
                      soft_wrap=True)
        raise typer.Exit(2) from None


def _refuse_to_serve(what: str, problems: list[str]) -> NoReturn:
    console.print(f"[red]stockline serve: {what}:[/red]\n" +
                  "\n".join(f"  - {escape(p)}" for p in problems))
    raise typer.Exit(2)
