"""Clients that abort downloads release the storage connection (issue #6): under gunicorn with
the service's own settings, on S3 storage (moto), 1,000 raw-socket GETs of a large object each
read the headers and a few KB, then close (a reset: unread data is left behind).

Afterwards: every storage stream was closed (tests/faults/counting_app.py counts them from
``open`` to ``close``; a count of sockets alone would not do, since CPython also closes a
forgotten ``GetObject`` body when it is garbage-collected), every download was counted
``aborted`` and none ``ok``, the worker holds no more connections to S3 than botocore's pool
allows and no more file descriptors than before, and it still serves a whole download (counted
``ok``) and the API.

The same counts hold for a large local file, which gunicorn sends with ``sendfile``."""

from __future__ import annotations

import hashlib
import http.client
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from files_service.files import store_file
from files_service.storage import S3Storage
from tests.faults.s3_server import PREFIX, S3Served, serve_on_s3, wait_until
from tests.servers import Server, free_port, s3_client, server_env

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
SIZE = 8 * MiB  # more than the server's send buffer (4 MiB at most) and ours together
ABORTS = 1000
CLIENTS = 8  # the worker's threads (gunicorn_conf.threads)
POOL = 10  # botocore's max_pool_connections: what the worker may keep open to S3
RCVBUF = 64 * 1024


@dataclass
class Big:
    path: str  # /big.bin?access_token=…
    sha256: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[S3Served]:
    with serve_on_s3(tmp_path_factory.mktemp("download-aborts"), moto_endpoint,
                     wsgi="tests.faults.counting_app:make()",
                     # Every thread may open a stream: the waiting bound is the brown-out
                     # test's subject, not this one's.
                     FILES_S3_MAX_WAITING=str(CLIENTS)) as served:
        yield served


@pytest.fixture(scope="module")
def big(served: S3Served, moto_endpoint: str) -> Big:
    """A large object of the organization, stored and minted in-process."""
    storage = S3Storage(served.bucket, PREFIX, client=s3_client(moto_endpoint))
    services = served.server.services(storage=storage)
    try:
        block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
        content = [block] * (SIZE // len(block))
        file = store_file(services, served.org_id, iter(content), filename="big.bin",
                          content_type="application/octet-stream")
        minted = services.minter.mint(file, services.registry.get_principal(served.key_id))
    finally:
        services.close()
    parts = urlsplit(minted.url)
    return Big(f"{parts.path}?{parts.query}", hashlib.sha256(b"".join(content)).hexdigest())


def abort_one(port: int, path: str) -> None:
    """GET, read the headers and a few KB, close with the rest unread."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)  # before connect: small
    sock.settimeout(15)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < 4096:
            chunk = sock.recv(8192)
            assert chunk, "the server closed the connection early"
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 "), received[:200]
    finally:
        sock.close()


def get_text(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def open_streams(served: S3Served) -> int:
    return int(get_text(served.port, "/_test/open-streams"))


def metric(port: int, name: str, **labels: str) -> float:
    text = get_text(port, "/metrics")
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{selector}}}" if labels else name
    match = re.search(rf"^{re.escape(series)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def outcome(port: int, name: str) -> float:
    """``files_downloads_total`` of one outcome."""
    return metric(port, "files_downloads_total", outcome=name)


def download_whole(port: int, path: str, headers: dict[str, str] | None = None) -> str:
    """GET ``path`` and read the body to its end; its SHA-256."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        assert response.status in (200, 206), response.status
        digest = hashlib.sha256()
        while chunk := response.read(MiB):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        conn.close()


def test_a_thousand_aborted_downloads_release_their_storage_connections(
    served: S3Served, big: Big
):
    worker = served.worker()
    port = served.port
    # One download first, so that the pool and the caches exist before the count starts.
    abort_one(port, big.path)
    wait_until(lambda: outcome(port, "aborted") == 1, "the first abort to be counted")
    assert open_streams(served) == 0
    fds_before = worker.num_fds()

    with ThreadPoolExecutor(CLIENTS) as pool:
        for done in pool.map(lambda _: abort_one(port, big.path), range(ABORTS)):
            assert done is None

    # Every stream was closed, by the body's close (which also counts it as aborted).
    wait_until(lambda: open_streams(served) == 0, "every storage stream to be closed")
    wait_until(lambda: outcome(port, "aborted") == ABORTS + 1, "every abort to be counted")
    assert outcome(port, "ok") == 0  # an aborted download is not also a good one
    held = served.connections_to_storage()
    assert len(held) <= POOL, held
    assert worker.num_fds() <= fds_before + POOL, (fds_before, worker.num_fds())

    # And the server still serves: a whole download, byte for byte, and the API.
    assert download_whole(port, big.path) == big.sha256
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/api/v1/versions",
                     headers={"Authorization": f"Bearer {served.secret}"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    # The whole download was counted ok, not aborted, and it closed its stream too.
    wait_until(lambda: outcome(port, "ok") == 1, "the whole download to be counted ok")
    assert outcome(port, "aborted") == ABORTS + 1
    wait_until(lambda: open_streams(served) == 0, "the last stream to be closed")
    assert len(served.connections_to_storage()) <= POOL


# -- local files, sent by sendfile ------------------------------------------------------------


@dataclass
class LocalServed:
    server: Server
    big: Big

    @property
    def port(self) -> int:
        return int(urlsplit(self.server.base).port or 0)


@pytest.fixture(scope="module")
def local_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServed]:
    """``files-service serve`` on local storage, where gunicorn sends a large file with
    ``sendfile`` (no Python between the file and the socket), and a large file in it."""
    tmp = tmp_path_factory.mktemp("local-aborts")
    port = free_port()
    server = Server(f"http://127.0.0.1:{port}", server_env(tmp, port), tmp / "server.log")
    server.cli("init")
    services = server.services()
    try:
        org = services.registry.create_organization("Aborts")
        key, _ = services.registry.create_api_key(org.id, name="aborts")
        content = [hashlib.sha256(b"local").digest() * 2048] * (SIZE // (64 * 1024))
        file = store_file(services, org.id, iter(content), filename="big.bin",
                          content_type="application/octet-stream")
        parts = urlsplit(services.minter.mint(file, key).url)
    finally:
        services.close()
    big = Big(f"{parts.path}?{parts.query}", hashlib.sha256(b"".join(content)).hexdigest())
    server.start(workers=1)
    try:
        yield LocalServed(server, big)
    finally:
        server.stop()


def test_downloads_sent_by_sendfile_count_ok_only_when_whole(local_served: LocalServed):
    port, big = local_served.port, local_served.big
    for _ in range(5):
        abort_one(port, big.path)
    wait_until(lambda: outcome(port, "aborted") == 5, "the aborts to be counted")
    assert outcome(port, "ok") == 0
    sent = metric(port, "files_download_bytes_total")
    assert 0 < sent < 5 * SIZE  # what went out before each client left, not 5 whole files

    assert download_whole(port, big.path) == big.sha256
    wait_until(lambda: outcome(port, "ok") == 1, "the whole download to be counted ok")
    half = SIZE // 2
    download_whole(port, big.path, {"Range": f"bytes=0-{half - 1}"})
    wait_until(lambda: outcome(port, "partial") == 1, "the whole range to be counted")
    assert outcome(port, "aborted") == 5
    assert metric(port, "files_download_bytes_total") == sent + SIZE + half
