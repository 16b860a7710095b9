"""Storage unreachable before the first byte (§4): a download answers 503 with Retry-After and a
JSON:API error, in-process on a storage told to fail, on an S3 that is stopped or hung (within
the configured connect and read timeouts: no worker hangs), and on a real socket under
gunicorn."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from files_service import get_services
from files_service.errors import StorageUnavailable
from files_service.storage import S3Storage
from tests.conftest import path_of
from tests.download.test_current import error_of
from tests.faults.conftest import Faulty, InProcess

TIMEOUT = 1.0  # connect and read timeouts given to the storage client
# Every attempt (botocore retries a timed-out request) may take a full read timeout; well
# under this bound means "failed fast", far over it would mean a hung worker.
BOUND = 5 * TIMEOUT


def test_storage_down_is_503_with_retry_after(in_process: InProcess):
    in_process.storage.fail_open = StorageUnavailable("injected")
    response = in_process.client.get(in_process.url)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert error_of(response)["code"] == "storage_unavailable"
    assert in_process.storage.open_streams == 0


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (a hung S3)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def download_from(make_app, endpoint: str):  # type: ignore[no-untyped-def]
    """Download, from an app whose storage is an S3 at ``endpoint``, a file registered
    directly in the registry (the endpoint cannot take an upload)."""
    storage = S3Storage(
        "bucket", "prefix", endpoint, connect_timeout=TIMEOUT, read_timeout=TIMEOUT
    )
    app = make_app(storage=storage)
    services = get_services(app)
    org = services.registry.create_organization("Acme")
    key, _ = services.registry.create_api_key(org.id)
    file = services.registry.create_file(
        org.id, filename="a.bin", content_type="application/octet-stream", byte_size=10,
        checksum="0" * 64, storage_key=f"{org.id}/a.bin",
    )
    url = path_of(services.minter.mint(file, key).url)
    started = time.monotonic()
    response = app.test_client().get(url)
    return response, time.monotonic() - started


@pytest.mark.parametrize("kind", ["stopped", "hung"])
def test_s3_down_gives_503_fast(make_app, blackhole, monkeypatch, kind):
    # Credentials, so that the client really goes to the network instead of failing early.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = closed_port() if kind == "stopped" else blackhole
    response, took = download_from(make_app, endpoint)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json(force=True)["errors"][0]["code"] == "storage_unavailable"
    assert took < BOUND
    if kind == "hung":
        assert took >= TIMEOUT  # it did wait on the socket, for the read timeout


@pytest.mark.e2e
def test_storage_down_is_503_with_retry_after_under_gunicorn(faulty: Faulty):
    parts = urlsplit(faulty.urls["fail-open"])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request("GET", path_of(faulty.urls["fail-open"]))
        response = conn.getresponse()
        assert response.status == 503
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["Cache-Control"] == "no-store"
        assert json.loads(response.read())["errors"][0]["code"] == "storage_unavailable"
    finally:
        conn.close()
