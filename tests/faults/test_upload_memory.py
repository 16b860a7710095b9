"""A 64 MiB upload through ``files-service serve`` (one worker), its ``metadata`` part before
or after the file, on local files and on S3 (moto): the file streams to storage and the
worker's peak resident memory (the kernel's ``VmHWM``) stays where a few small uploads left
it, whatever the order of the parts. Holding the file, or a part of it as large as the file,
would raise it by 64 MiB."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.api.conftest import BOUNDARY
from tests.faults.served import serve_on_s3
from tests.servers import Server, new_server

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
BLOCK = bytes(range(256)) * 256  # 64 KiB
# A file held whole would add its 64 MiB. What is allowed: one S3 part (5 MiB) with the copies
# botocore makes while sending it, and what glibc's heap keeps of the 64 KiB chunks it freed
# (measured: 0 to 3 MiB on local files, 3 to 18 MiB on S3, from one upload to the next).
FLAT_MIB = 32
METADATA = {"kind": "large"}


@dataclass
class Served:
    server: Server
    secret: str

    def worker(self) -> psutil.Process:
        """The one gunicorn worker (``files-service serve`` became the master)."""
        (worker,) = psutil.Process(self.server.pid).children()
        return worker


@contextmanager
def served_on(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    if kind == "s3":
        with serve_on_s3(tmp_path, request.getfixturevalue("moto_endpoint")) as s3:
            yield Served(s3.server, s3.secret)
        return
    server = new_server(tmp_path)
    org = server.cli_json("orgs", "create", "Memory")
    key = server.cli_json("keys", "create", "--org", org["id"], "--version", "2025-06-01")
    server.start(workers=1)
    try:
        yield Served(server, key["secret"])
    finally:
        server.stop()


def peak_rss_mib(process: psutil.Process) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def upload(served: Served, size: int, where: str) -> tuple[int, dict[str, Any], str]:
    """Send a form of ``size`` bytes of file over a socket, its metadata ``before`` or
    ``after`` the file: (status, document, SHA-256 of what was sent)."""
    metadata = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
                f"{json.dumps(METADATA)}\r\n").encode()
    file_head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"large.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 ).encode()
    head = (metadata if where == "before" else b"") + file_head
    tail = b"\r\n" + (metadata if where == "after" else b"") + f"--{BOUNDARY}--\r\n".encode()
    digest = hashlib.sha256()
    sock = socket.create_connection(("127.0.0.1", served.server.port), timeout=60)
    try:
        sock.sendall(
            f"POST /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {served.secret}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(head) + size + len(tail)}\r\nConnection: close\r\n\r\n"
            .encode() + head
        )
        for start in range(0, size, len(BLOCK)):
            chunk = BLOCK[: min(len(BLOCK), size - start)]
            digest.update(chunk)
            sock.sendall(chunk)
        sock.sendall(tail)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read()), digest.hexdigest()
    finally:
        sock.close()


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_large_upload_keeps_memory_flat_in_either_order(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
):
    with served_on(kind, tmp_path, request) as served:
        # Warm up: every code path of both orders, and one S3 part's buffers, once.
        for where in ("before", "after"):
            status, document, _ = upload(served, 16 * MiB, where)
            assert status == 201, document
        worker = served.worker()
        baseline = peak_rss_mib(worker)
        for where in ("after", "before"):
            status, document, sha256 = upload(served, 64 * MiB, where)
            assert status == 201, document
            attributes = document["data"]["attributes"]
            assert attributes["byte-size"] == 64 * MiB
            assert attributes["checksum"]["value"] == sha256
            assert attributes["metadata"] == METADATA
        growth = peak_rss_mib(worker) - baseline
        assert growth < FLAT_MIB, f"the worker's peak RSS grew by {growth:.1f} MiB"
        assert served.worker().pid == worker.pid  # the same worker served them all
