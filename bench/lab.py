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
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from bench import baselines
from bench.common import MIB, RunConfig, log
from tests import servers
from tests.servers import AWS_ENV, Edge, Nginx, Server, clean_env, free_port

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
    """A registry and a storage (``local://ROOT/objects`` unless ``settings`` say otherwise)
    with one organization and API key, filled with the CLI."""

    name: str
    root: Path
    settings: dict[str, str] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True)
        self.cli = Server("http://127.0.0.1", self.env(), self.root / "cli.log")
        self.cli.cli("init")
        self.org_id = self.cli.cli_json("orgs", "create", f"bench {self.name}")["id"]
        key = self.cli.cli_json("keys", "create", "--org", self.org_id, "--name", "bench")
        self.key_id, self.key_secret = key["id"], key["secret"]

    def env(self, port: int = 0, /, **more: str) -> dict[str, str]:
        """The settings of a server of this data set on ``port`` (0: the CLI's)."""
        return servers.server_env(self.root, port, FILES_ENV="development",
                                  FILES_SIGNING_KEYS=f"bench:{SIGNING_SECRET}",
                                  **self.settings, **more)

    @property
    def local_root(self) -> str:
        """The directory of its storage where that is local (server_env's default)."""
        return str(self.root / "objects")

    def file(self, label: str, size: int) -> StoredFile:
        """The file ``label`` of ``size`` bytes, stored on first use with ``files-service
        upload`` and its URL minted with ``mint``. Its source is random for the small ones,
        sparse (zeros, made at once) for the big one, whose content matters to nobody."""
        if label in self.files:
            return self.files[label]
        source = self.root.parent / "src" / f"{label}-{size}"
        if not source.exists():
            source.parent.mkdir(exist_ok=True)
            with source.open("wb") as out:
                out.write(os.urandom(size) if size <= 16 * MIB else b"")
                out.truncate(size)
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
        log(f"{self.name}: stored {label} ({size} bytes) in {time.monotonic() - began:.1f} s")
        return self.files[label]


