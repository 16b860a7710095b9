"""The servers and data sets of one run on loopback ports, each started on first use (by the
helpers of the end-to-end tests, tests/servers.py) and all stopped at the end.

Two data sets, each a registry and a storage with one organization and API key, filled with
the service's own CLI as an operator would (``init``, ``orgs create``, ``keys create``,
``upload``, ``mint``, each ``--json``): ``local`` (served by the service in stream and accel
mode, by the naive app and by nginx: the very same files on disk) and ``s3`` (on a moto
server, served by the service in stream mode)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import baselines
from bench.common import RunConfig, log
from tests.servers import (
    AWS_ENV,
    BIN,
    Edge,
    Nginx,
    Server,
    clean_env,
    documented_server,
    free_port,
    s3_client,
    spawn,
    start_edge,
    start_nginx,
    stop_process,
    wait_until_up,
)

SIGNING_SECRET = "bench-" + "s" * 40
S3_BUCKET = "files-bench"
WORKERS = 2
# Labels of the files each data set can hold, and the name each is stored under.
FILENAMES = {"small": "small-4k.bin", "medium": "medium.bin", "big": "big.bin"}
# How nginx serves the benchmarks, on top of the configurations it runs.
NGINX_TUNING = """
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 30s;
    # wrk keeps its 32 connections for the whole run: never close one under it.
    keepalive_requests 1000000;
"""


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
    """A registry and a storage with one organization and API key, filled with the CLI."""

    name: str
    root: Path
    storage_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True)
        self.cli = Server("http://127.0.0.1", self.env, self.root / "cli.log")
        self.cli.cli("init")
        self.org_id = self.cli.cli_json("orgs", "create", f"bench {self.name}")["id"]
        key = self.cli.cli_json("keys", "create", "--org", self.org_id, "--name", "bench")
        self.key_id, self.key_secret = key["id"], key["secret"]

    @property
    def env(self) -> dict[str, str]:
        return clean_env(
            FILES_ENV="development",
            FILES_DATABASE_URL=f"sqlite:///{self.root / 'files.db'}",
            FILES_STORAGE=self.storage_url,
            FILES_SIGNING_KEYS=f"bench:{SIGNING_SECRET}",
            FILES_VAR_DIR=str(self.root / "var-cli"),
            FILES_API_BASE_URL="http://127.0.0.1",
            FILES_DOWNLOAD_BASE_URL="http://127.0.0.1",
            **self.extra_env,
        )

    @property
    def local_root(self) -> str:
        """The directory of a ``local://`` storage."""
        return self.storage_url.removeprefix("local://")

    def upload(self, label: str, source: Path) -> StoredFile:
        """Store ``source`` with ``files-service upload`` and mint its URL with ``mint``."""
        began = time.monotonic()
        uploaded = self.cli.cli_json(
            "upload", str(source), "--org", self.org_id, "--filename", FILENAMES[label],
            "--content-type", "application/octet-stream", timeout=600,
        )
        url = urlsplit(self.cli.cli_json("mint", uploaded["id"], "--key", self.key_id)["url"])
        services = self.cli.services()
        try:  # where the registry says it lies (never shown by the API or the CLI)
            storage_key = services.registry.get_file(uploaded["id"]).storage_key
        finally:
            services.close()
        self.files[label] = StoredFile(uploaded["id"], FILENAMES[label],
                                       int(uploaded["byte-size"]), storage_key,
                                       f"{url.path}?{url.query}")
        log(f"{self.name}: stored {label} ({source.stat().st_size} bytes) in "
            f"{time.monotonic() - began:.1f} s")
        return self.files[label]


