"""Real servers for the fault tests, one worker each: ``files-service serve``, or gunicorn with
the service's own settings on tests/faults/faultapp.py (faults by key, read streams counted),
on local storage or on S3 (the session's moto server); what they say over HTTP (the open
streams, a metric), the bucket read back with boto3, and what the worker process holds seen
through psutil."""

from __future__ import annotations

import http.client
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from files_service.files import register_file
from tests.servers import AWS_ENV, Server, new_server, s3_client

PREFIX = "faults/objects"
MIB = 1024 * 1024
FAULTAPP = "tests.faults.faultapp:make()"


def get_text(server: Server, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def open_streams(server: Server) -> int:
    """How many storage streams the worker of a faultapp server has open."""
    return int(get_text(server, "/_test/open-streams"))


def metric(server: Server, name: str, **labels: str) -> float:
    """One sample of the server's ``/metrics`` (0 where it has none yet)."""
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{selector}}}" if labels else name
    match = re.search(rf"^{re.escape(series)} ([0-9.e+]+)$", get_text(server, "/metrics"),
                      re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    """Poll ``condition`` (the server works on its own time; nothing here waits on a clock)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.05)


@contextmanager
def serve_faults(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    """The faultapp on local storage, and the URL of a file for each case: ``fail-open``
    (10 bytes), ``fail-after`` (2 MiB) and ``ok`` (64 MiB: more than the socket buffers
    hold, so that a download of it is under way until it is read)."""
    server = new_server(tmp_path)
    services = server.services()
    try:
        org = services.registry.create_organization("Faults")
        key, _ = services.registry.create_api_key(org.id, name="faults")
        urls = {}
        for name, size in (("fail-open/a.bin", 10), ("fail-after/b.bin", 2 * MIB),
                           ("ok/huge.bin", 64 * MIB)):
            services.storage.write(name, [bytes(size)])
            file = register_file(services, org.id, name, filename=name.split("/")[1],
                                 content_type="application/octet-stream")
            urls[name.split("/")[0]] = services.minter.mint(file, key).url
    finally:
        services.close()
    server.start(workers=1, wsgi=FAULTAPP)
    try:
        yield server, urls
    finally:
        server.stop()


@dataclass
class S3Served:
    """The server, its bucket and a boto3 client of it, and an organization with a key."""

    server: Server
    bucket: str
    s3: Any
    moto_port: int
    org_id: str
    key_id: str
    secret: str

    @property
    def port(self) -> int:
        return self.server.port

    def worker(self) -> psutil.Process:
        """The one gunicorn worker (``files-service serve`` became the master)."""
        (worker,) = psutil.Process(self.server.pid).children()
        return worker

    def connections_to_storage(self) -> list[Any]:
        """The worker's TCP connections to the S3 endpoint, in any state it still holds."""
        return [c for c in self.worker().net_connections(kind="tcp")
                if c.raddr and c.raddr.port == self.moto_port]

    def objects(self, under: str = "") -> list[str]:
        """Keys in the bucket under ``PREFIX/under``."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{PREFIX}/{under}")
        return [item["Key"] for item in listed.get("Contents", [])]

    def multipart_uploads(self) -> list[dict[str, Any]]:
        return list(self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=15)

    def access_log_lines(self, needle: str) -> int:
        """How many lines of the server's log hold ``needle``."""
        return sum(needle in line for line in self.server.log.read_text(errors="replace")
                   .splitlines())


@contextmanager
def serve_on_s3(
    tmp_path: Path, moto_endpoint: str, *, wsgi: str | None = None, **settings: str
) -> Iterator[S3Served]:
    """``files-service serve --workers 1`` on a new bucket of ``moto_endpoint``; with ``wsgi``
    (``module:attribute``), gunicorn with the service's settings on that app instead.
    ``settings`` replace the server's environment variables (timeouts, …)."""
    s3 = s3_client(moto_endpoint)
    bucket = f"faults-{uuid.uuid4().hex}"
    s3.create_bucket(Bucket=bucket)
    server = new_server(tmp_path, **{
        "FILES_STORAGE": f"s3://{bucket}/{PREFIX}",
        "FILES_S3_ENDPOINT_URL": moto_endpoint,
        "FILES_S3_CONNECT_TIMEOUT": "5",
        "FILES_S3_READ_TIMEOUT": "20",
        **AWS_ENV,
        **settings,
    })
    org = server.cli_json("orgs", "create", "Faults")
    key = server.cli_json("keys", "create", "--org", org["id"], "--version", "2025-06-01")
    server.start(workers=1, wsgi=wsgi)
    try:
        yield S3Served(server, bucket, s3, int(urlsplit(moto_endpoint).port or 0), org["id"],
                       key["id"], key["secret"])
    finally:
        server.stop()
