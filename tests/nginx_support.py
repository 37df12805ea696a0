"""nginx in front of live nodes, for the tests: deploy/nginx/stockline.conf rendered (only
its ``# site:`` values changed) and run by the machine's nginx as an unprivileged-style
process of its own (``-p <dir> -c <conf> -g 'daemon off;'``), never the system service.

Under CI=true a missing nginx fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.conftest import IN_CI, LiveServer, free_port, stop_server

SHIPPED = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "stockline.conf"
NGINX_CANDIDATES = ("/usr/sbin/nginx",)

# A line whose value a site changes: `<directive> <value> <more>;  # site: <name>`.
_SITE_LINE = re.compile(r"^(?P<indent>\s*)(?P<directive>[a-z_]+)\s+(?P<value>[^\s;]+)"
                        r"(?P<rest>[^#]*;)\s*#\s*site:\s*(?P<name>[a-z-]+)\s*$")
# The harness's own response header naming the node that answered (see ``_main_conf``).
UPSTREAM_HEADER = "x-test-upstream"


def nginx_binary() -> str:
    """The nginx to run: skipped without one (a failure under CI=true)."""
    found = shutil.which("nginx") or next(
        (path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)
    if found is None:
        message = "nginx is not installed (apt-get install nginx)"
        if IN_CI:
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    return found


def render_site(template: str, values: Mapping[str, Sequence[str]]) -> str:
    """``template`` with the value of each ``# site: <name>`` line replaced. A run of
    consecutive lines with one name (the upstream's servers) becomes one line per value,
    each keeping the first line's parameters; every other line takes the one value. A name
    without values, or a value for a name the template lacks, is an error: the shipped
    file and this renderer cannot drift apart silently."""
    rendered: list[str] = []
    seen: set[str] = set()
    previous = None
    for text in template.splitlines():
        match = _SITE_LINE.match(text)
        if match is None:
            if "# site:" in text:
                raise ValueError(f"a site line this renderer cannot read: {text!r}")
            rendered.append(text)
            previous = None
            continue
        name = match["name"]
        if name not in values:
            raise ValueError(f"no value given for the site line {name!r}")
        seen.add(name)
        if name != previous:
            rendered.extend(f"{match['indent']}{match['directive']} {value}{match['rest']}"
                            f"  # site: {name}" for value in values[name])
        previous = name
    unused = set(values) - seen
    if unused:
        raise ValueError(f"site values for lines the file does not have: {sorted(unused)}")
    return "\n".join(rendered) + "\n"


@dataclass(frozen=True)
class Site:
    """What the rendered file is given: the nodes, the ports, the certificate."""

    nodes: Sequence[str]  # host:port of each node's HTTP
    grpc_nodes: Sequence[str]  # host:port of each node's gRPC
    certificate: Path
    key: Path
    http_port: int
    https_port: int
    grpc_port: int

    @classmethod
    def on_free_ports(cls, nodes: Sequence[str], certificate: Path, key: Path,
                      grpc_nodes: Sequence[str] = ()) -> Site:
        # nginx needs a server per upstream; nodes without gRPC get unused ports there.
        grpc = list(grpc_nodes) or [f"127.0.0.1:{free_port()}" for _ in nodes]
        return cls(nodes, grpc, certificate, key, free_port(), free_port(), free_port())

    def values(self, access_log: Path) -> dict[str, list[str]]:
        return {"node": list(self.nodes), "grpc-node": list(self.grpc_nodes),
                "http-port": [f"127.0.0.1:{self.http_port}"],
                "https-port": [f"127.0.0.1:{self.https_port}"],
                "grpc-port": [f"127.0.0.1:{self.grpc_port}"],
                "certificate": [str(self.certificate)], "certificate-key": [str(self.key)],
                "access-log": [str(access_log)]}


def _main_conf(directory: Path, site_conf: Path) -> str:
    """An nginx.conf like Debian's (its http settings, this file included in the http
    block) with every path in ``directory``. As root, the workers stay root: they write
    temporary files in a directory only root may enter. The harness adds one response
    header naming the node that answered: the shipped file sets no add_header of its own,
    so its servers inherit it (a test that needs it fails when that changes)."""
    temp = directory / "temp"
    paths = "\n".join(f"    {kind}_temp_path {temp / kind};"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 2;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} notice;
worker_shutdown_timeout 5s;
events {{
    worker_connections 1024;
}}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_prefer_server_ciphers on;
    gzip on;
    access_log {directory / "access.log"};
{paths}
    add_header {UPSTREAM_HEADER} $upstream_addr always;
    include {site_conf};
}}
"""


