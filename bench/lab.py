"""The servers and data sets of one run, each started on first use and all stopped at the end.

Two data sets: ``local`` (a ``local://`` storage, served by the service in stream and accel
mode, by the naive app and by nginx: the very same files on disk) and ``s3`` (a moto server in
its own process, served by the service in stream mode)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import servers
from bench.baselines import naive_flask, nginx_conf
from bench.common import RunConfig, log
from bench.servers import Dataset, Gunicorn, Moto, Nginx, StoredFile

S3_BUCKET = "files-bench"
# Labels of the files each data set can hold, and the name each is stored under.
FILENAMES = {"small": "small-4k.bin", "medium": "medium.bin", "big": "big.bin"}


class Lab:
    def __init__(self, config: RunConfig, keep: bool = False) -> None:
        self.config = config
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix="files-bench-"))
        # nginx's workers run as an unprivileged user when the harness is root: they must be
        # able to reach the storage root under this directory.
        os.chmod(self.workdir, 0o755)
        self.logs = self.workdir / "logs"
        self._local: Dataset | None = None
        self._s3: Dataset | None = None
        self._stream: Gunicorn | None = None
        self._accel: Gunicorn | None = None
        self._s3_stream: Gunicorn | None = None
        self._naive: Gunicorn | None = None
        self._nginx: Nginx | None = None
        self._moto: Moto | None = None
        self._batch_ids: list[str] = []
        self._stopped: list[Any] = []  # in start order; stopped in reverse
        log(f"work directory {self.workdir}")

    # -- sizes and sources -----------------------------------------------------------------

    def size_of(self, label: str) -> int:
        return {
            "small": self.config.small_size, "medium": self.config.medium_size,
            "big": self.config.big_size,
        }[label]

    def source(self, label: str, size: int) -> Path:
        """A source file of ``size`` bytes: random for the small ones, sparse (zeros, made at
        once) for the big one, whose content matters to nobody."""
        path = self.workdir / "src" / f"{label}-{size}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            if size <= 16 * 1024 * 1024:
                path.write_bytes(os.urandom(size))
            else:
                with path.open("wb") as fh:
                    fh.truncate(size)
        return path

    # -- data sets ---------------------------------------------------------------------------

    @property
    def local(self) -> Dataset:
        if self._local is None:
            root = self.workdir / "local"
            dataset = Dataset("local", root, f"local://{root / 'objects'}")
            dataset.setup()
            os.chmod(root, 0o755)
            self._local = dataset
        return self._local

    def local_file(self, label: str) -> StoredFile:
        dataset = self.local
        if label not in dataset.files:
            size = self.size_of(label)
            dataset.upload(label, self.source(label, size), FILENAMES[label])
        return dataset.files[label]

    def batch_ids(self) -> list[str]:
        """``batch_size`` small files for the batch-minting figures, stored in-process with the
        function ``files-service upload`` calls: a hundred CLI processes would cost a minute."""
        if not self._batch_ids:
            from files_service.files import store_file
            from files_service.services import build_services
            from files_service.settings import Settings

            dataset = self.local
            services = build_services(Settings.from_env(dataset.env))
            try:
                self._batch_ids = [
                    store_file(
                        services, dataset.org_id, iter([b"batch %d\n" % i]),
                        filename=f"batch-{i:03}.txt", content_type="text/plain",
                    ).id
                    for i in range(self.config.batch_size)
                ]
            finally:
                services.close()
        return self._batch_ids

    @property
    def moto(self) -> Moto:
        if self._moto is None:
            self._moto = self.adopt(servers.moto(self.logs))
            self._moto.client().create_bucket(Bucket=S3_BUCKET)
        return self._moto

    @property
    def s3(self) -> Dataset:
        if self._s3 is None:
            from bench.baselines.boto3_direct import AWS_ENV

            extra = {**AWS_ENV, "FILES_S3_ENDPOINT_URL": self.moto.endpoint}
            dataset = Dataset("s3", self.workdir / "s3", f"s3://{S3_BUCKET}", extra)
            dataset.setup()
            self._s3 = dataset
        return self._s3

    def s3_file(self, label: str) -> StoredFile:
        dataset = self.s3
        if label not in dataset.files:
            size = self.config.s3_big_size if label == "big" else self.size_of(label)
            dataset.upload(label, self.source(label, size), FILENAMES[label])
        return dataset.files[label]

    # -- servers -----------------------------------------------------------------------------

    @property
    def stream(self) -> Gunicorn:
        """The service, stream mode, local storage."""
        if self._stream is None:
            self._stream = self.adopt(servers.service(self.local, "stream", "stream", self.logs))
        return self._stream

    @property
    def accel_backend(self) -> Gunicorn:
        """The service, accel mode, local storage (reached through nginx)."""
        if self._accel is None:
            # One proxy in front, as docs/delivery.md's accel configuration says to set.
            self._accel = self.adopt(servers.service(
                self.local, "accel", "accel", self.logs, FILES_TRUSTED_PROXIES="1"
            ))
        return self._accel

    @property
    def nginx(self) -> Nginx:
        if self._nginx is None:
            root = self.local.local_root
            assert root is not None
            self._nginx = self.adopt(
                servers.nginx(self.workdir / "nginx", root, self.accel_backend.port, self.logs)
            )
        return self._nginx

    @property
    def naive(self) -> Gunicorn:
        if self._naive is None:
            root = self.local.local_root
            assert root is not None
            self._naive = self.adopt(servers.naive(root, self.logs))
        return self._naive

    @property
    def s3_stream(self) -> Gunicorn:
        """The service, stream mode, S3 storage on moto."""
        if self._s3_stream is None:
            self._s3_stream = self.adopt(servers.service(self.s3, "stream", "s3", self.logs))
        return self._s3_stream

    # -- URLs of the same file on each server ---------------------------------------------------

    def url(self, server: str, label: str) -> str:
        """The URL of the local file ``label`` on ``server``: ``stream``, ``accel``, ``naive``
        or ``nginx`` (secure_link)."""
        stored = self.local_file(label)
        if server == "stream":
            return self.stream.base + stored.url_path
        if server == "accel":
            return self.nginx.accel_base + stored.url_path
        if server == "naive":
            token = naive_flask.mint(
                servers.SIGNING_SECRET, stored.storage_key, stored.name,
                "application/octet-stream",
            )
            return f"{self.naive.base}/{stored.name}?token={token}"
        if server == "nginx":
            expires = int(time.time()) + 6 * 3600
            path = nginx_conf.secure_link_path(stored.storage_key, servers.SIGNING_SECRET, expires)
            return self.nginx.secure_base + path
        raise ValueError(f"unknown server {server!r}")

    def server_log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    # -- the end -----------------------------------------------------------------------------

    @staticmethod
    def _stop(thing: Any) -> None:
        try:
            thing.stop()
        except Exception as exc:  # stop the others all the same
            log(f"could not stop {thing!r}: {exc}")

    def adopt(self, thing: Any) -> Any:
        """Stop ``thing`` (anything with ``stop()``) with the lab's own servers."""
        self._stopped.append(thing)
        return thing

    def close(self) -> None:
        """Stop every server, front ones first (nginx before the gunicorn behind it), those
        of one rank at once: gunicorn's graceful stop takes a second or two each."""
        fronts = [t for t in self._stopped if isinstance(t, Nginx)]
        backs = [t for t in self._stopped if not isinstance(t, Nginx)]
        for rank in (fronts, backs):
            threads = [threading.Thread(target=self._stop, args=(t,)) for t in rank]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        self._stopped.clear()
        if self.keep:
            log(f"kept {self.workdir} (logs in {self.logs})")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
