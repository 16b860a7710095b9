"""A client that goes away mid-download releases the storage stream (§4, issue #6), and a
download is counted once, as what it was: ``aborted``, or ``ok`` when read to its end. In-process
(the body closed as a WSGI server closes it), on a real socket under gunicorn, a thousand times
over on S3, and for a large local file, which gunicorn sends with ``sendfile``.

The thousand: under gunicorn with the service's own settings, on S3 storage (moto), 1,000
raw-socket GETs of a large object each read the headers and a few KB, then close (a reset:
unread data is left behind). Afterwards every storage stream was closed (tests/faults/
faultapp.py counts them from ``open`` to ``close``), every download was counted ``aborted``
and none ``ok``, the worker holds no more connections to S3 than botocore's pool allows and no
more file descriptors than before, and it still serves a whole download (counted ``ok``) and
the API."""

from __future__ import annotations

import hashlib
import http.client
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from files_service.files import store_file
from files_service.storage import S3Storage
from tests.conftest import path_of
from tests.faults.conftest import BIG, Faulty, InProcess
from tests.faults.served import (
    FAULTAPP,
    PREFIX,
    S3Served,
    metric,
    open_streams,
    serve_on_s3,
    wait_until,
)
from tests.servers import Server, new_server, s3_client

MiB = 1024 * 1024
SIZE = 8 * MiB  # more than the server's send buffer (4 MiB at most) and ours together
ABORTS = 1000
CLIENTS = 8  # the worker's threads (gunicorn_conf.threads)
POOL = 10  # botocore's max_pool_connections: what the worker may keep open to S3
RCVBUF = 64 * 1024


def outcome(server: Server, name: str) -> float:
    """``files_downloads_total`` of one outcome."""
    return metric(server, "files_downloads_total", outcome=name)


def abort_one(server: Server, path: str) -> None:
    """GET, read the headers and a few KB, close with the rest unread."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)  # before connect: small
    sock.settimeout(15)
    try:
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < 4096:
            chunk = sock.recv(8192)
            assert chunk, "the server closed the connection early"
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 "), received[:200]
    finally:
        sock.close()


def download_whole(server: Server, path: str, headers: dict[str, str] | None = None) -> str:
    """GET ``path`` and read the body to its end; its SHA-256."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
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


# -- in-process ------------------------------------------------------------------------------


def test_a_client_that_goes_away_releases_the_stream(in_process: InProcess):
    response = in_process.client.get(in_process.url, buffered=False)
    first = next(iter(response.response))
    assert first and in_process.storage.open_streams == 1
    response.close()  # what a WSGI server does when the client disconnects
    assert in_process.storage.open_streams == 0
    assert in_process.downloads("aborted") == 1
    assert in_process.downloads("ok") == 0  # counted once, as what it was


def test_a_complete_download_is_not_aborted(in_process: InProcess):
    response = in_process.client.get(in_process.url)
    assert response.data == BIG
    response.close()
    assert in_process.storage.open_streams == 0
    assert in_process.downloads("aborted") == 0
    assert in_process.downloads("ok") == 1