@dataclass(frozen=True)
class Nginx:
    process: subprocess.Popen[bytes]
    site: Site
    directory: Path

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.site.https_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.site.grpc_port}"

    @property
    def access_log(self) -> Path:
        return self.directory / "stockline.access.log"

    def log_lines(self) -> list[AccessLine]:
        if not self.access_log.exists():
            return []
        return [parsed for text in self.access_log.read_text().splitlines()
                if (parsed := AccessLine.parse(text)) is not None]


_ACCESS = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d{3}) .* upstream=(?P<upstream>.*) '
                     r'ustatus=(?P<ustatus>.*) urt=.* rid=(?P<rid>\S+)$')


@dataclass(frozen=True)
class AccessLine:
    """One line of the ``stockline`` log format: the answer and every node tried."""

    request: str
    status: int
    upstreams: tuple[str, ...]  # in the order nginx tried them
    request_id: str

    @classmethod
    def parse(cls, text: str) -> AccessLine | None:
        match = _ACCESS.search(text)
        if match is None:
            return None
        tried = tuple(a for part in match["upstream"].replace(" : ", ", ").split(", ")
                      if (a := part.strip()) and a != "-")
        return cls(match["request"], int(match["status"]), tried, match["rid"])


def check_config(binary: str, directory: Path, site: Site) -> Path:
    """Render the shipped file for ``site`` into ``directory`` with a main config that
    includes it; ``nginx -t`` must accept it. Returns the main config's path."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / "temp" / kind).mkdir(parents=True, exist_ok=True)
    site_conf = directory / "stockline.conf"
    site_conf.write_text(render_site(SHIPPED.read_text(),
                                     site.values(directory / "stockline.access.log")))
    main = directory / "nginx.conf"
    main.write_text(_main_conf(directory, site_conf))
    checked = subprocess.run([binary, "-t", "-q", "-p", str(directory), "-c", str(main)],
                             capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    return main


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_nginx(directory: Path, site: Site) -> Nginx:
    """nginx serving ``site`` until ``stop_nginx``; returns once its ports accept."""
    binary = nginx_binary()
    main = check_config(binary, directory, site)
    log = (directory / "nginx.out").open("wb")
    process = subprocess.Popen([binary, "-p", str(directory), "-c", str(main),
                                "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
    started = Nginx(process, site, directory)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if all(_accepts(p) for p in (site.http_port, site.https_port, site.grpc_port)):
            return started
        time.sleep(0.05)
    stop_nginx(started)
    errors = (directory / "error.log")
    raise RuntimeError("nginx did not start: " + (errors.read_text()[-2000:]
                                                  if errors.exists() else "no error log"))


def reload_nginx(nginx: Nginx, nodes: Sequence[str]) -> Nginx:
    """The same nginx in front of ``nodes`` instead: the file rendered again, checked,
    and loaded by a graceful reload (SIGHUP: new workers take the new connections, the old
    ones finish theirs, open streams included, within the harness's worker_shutdown_timeout).
    """
    site = replace(nginx.site, nodes=list(nodes))
    check_config(nginx_binary(), nginx.directory, site)
    nginx.process.send_signal(signal.SIGHUP)
    return Nginx(nginx.process, site, nginx.directory)


def stop_nginx(nginx: Nginx) -> None:
    """A fast shutdown (SIGTERM): open streams are cut, as when nginx stops."""
    if nginx.process.poll() is None:
        nginx.process.terminate()
    try:
        nginx.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        nginx.process.kill()
        nginx.process.wait()


@contextmanager
def running_nginx(directory: Path, site: Site) -> Iterator[Nginx]:
    started = start_nginx(directory, site)
    try:
        yield started
    finally:
        stop_nginx(started)


def start_nodes(*starts: Callable[[], LiveServer]) -> list[LiveServer]:
    """Nodes started one after the other (side by side, on a loaded machine, each could
    take longer than its start is given); when one fails, those started are stopped."""
    started: list[LiveServer] = []
    try:
        for start in starts:
            started.append(start())
    except BaseException:
        for server in started:
            stop_server(server)
        raise
    return started
