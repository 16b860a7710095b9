"""A file deleted through another worker (or replica): this worker may still hold its row for
``FILES_REGISTRY_CACHE_SECONDS``. The download is a ``404``, and the log says it is the expected
aftermath of a delete (INFO, once: the row is then forgotten), not an ERROR; an object lost
while its row stays is still an ERROR."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from files_service import get_services
from files_service.files import delete_file
from files_service.registry import Registry
from tests.conftest import make_world


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The service's log records (its logger does not propagate to the root's)."""
    logger = logging.getLogger("files_service")
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.INFO)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


def path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def two_workers(make_app, base_settings, clock):  # type: ignore[no-untyped-def]
    registry = Registry(base_settings.database_url, clock=clock)
    registry.init()
    return make_app(registry=registry), make_app(registry=registry)


def test_a_delete_elsewhere_is_logged_as_expected(make_app, base_settings, clock, log):
    worker, other = two_workers(make_app, base_settings, clock)
    world = make_world(get_services(worker))
    url = path(get_services(worker).minter.mint(world.file, world.key).url)
    client = worker.test_client()
    assert client.get(url).status_code == 200  # the row is now cached here
    delete_file(get_services(other), world.file.id)
    for _ in range(3):
        assert client.get(url).status_code == 404
    records = [r for r in log.records if world.file.id in r.getMessage()]
    assert [r.levelno for r in records] == [logging.INFO]  # once, not per request
    assert "was deleted" in records[0].getMessage()


def test_a_lost_object_is_still_an_error(make_app, base_settings, clock, log):
    worker, _ = two_workers(make_app, base_settings, clock)
    services = get_services(worker)
    world = make_world(services)
    services.storage.delete(world.file.storage_key)  # the row stays: the object is lost
    url = path(services.minter.mint(world.file, world.key).url)
    assert worker.test_client().get(url).status_code == 404
    errors = [r for r in log.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"file {world.file.id} is registered but its object is missing"
    ]