# -- under gunicorn ----------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_client_that_disconnects_releases_the_storage_stream(faulty: Faulty):
    sock = socket.create_connection(("127.0.0.1", faulty.server.port), timeout=15)
    try:
        sock.sendall(f"GET {path_of(faulty.urls['ok'])} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     .encode())
        received = b""
        while len(received) < 256 * 1024:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection early"
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 ")
        # 64 MiB cannot fit in the socket buffers: the download is under way, stream open.
        assert open_streams(faulty.server) == 1
    finally:
        sock.close()  # with unread data: the kernel resets the connection
    wait_until(lambda: open_streams(faulty.server) == 0, "the stream to be closed")


@pytest.mark.e2e
def test_a_complete_download_releases_its_stream(faulty: Faulty):
    download_whole(faulty.server, path_of(faulty.urls["ok"]))
    wait_until(lambda: open_streams(faulty.server) == 0, "the stream to be closed")


# -- a thousand, on S3 -------------------------------------------------------------------------


@dataclass
class Big:
    path: str  # /big.bin?access_token=…
    sha256: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[S3Served]:
    with serve_on_s3(tmp_path_factory.mktemp("download-aborts"), moto_endpoint, wsgi=FAULTAPP,
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
    return Big(path_of(minted.url), hashlib.sha256(b"".join(content)).hexdigest())


@pytest.mark.e2e
def test_a_thousand_aborted_downloads_release_their_storage_connections(
    served: S3Served, big: Big
):
    server, worker = served.server, served.worker()
    # One download first, so that the pool and the caches exist before the count starts.
    abort_one(server, big.path)
    wait_until(lambda: outcome(server, "aborted") == 1, "the first abort to be counted")
    assert open_streams(server) == 0
    fds_before = worker.num_fds()

    with ThreadPoolExecutor(CLIENTS) as pool:
        for done in pool.map(lambda _: abort_one(server, big.path), range(ABORTS)):
            assert done is None

    # Every stream was closed, by the body's close (which also counts it as aborted).
    wait_until(lambda: open_streams(server) == 0, "every storage stream to be closed")
    wait_until(lambda: outcome(server, "aborted") == ABORTS + 1, "every abort to be counted")
    assert outcome(server, "ok") == 0  # an aborted download is not also a good one
    held = served.connections_to_storage()
    assert len(held) <= POOL, held
    assert worker.num_fds() <= fds_before + POOL, (fds_before, worker.num_fds())

    # And the server still serves: a whole download, byte for byte, and the API.
    assert download_whole(server, big.path) == big.sha256
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/api/v1/versions",
                     headers={"Authorization": f"Bearer {served.secret}"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    # The whole download was counted ok, not aborted, and it closed its stream too.
    wait_until(lambda: outcome(server, "ok") == 1, "the whole download to be counted ok")
    assert outcome(server, "aborted") == ABORTS + 1
    wait_until(lambda: open_streams(server) == 0, "the last stream to be closed")
    assert len(served.connections_to_storage()) <= POOL


# -- local files, sent by sendfile ------------------------------------------------------------


@pytest.fixture(scope="module")
def local_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Big]]:
    """``files-service serve`` on local storage, where gunicorn sends a large file with
    ``sendfile`` (no Python between the file and the socket), and a large file in it."""
    server = new_server(tmp_path_factory.mktemp("local-aborts"))
    services = server.services()
    try:
        org = services.registry.create_organization("Aborts")
        key, _ = services.registry.create_api_key(org.id, name="aborts")
        content = [hashlib.sha256(b"local").digest() * 2048] * (SIZE // (64 * 1024))
        file = store_file(services, org.id, iter(content), filename="big.bin",
                          content_type="application/octet-stream")
        url = services.minter.mint(file, key).url
    finally:
        services.close()
    server.start(workers=1)
    try:
        yield server, Big(path_of(url), hashlib.sha256(b"".join(content)).hexdigest())
    finally:
        server.stop()


@pytest.mark.e2e
def test_downloads_sent_by_sendfile_count_ok_only_when_whole(local_served: tuple[Server, Big]):
    server, big = local_served
    for _ in range(5):
        abort_one(server, big.path)
    wait_until(lambda: outcome(server, "aborted") == 5, "the aborts to be counted")
    assert outcome(server, "ok") == 0
    sent = metric(server, "files_download_bytes_total")
    assert 0 < sent < 5 * SIZE  # what went out before each client left, not 5 whole files

    assert download_whole(server, big.path) == big.sha256
    wait_until(lambda: outcome(server, "ok") == 1, "the whole download to be counted ok")
    half = SIZE // 2
    download_whole(server, big.path, {"Range": f"bytes=0-{half - 1}"})
    wait_until(lambda: outcome(server, "partial") == 1, "the whole range to be counted")
    assert outcome(server, "aborted") == 5
    assert metric(server, "files_download_bytes_total") == sent + SIZE + half
