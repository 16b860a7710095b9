"""Real servers on free loopback ports: ``files-service serve`` (gunicorn) with its own
settings, nginx with the configurations of docs/delivery.md, logs captured to files so tests
can read what an operator would see; and the service's parts built in-process on the same
database and storage, so a test can seed files and mint URLs (with a clock of its choosing)
without a command per step."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from files_service.clock import Clock
from files_service.services import Services, build_services
from files_service.settings import Settings
from files_service.storage import Storage

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
STRONG_KEYS = "e2e:" + "e" * 40
DELIVERY_DOC = REPO / "docs" / "delivery.md"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
# What a server needs to reach the session's moto server as S3 (and nothing of a developer's
# own AWS setup).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen | None) -> None:
    """Stop a server the tests started: politely, then for good after 20 s."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    """Poll until something accepts connections on the loopback ``port``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # polling for a port to open; no test time depends on it
    raise RuntimeError(f"nothing listens on port {port}:\n{log.read_text(errors='replace')}")


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)  # polling for a port to open; no test time depends on it
    raise RuntimeError(f"server did not come up:\n{log.read_text()}")


@dataclass
class Server:
    base: str
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "files-service"), *args], env=self.env, capture_output=True, text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"files-service {' '.join(args)} failed:\n{result.stderr}")
        return result

    def cli_json(self, *args: str) -> dict:
        return json.loads(self.cli(*args, "--json").stdout)

    def start(self, workers: int = 1, *, wsgi: str | None = None) -> None:
        """``files-service serve``; or, with ``wsgi`` (``module:attribute``), gunicorn with the
        service's own gunicorn settings on that app (a test app wrapping the service)."""
        bind = self.base.removeprefix("http://")
        if wsgi is None:
            argv = [str(BIN / "files-service"), "serve", "--bind", bind, "--workers", str(workers)]
        else:
            argv = [
                sys.executable, "-m", "gunicorn", "-c", "python:files_service.gunicorn_conf",
                "--bind", bind, "--workers", str(workers), wsgi,
            ]
        self.proc = subprocess.Popen(
            argv, env=self.env, cwd=REPO, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )
        wait_until_up(self.base + "/healthz", self.proc, self.log)

    def services(self, *, clock: Clock | None = None, storage: Storage | None = None) -> Services:
        """The service's parts in this process, on the server's database and storage."""
        return services_for(self.env, clock=clock, storage=storage)

    def stop(self) -> str:
        stop_process(self.proc)
        self.proc = None
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def services_for(
    env: Mapping[str, str], *, clock: Clock | None = None, storage: Storage | None = None
) -> Services:
    """Build the service's parts from a server's environment (its ``FILES_*`` variables)."""
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("FILES_")})
    return build_services(settings, clock=clock, storage=storage)


def server_env(tmp_path: Path, port: int, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FILES_", "PROMETHEUS"))}
    env.update(
        FILES_DATABASE_URL=f"sqlite:///{tmp_path / 'files.db'}",
        FILES_STORAGE=f"local://{tmp_path / 'objects'}",
        FILES_SIGNING_KEYS=STRONG_KEYS,
        FILES_VAR_DIR=str(tmp_path / "var"),
        FILES_API_BASE_URL=f"http://127.0.0.1:{port}",
        FILES_DOWNLOAD_BASE_URL=f"http://127.0.0.1:{port}",
        PYTHONPATH=str(REPO),
    )
    env.update(overrides)
    return env


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:
    made: list[Server] = []

    def make(**overrides: str) -> Server:
        port = free_port()
        server = Server(
            f"http://127.0.0.1:{port}", server_env(tmp_path, port, **overrides),
            tmp_path / f"server-{port}.log",
        )
        server.cli("init")
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


# -- nginx ------------------------------------------------------------------------------------


def delivery_doc_config(name: str) -> str:
    """The nginx configuration block marked ``<!-- nginx-config: NAME -->`` in
    docs/delivery.md: the tests run what the documentation says."""
    text = DELIVERY_DOC.read_text()
    marker = f"<!-- nginx-config: {name} -->"
    assert marker in text, f"{marker} is missing from {DELIVERY_DOC}"
    after = text.split(marker, 1)[1]
    return after.split("```nginx\n", 1)[1].split("```", 1)[0]


@dataclass
class Nginx:
    base: str
    prefix: Path
    proc: subprocess.Popen | None = None

    @property
    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def start_nginx(
    prefix: Path, port: int, config: str, replacements: Mapping[str, str]
) -> Nginx:
    """Debian's nginx in the foreground on ``127.0.0.1:port``, everything of its own under
    ``prefix``, serving the docs/delivery.md block ``config`` with its example addresses and
    paths replaced."""
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian package nginx; .ci/run installs it)")
    prefix.mkdir(parents=True)
    (prefix / "snippets").mkdir()
    (prefix / "snippets" / "files-headers.conf").write_text(delivery_doc_config("files-headers"))
    block = delivery_doc_config(config).replace("listen 80;", f"listen 127.0.0.1:{port};")
    for example, actual in replacements.items():
        assert example in block, f"{example!r} is not in the {config} configuration"
        block = block.replace(example, actual)
    temp = prefix / "temp"
    temp.mkdir()
    conf = f"""
# As root, nginx would run its workers as nobody, who cannot read pytest's private tmp dirs.
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
error_log {prefix}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    default_type application/octet-stream;
    client_body_temp_path {temp}/client;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{block}
}}
"""
    (prefix / "nginx.conf").write_text(conf)
    log = prefix / "stderr.log"
    proc = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
         "-g", f"daemon off; pid {prefix}/nginx.pid;"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    nginx = Nginx(f"http://127.0.0.1:{port}", prefix, proc)
    try:
        wait_for_port(port, proc, log)
    except RuntimeError:
        nginx.stop()
        raise RuntimeError(f"nginx did not start:\n{log.read_text()}\n{nginx.error_log}") from None
    return nginx


@pytest.fixture
def make_nginx(tmp_path: Path) -> Iterator[Callable[..., Nginx]]:
    started: list[Nginx] = []

    def make(port: int, config: str, replacements: Mapping[str, str]) -> Nginx:
        nginx = start_nginx(tmp_path / f"nginx-{port}", port, config, replacements)
        started.append(nginx)
        return nginx

    yield make
    for nginx in started:
        nginx.stop()
