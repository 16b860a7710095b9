"""The processes a run starts, each on a free loopback port and stopped at the end: the
service (``files-service serve``: gunicorn with ``files_service.gunicorn_conf``), the naive Flask
baseline under the same gunicorn settings, nginx, and a moto S3 server. Also the data sets the
service serves, made with its own CLI as an operator would."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.baselines import boto3_direct, nginx_conf
from bench.common import VENV_BIN, Process, free_port, log, run_checked

SIGNING_SECRET = "bench-" + "s" * 40
SIGNING_KEYS = f"bench:{SIGNING_SECRET}"
WORKERS = 2


def base_env() -> dict[str, str]:
    """The harness's environment without any FILES_, PROMETHEUS or AWS setting of the user's."""
    return {
        k: v for k, v in os.environ.items()
        if not k.startswith(("FILES_", "PROMETHEUS", "AWS_"))
    }


@dataclass(frozen=True)
class StoredFile:
    """A file the service stores and can serve."""

    id: str
    name: str
    size: int
    storage_key: str
    url_path: str  # path and query of its current-style URL (the same on every server)


@dataclass
class Dataset:
    """A registry and a storage, with one organization and API key, filled with the CLI."""

    name: str
    root: Path
    storage_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    org_id: str = ""
    key_id: str = ""
    key_secret: str = ""
    files: dict[str, StoredFile] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = base_env()
        env.update(
            FILES_ENV="development",
            FILES_DATABASE_URL=f"sqlite:///{self.root / 'files.db'}",
            FILES_STORAGE=self.storage_url,
            FILES_SIGNING_KEYS=SIGNING_KEYS,
            FILES_VAR_DIR=str(self.root / "var-cli"),
            FILES_API_BASE_URL="http://127.0.0.1",
            FILES_DOWNLOAD_BASE_URL="http://127.0.0.1",
        )
        env.update(self.extra_env)
        return env

    @property
    def local_root(self) -> Path | None:
        """The directory of a ``local://`` storage."""
        scheme, _, rest = self.storage_url.partition("://")
        return Path(rest) if scheme == "local" else None

    def cli_json(self, *args: str, timeout: float = 600) -> dict[str, Any]:
        done = run_checked([str(VENV_BIN / "files-service"), *args, "--json"], self.env, timeout)
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.cli_json("init")
        self.org_id = self.cli_json("orgs", "create", f"bench {self.name}")["id"]
        key = self.cli_json("keys", "create", "--org", self.org_id, "--name", "bench")
        self.key_id, self.key_secret = key["id"], key["secret"]

    def upload(self, label: str, source: Path, filename: str) -> StoredFile:
        """Store ``source`` with ``files-service upload`` and mint its URL with ``mint``."""
        began = time.monotonic()
        uploaded = self.cli_json(
            "upload", str(source), "--org", self.org_id, "--filename", filename,
            "--content-type", "application/octet-stream",
        )
        minted = self.cli_json("mint", uploaded["id"], "--key", self.key_id)
        parts = urlsplit(minted["url"])
        stored = StoredFile(
            id=uploaded["id"], name=filename, size=int(uploaded["byte-size"]),
            storage_key=self.storage_key(uploaded["id"]), url_path=f"{parts.path}?{parts.query}",
        )
        self.files[label] = stored
        log(f"{self.name}: stored {label} ({stored.size} bytes) in "
            f"{time.monotonic() - began:.1f} s")
        return stored

    def storage_key(self, file_id: str) -> str:
        """Where the registry says the file lies (never shown by the API or the CLI)."""
        from files_service.clock import SystemClock
        from files_service.registry import Registry

        registry = Registry(self.env["FILES_DATABASE_URL"], clock=SystemClock())
        try:
            return registry.get_file(file_id).storage_key
        finally:
            registry.dispose()


