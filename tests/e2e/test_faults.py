"""Storage failures and a client that goes away, on a real socket, under gunicorn with the
service's own settings (tests/e2e/faultapp.py injects the faults at the storage interface):
503 with Retry-After before the first byte; after it, the connection closes short of
Content-Length; a client that disconnects mid-download releases the storage stream."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from files_service.files import register_file
from tests.e2e.faultapp import FAIL_AFTER
from tests.servers import Server, free_port, server_env

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


@dataclass
class Faulty:
    server: Server
    urls: dict[str, str]

    def open_streams(self) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", urlsplit(self.server.base).port, timeout=5)
        try:
            conn.request("GET", "/_test/open-streams")
            return int(conn.getresponse().read())
        finally:
            conn.close()

    def wait_for_open_streams(self, expected: int, seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while (seen := self.open_streams()) != expected:
            assert time.monotonic() < deadline, f"{seen} storage streams open, not {expected}"
            time.sleep(0.05)  # polling the server; nothing here waits on a clock


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    tmp = tmp_path_factory.mktemp("faults")
    port = free_port()
    server = Server(f"http://127.0.0.1:{port}", server_env(tmp, port), tmp / "server.log")
    server.cli("init")
    services = server.services()
    org = services.registry.create_organization("Faults")
    key, _ = services.registry.create_api_key(org.id, name="faults")
    urls = {}
    for name, size in (("fail-open/a.bin", 10), ("fail-after/b.bin", 2 * MIB),
                       ("ok/huge.bin", 64 * MIB)):
        services.storage.write(name, [bytes(size)])
        file = register_file(services, org.id, name, filename=name.split("/")[1],
                             content_type="application/octet-stream")
        urls[name.split("/")[0]] = services.minter.mint(file, key).url
    services.close()
    server.start(workers=1, wsgi="tests.e2e.faultapp:make()")
    try:
        yield Faulty(server, urls)
    finally:
        server.stop()


def get(url: str) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    conn.request("GET", f"{parts.path}?{parts.query}")
    return conn.getresponse()


def test_storage_down_before_the_first_byte_is_503_with_retry_after(faulty: Faulty):
    response = get(faulty.urls["fail-open"])
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.read())["errors"][0]["code"] == "storage_unavailable"


def test_a_failure_after_the_first_byte_closes_the_connection_short(faulty: Faulty):
    response = get(faulty.urls["fail-after"])
    assert response.status == 200
    assert response.headers["Content-Length"] == str(2 * MIB)
    with pytest.raises(http.client.IncompleteRead) as short:
        response.read()
    assert len(short.value.partial) == FAIL_AFTER  # every byte storage gave, and no more
    faulty.wait_for_open_streams(0)
    log = faulty.server.log.read_text(errors="replace")
    assert "injected failure after the first byte" in log
    assert faulty.urls["fail-after"].split("access_token=")[1] not in log


def test_a_client_that_disconnects_releases_the_storage_stream(faulty: Faulty):
    parts = urlsplit(faulty.urls["ok"])
    sock = socket.create_connection((parts.hostname, parts.port), timeout=15)
    try:
        sock.sendall(
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        )
        received = b""
        while len(received) < 256 * 1024:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection early"
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 ")
        # 64 MiB cannot fit in the socket buffers: the download is under way, stream open.
        assert faulty.open_streams() == 1
    finally:
        sock.close()  # with unread data: the kernel resets the connection
    faulty.wait_for_open_streams(0)


def test_a_complete_download_releases_its_stream(faulty: Faulty):
    response = get(faulty.urls["ok"])
    total = 0
    while chunk := response.read(MIB):
        total += len(chunk)
    assert total == 64 * MIB
    faulty.wait_for_open_streams(0)