class Lab:
    def __init__(self, config: RunConfig, keep: bool = False) -> None:
        self.config = config
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix="files-bench-"))
        self.logs = self.workdir / "logs"
        self._made: dict[str, Any] = {}
        self._batch_ids: list[str] = []
        log(f"work directory {self.workdir}")

    def _once(self, name: str, make: Any) -> Any:
        """The lab's ``name``, made by ``make()`` on first use."""
        return self._made[name] if name in self._made else self._made.setdefault(name, make())

    # -- data sets -----------------------------------------------------------------------------

    def size_of(self, label: str) -> int:
        return {"small": self.config.small_size, "medium": self.config.medium_size,
                "big": self.config.big_size}[label]

    def source(self, label: str, size: int) -> Path:
        """A source file of ``size`` bytes: random for the small ones, sparse (zeros, made at
        once) for the big one, whose content matters to nobody."""
        path = self.workdir / "src" / f"{label}-{size}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                if size <= 16 * 1024 * 1024:
                    out.write(os.urandom(size))
                else:
                    out.truncate(size)
        return path

    @property
    def local(self) -> Dataset:
        root = self.workdir / "local"
        return self._once("local", lambda: Dataset("local", root, f"local://{root / 'objects'}"))

    def local_file(self, label: str) -> StoredFile:
        if label not in self.local.files:
            self.local.upload(label, self.source(label, self.size_of(label)))
        return self.local.files[label]

    @property
    def s3(self) -> Dataset:
        extra = {**AWS_ENV, "FILES_S3_ENDPOINT_URL": self.moto}
        return self._once("s3", lambda: Dataset("s3", self.workdir / "s3", f"s3://{S3_BUCKET}",
                                                extra))

    def s3_file(self, label: str) -> StoredFile:
        if label not in self.s3.files:
            size = self.config.s3_big_size if label == "big" else self.size_of(label)
            self.s3.upload(label, self.source(label, size))
        return self.s3.files[label]

    def batch_ids(self) -> list[str]:
        """``batch_size`` small files for the batch-minting figures, stored in-process with the
        function ``files-service upload`` calls: a hundred CLI processes would cost a minute."""
        if not self._batch_ids:
            from files_service.files import store_file

            services = self.local.cli.services()
            try:
                self._batch_ids = [
                    store_file(services, self.local.org_id, iter([b"batch %d\n" % i]),
                               filename=f"batch-{i:03}.txt", content_type="text/plain").id
                    for i in range(self.config.batch_size)
                ]
            finally:
                services.close()
        return self._batch_ids

    # -- servers -------------------------------------------------------------------------------

    @property
    def moto(self) -> str:
        """The endpoint of a moto server in a process of its own: moto serving a 1 GiB object
        needs a core, and sharing this process's GIL with the clients measuring it would skew
        both."""

        def start() -> str:
            port = free_port()
            endpoint = f"http://127.0.0.1:{port}"
            proc = spawn([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                         self.logs / "moto.log", clean_env(**AWS_ENV))
            self._made["moto process"] = proc
            wait_until_up(endpoint + "/", proc, self.logs / "moto.log")
            s3_client(endpoint).create_bucket(Bucket=S3_BUCKET)
            return endpoint

        return self._once("moto", start)

    def _service(self, dataset: Dataset, tag: str, **settings: str) -> Server:
        """``files-service serve`` with 2 workers on ``dataset`` with further ``settings``."""
        port = free_port()
        env = {**dataset.env, **settings,
               # Each server its own: serve clears the prometheus directory under it at start.
               "FILES_VAR_DIR": str(dataset.root / f"var-{tag}"),
               "FILES_API_BASE_URL": f"http://127.0.0.1:{port}",
               "FILES_DOWNLOAD_BASE_URL": f"http://127.0.0.1:{port}"}
        server = Server(f"http://127.0.0.1:{port}", env, self.logs / f"{tag}.log")
        server.start(workers=WORKERS)
        return server

    @property
    def stream(self) -> Server:
        """The service, stream mode, local storage."""
        return self._once("stream", lambda: self._service(self.local, "stream",
                                                          FILES_DELIVERY="stream"))

    @property
    def accel(self) -> Server:
        """The service, accel mode, local storage (reached through nginx), believing the one
        proxy in front as docs/delivery.md says to set."""
        return self._once("accel", lambda: self._service(
            self.local, "accel", FILES_DELIVERY="accel", FILES_TRUSTED_PROXIES="1"))

    @property
    def s3_stream(self) -> Server:
        """The service, stream mode, S3 storage on moto."""
        return self._once("s3_stream", lambda: self._service(self.s3, "s3",
                                                             FILES_DELIVERY="stream"))

    @property
    def naive(self) -> Server:
        """The naive app under the service's gunicorn settings but for its redacting logger,
        a feature of the service (gunicorn's own logger, with the same line format)."""

        def start() -> Server:
            port = free_port()
            env = clean_env(BENCH_NAIVE_ROOT=self.local.local_root,
                            BENCH_NAIVE_SECRET=SIGNING_SECRET)
            server = Server(f"http://127.0.0.1:{port}", env, self.logs / "naive.log")
            server.start(workers=WORKERS, wsgi="bench.baselines:naive_app()",
                         options=["--logger-class", "gunicorn.glogging.Logger"])
            return server

        return self._once("naive", start)

    @property
    def nginx(self) -> tuple[Nginx, str, str]:
        """One nginx (as many workers as cores) with two servers: ``secure_link`` and the
        accel front; and the base URL of each."""

        def start() -> tuple[Nginx, str, str]:
            secure, accel = free_port(), free_port()
            servers = NGINX_TUNING + baselines.secure_link_server(
                secure, self.local.local_root, SIGNING_SECRET) + documented_server(
                "accel-local", accel, {"127.0.0.1:8000": self.accel.base[7:],
                                       "/srv/files/objects/": f"{self.local.local_root}/"})
            nginx = start_nginx(self.workdir / "nginx", servers, [secure, accel],
                                workers="auto", access_log=False)
            return nginx, f"http://127.0.0.1:{secure}", f"http://127.0.0.1:{accel}"

        return self._once("nginx", start)

    def _edge(self, dataset: Dataset, tag: str, upstream: Server, **settings: str) -> Edge:
        """The front tier (``files-service edge-config``, nginx with njs) for ``dataset`` in
        front of ``upstream``, with further ``settings``."""
        env = {**dataset.env, "FILES_TRUSTED_PROXIES": "1", **settings}
        return start_edge(self.workdir / tag, env, "--upstream", upstream.base)

    @property
    def edge_upstream(self) -> Server:
        """The service behind the front tier: stream mode, local storage, believing the one
        proxy in front (docs/delivery.md)."""
        return self._once("edge_upstream", lambda: self._service(
            self.local, "edge-upstream", FILES_DELIVERY="stream", FILES_TRUSTED_PROXIES="1"))

    @property
    def edge(self) -> Edge:
        """The front tier on the local data set, its lookups cached (the default 30 s)."""
        return self._once("edge", lambda: self._edge(self.local, "edge", self.edge_upstream))

    @property
    def edge_cold(self) -> Edge:
        """The front tier asking the service on every request (FILES_REGISTRY_CACHE_SECONDS=0):
        what each first request for a file and principal costs."""
        return self._once("edge_cold", lambda: self._edge(
            self.local, "edge-cold", self.edge_upstream, FILES_REGISTRY_CACHE_SECONDS="0"))

    @property
    def edge_s3(self) -> Edge:
        """The front tier on the S3 data set (moto), in front of the S3 stream service."""
        return self._once("edge_s3", lambda: self._edge(self.s3, "edge-s3", self.s3_stream))

    def url(self, server: str, label: str) -> str:
        """The URL of the local file ``label`` on ``server``: ``stream``, ``accel``, ``naive``,
        ``nginx`` (secure_link), ``edge`` or ``edge_cold`` (the front tier)."""
        stored = self.local_file(label)
        if server == "stream":
            return self.stream.base + stored.url_path
        if server in ("edge", "edge_cold"):
            return getattr(self, server).base + stored.url_path
        if server == "accel":
            return self.nginx[2] + stored.url_path
        if server == "naive":
            token = baselines.naive_mint(SIGNING_SECRET, stored.storage_key, stored.name,
                                         "application/octet-stream")
            return f"{self.naive.base}/{stored.name}?token={token}"
        expires = int(time.time()) + 6 * 3600
        return self.nginx[1] + baselines.secure_link_path(stored.storage_key, SIGNING_SECRET,
                                                          expires)

    def pid(self, server: str) -> int:
        """The master process of ``server`` (a lab attribute: ``stream``, ``nginx``, …)."""
        found = getattr(self, server)
        if isinstance(found, tuple):  # nginx
            assert found[0].proc is not None
            return found[0].proc.pid
        if isinstance(found, Edge):
            assert found.proc is not None
            return found.proc.pid
        return int(found.pid)

    def close(self) -> None:
        """Stop every server, nginx first (before the gunicorn behind it), the others at once:
        gunicorn's graceful stop takes a second or two each."""
        if "nginx" in self._made:
            self._made["nginx"][0].stop()
        for edge in [thing for thing in self._made.values() if isinstance(thing, Edge)]:
            edge.stop()
        threads = [threading.Thread(target=thing.stop) for thing in self._made.values()
                   if isinstance(thing, Server)]
        threads += [threading.Thread(target=stop_process, args=(thing,))
                    for thing in self._made.values() if isinstance(thing, subprocess.Popen)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._made.clear()
        if self.keep:
            log(f"kept {self.workdir} (logs in {self.logs})")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