class Lab:
    """Each data set and server is a cached property: made on first use, stopped by
    :meth:`close`."""

    def __init__(self, config: RunConfig, keep: bool = False) -> None:
        self.config = config
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix="files-bench-"))
        self.logs = self.workdir / "logs"
        log(f"work directory {self.workdir}")

    # -- data sets -----------------------------------------------------------------------------

    def size_of(self, label: str) -> int:
        size: int = getattr(self.config, f"{label}_size")
        return size

    @cached_property
    def local(self) -> Dataset:
        return Dataset("local", self.workdir / "local")

    def local_file(self, label: str) -> StoredFile:
        return self.local.file(label, self.size_of(label))

    @cached_property
    def s3(self) -> Dataset:
        return Dataset("s3", self.workdir / "s3", {**AWS_ENV, "FILES_STORAGE": f"s3://{S3_BUCKET}",
                                                   "FILES_S3_ENDPOINT_URL": self.moto.base})

    def s3_file(self, label: str) -> StoredFile:
        return self.s3.file(label, self.config.s3_big_size if label == "big"
                            else self.size_of(label))

    @cached_property
    def batch_ids(self) -> list[str]:
        """``batch_size`` small files for the batch-minting figures, stored in-process with the
        function ``files-service upload`` calls: a hundred CLI processes would cost a minute."""
        from files_service.files import store_file

        services = self.local.cli.services()
        try:
            return [store_file(services, self.local.org_id, iter([b"batch %d\n" % i]),
                               filename=f"batch-{i:03}.txt", content_type="text/plain").id
                    for i in range(self.config.batch_size)]
        finally:
            services.close()

    # -- servers -------------------------------------------------------------------------------

    @cached_property
    def moto(self) -> Server:
        """A moto server in a process of its own: moto serving a 1 GiB object needs a core,
        and sharing this process's GIL with the clients measuring it would skew both."""
        server = Server(f"http://127.0.0.1:{free_port()}", clean_env(**AWS_ENV),
                        self.logs / "moto.log")
        server.proc = servers.spawn([str(servers.BIN / "moto_server"), "-H", "127.0.0.1",
                                     "-p", str(server.port)], server.log, server.env)
        servers.wait_until_up(server.base + "/", server.proc, server.log)
        servers.s3_client(server.base).create_bucket(Bucket=S3_BUCKET)
        return server

    def _service(self, dataset: Dataset, tag: str, **settings: str) -> Server:
        """``files-service serve`` with 2 workers on ``dataset`` with further ``settings``."""
        port = free_port()
        # Each server its own var: serve clears the prometheus directory under it at start.
        env = dataset.env(port, FILES_VAR_DIR=str(dataset.root / f"var-{tag}"), **settings)
        server = Server(f"http://127.0.0.1:{port}", env, self.logs / f"{tag}.log")
        server.start(workers=WORKERS)
        return server

    @cached_property
    def stream(self) -> Server:
        """The service, stream mode, local storage."""
        return self._service(self.local, "stream", FILES_DELIVERY="stream")

    @cached_property
    def accel(self) -> Server:
        """The service, accel mode, local storage (reached through nginx), believing the one
        proxy in front as docs/delivery.md says to set."""
        return self._service(self.local, "accel", FILES_DELIVERY="accel",
                             FILES_TRUSTED_PROXIES="1")

    @cached_property
    def s3_stream(self) -> Server:
        """The service, stream mode, S3 storage on moto."""
        return self._service(self.s3, "s3", FILES_DELIVERY="stream")

    @cached_property
    def naive(self) -> Server:
        """The naive app under the service's gunicorn settings but for its redacting logger,
        a feature of the service (gunicorn's own logger, with the same line format)."""
        env = clean_env(BENCH_NAIVE_ROOT=self.local.local_root, BENCH_NAIVE_SECRET=SIGNING_SECRET)
        server = Server(f"http://127.0.0.1:{free_port()}", env, self.logs / "naive.log")
        server.start(workers=WORKERS, wsgi="bench.baselines:naive_app()",
                     options=["--logger-class", "gunicorn.glogging.Logger"])
        return server

    @cached_property
    def nginx(self) -> tuple[Nginx, str]:
        """One nginx (as many workers as cores) with two servers: ``secure_link`` (its
        ``base``) and the accel front (the base URL beside it)."""
        secure, accel = free_port(), free_port()
        config = NGINX_TUNING + baselines.secure_link_server(
            secure, self.local.local_root, SIGNING_SECRET) + servers.documented_server(
            "accel-local", accel, {"127.0.0.1:8000": self.accel.base[7:],
                                   "/srv/files/objects/": f"{self.local.local_root}/"})
        nginx = servers.start_nginx(self.workdir / "nginx", config, [secure, accel],
                                    workers="auto", access_log=False)
        return nginx, f"http://127.0.0.1:{accel}"

    def _edge(self, dataset: Dataset, tag: str, upstream: Server, **settings: str) -> Edge:
        """The front tier (``files-service edge-config``, nginx with njs) for ``dataset`` in
        front of ``upstream``, with further ``settings``."""
        env = dataset.env(FILES_TRUSTED_PROXIES="1", **settings)
        return servers.start_edge(self.workdir / tag, env, "--upstream", upstream.base)

    @cached_property
    def edge_upstream(self) -> Server:
        """The service behind the front tier: stream mode, local storage, believing the one
        proxy in front (docs/delivery.md)."""
        return self._service(self.local, "edge-upstream", FILES_DELIVERY="stream",
                             FILES_TRUSTED_PROXIES="1")

    @cached_property
    def edge(self) -> Edge:
        """The front tier on the local data set, its lookups cached (the default 30 s)."""
        return self._edge(self.local, "edge", self.edge_upstream)

    @cached_property
    def edge_cold(self) -> Edge:
        """The front tier asking the service on every request (FILES_REGISTRY_CACHE_SECONDS=0):
        what each first request for a file and principal costs."""
        return self._edge(self.local, "edge-cold", self.edge_upstream,
                          FILES_REGISTRY_CACHE_SECONDS="0")

    @cached_property
    def edge_s3(self) -> Edge:
        """The front tier on the S3 data set (moto), in front of the S3 stream service."""
        return self._edge(self.s3, "edge-s3", self.s3_stream)

    def url(self, server: str, label: str) -> str:
        """The URL of the local file ``label`` on ``server``: ``stream``, ``accel``, ``naive``,
        ``nginx`` (secure_link), ``edge`` or ``edge_cold`` (the front tier)."""
        stored = self.local_file(label)
        if server in ("stream", "edge", "edge_cold"):
            running: Server = getattr(self, server)
            return running.base + stored.url_path
        if server == "accel":
            return self.nginx[1] + stored.url_path
        if server == "naive":
            token = baselines.naive_mint(SIGNING_SECRET, stored.storage_key, stored.name,
                                         "application/octet-stream")
            return f"{self.naive.base}/{stored.name}?token={token}"
        expires = int(time.time()) + 6 * 3600
        return self.nginx[0].base + baselines.secure_link_path(stored.storage_key,
                                                               SIGNING_SECRET, expires)

    def pid(self, server: str) -> int:
        """The master process of ``server`` (a lab attribute: ``stream``, ``nginx``, …)."""
        found = getattr(self, server)
        proc = (found[0] if isinstance(found, tuple) else found).proc
        assert proc is not None, f"{server} is not running"
        return int(proc.pid)

    def close(self) -> None:
        """Stop every server, nginx first (before the gunicorn behind it), the others at once:
        gunicorn's graceful stop takes a second or two each."""
        made = list(vars(self).values())
        for nginx in [m[0] for m in made if isinstance(m, tuple)] + [
                m for m in made if isinstance(m, Edge)]:
            nginx.stop()
        threads = [threading.Thread(target=m.stop) for m in made if isinstance(m, Server)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.keep:
            log(f"kept {self.workdir} (logs in {self.logs})")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
