"""Storage failures and clients that go away, injected into the storage layer (§4): 503 with
Retry-After before the first byte; after it, a short body, never a complete-looking one; the
storage stream released in every case. tests/e2e/test_faults.py does the same on a real socket
under gunicorn."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from files_service import get_services
from files_service.errors import StorageUnavailable
from files_service.storage import MemoryStorage, S3Storage
from tests.conftest import make_world, path_of
from tests.download.test_current import error_of
from tests.servers import free_port, s3_client

BIG = bytes(range(256)) * 4096  # 1 MiB: several storage chunks


def setup(make_app: Callable[..., Flask], storage: MemoryStorage | S3Storage):  # type: ignore[no-untyped-def]
    app = make_app(storage=storage)
    services = get_services(app)
    world = make_world(services, content=BIG)
    url = path_of(services.minter.mint(world.file, world.key).url)
    return app.test_client(), services, url


def metric(services, outcome: str) -> float:  # type: ignore[no-untyped-def]
    return services.metrics.downloads.labels(outcome)._value.get()


def test_storage_down_before_the_first_byte_is_503_retry_after(make_app):
    storage = MemoryStorage()
    client, _, url = setup(make_app, storage)
    storage.fail_open = StorageUnavailable("injected")
    response = client.get(url)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert error_of(response)["code"] == "storage_unavailable"
    assert storage.open_streams == 0


def test_unreachable_s3_is_503_retry_after(make_app, make_s3_storage):
    storage = make_s3_storage()
    client, _, url = setup(make_app, storage)
    # From now on S3 is an endpoint where nothing listens.
    storage.client = s3_client(f"http://127.0.0.1:{free_port()}")
    response = client.get(url)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert error_of(response)["code"] == "storage_unavailable"


def test_failure_after_the_first_byte_ends_the_body_short(make_app):
    storage = MemoryStorage()
    client, services, url = setup(make_app, storage)
    storage.fail_after_bytes = 300_000
    response = client.get(url, buffered=False)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(BIG))  # promised, then not kept
    received = bytearray()
    with pytest.raises(StorageUnavailable):
        for chunk in response.response:
            received += chunk
    assert 0 < len(received) == 300_000 < len(BIG)
    response.close()
    assert storage.open_streams == 0
    assert metric(services, "aborted") == 1


def test_a_client_that_goes_away_releases_the_stream(make_app):
    storage = MemoryStorage()
    client, services, url = setup(make_app, storage)
    response = client.get(url, buffered=False)
    first = next(iter(response.response))
    assert first and storage.open_streams == 1
    response.close()  # what a WSGI server does when the client disconnects
    assert storage.open_streams == 0
    assert metric(services, "aborted") == 1
    assert metric(services, "ok") == 0  # counted once, as what it was


def test_a_complete_download_is_not_aborted(make_app):
    storage = MemoryStorage()
    client, services, url = setup(make_app, storage)
    response = client.get(url)
    assert response.data == BIG
    response.close()
    assert storage.open_streams == 0
    assert metric(services, "aborted") == 0
    assert metric(services, "ok") == 1
