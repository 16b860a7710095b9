"""A real server (``files-service serve``, or gunicorn with the service's own settings on a
test app wrapping the service) with one worker, on S3 storage (the session's moto server),
for the fault tests of clients that go away: raw sockets to the server, the bucket read back
with boto3, and what the worker process holds seen through psutil."""

from __future__ import annotations

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

from tests.servers import AWS_ENV, Server, new_server, s3_client

PREFIX = "faults/objects"


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


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    """Poll ``condition`` (the server works on its own time; nothing here waits on a clock)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.05)


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