@dataclass
class Gunicorn:
    """A gunicorn master and its workers on a loopback port."""

    process: Process
    port: int
    health_path: str = "/healthz"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        self.process.start()
        self.process.wait_http(self.base + self.health_path)
        return self

    def stop(self) -> None:
        self.process.stop()


def service(
    dataset: Dataset, delivery: str, tag: str, logs: Path, **settings: str
) -> Gunicorn:
    """``files-service serve`` with 2 workers on ``dataset``, in ``delivery`` mode, with any
    further ``FILES_*`` ``settings``."""
    port = free_port()
    env = dataset.env
    env.update(settings)
    env.update(
        FILES_DELIVERY=delivery,
        # Each server its own: serve clears the prometheus directory under it at start.
        FILES_VAR_DIR=str(dataset.root / f"var-{tag}"),
        FILES_API_BASE_URL=f"http://127.0.0.1:{port}",
        FILES_DOWNLOAD_BASE_URL=f"http://127.0.0.1:{port}",
    )
    argv = [
        str(VENV_BIN / "files-service"), "serve", "--bind", f"127.0.0.1:{port}",
        "--workers", str(WORKERS),
    ]
    return Gunicorn(Process(f"service-{tag}", argv, env, logs / f"service-{tag}.log"), port).start()


def naive(storage_root: Path, logs: Path) -> Gunicorn:
    """The naive Flask baseline under the service's gunicorn settings, 2 workers."""
    port = free_port()
    env = base_env()
    env.update(BENCH_NAIVE_ROOT=str(storage_root), BENCH_NAIVE_SECRET=SIGNING_SECRET)
    argv = [
        str(VENV_BIN / "python"), "-m", "gunicorn",
        "-c", "python:bench.baselines.naive_gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
        "bench.baselines.naive_flask:from_env()",
    ]
    return Gunicorn(Process("naive-flask", argv, env, logs / "naive-flask.log"), port).start()


@dataclass
class Nginx:
    """nginx with the secure_link server and, when given an upstream, the accel front."""

    layout: nginx_conf.NginxLayout
    process: Process
    accel_source: str = ""  # where the accel server's configuration came from

    @property
    def secure_base(self) -> str:
        return f"http://127.0.0.1:{self.layout.secure_port}"

    @property
    def accel_base(self) -> str:
        return f"http://127.0.0.1:{self.layout.accel_port}"

    def stop(self) -> None:
        self.process.stop()


def nginx(prefix: Path, storage_root: Path, upstream_port: int | None, logs: Path) -> Nginx:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    layout = nginx_conf.NginxLayout(
        prefix=prefix, storage_root=storage_root, secure_port=free_port(),
        secret=SIGNING_SECRET, accel_port=free_port() if upstream_port else None,
        upstream_port=upstream_port,
    )
    conf = prefix / "nginx.conf"
    text, source = nginx_conf.render(layout)
    conf.write_text(text)
    (prefix / "snippets").mkdir(exist_ok=True)
    (prefix / "snippets" / "files-headers.conf").write_text(nginx_conf.headers_snippet())
    argv = [binary, "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "error.log")]
    process = Process("nginx", argv, base_env(), logs / "nginx.log")
    process.start()
    process.wait_http(f"http://127.0.0.1:{layout.secure_port}/healthz")
    if layout.accel_port is not None:
        process.wait_http(f"http://127.0.0.1:{layout.accel_port}/healthz")
    return Nginx(layout, process, source)


@dataclass
class Moto:
    process: Process
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        return boto3_direct.client(self.endpoint)

    def stop(self) -> None:
        self.process.stop()


def moto(logs: Path) -> Moto:
    port = free_port()
    env = base_env()
    env.update(boto3_direct.AWS_ENV)
    argv = [str(VENV_BIN / "python"), "-m", "bench.moto_server", str(port)]
    process = Process("moto", argv, env, logs / "moto.log")
    process.start()
    process.wait_http(f"http://127.0.0.1:{port}/")
    return Moto(process, port)
