"""Download fixtures: the app on each storage backend (local files, S3 on the session's moto
server), with a spy on what is read from storage, so a test can prove a range is read as a
range."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from files_service import get_services
from files_service.services import Services
from files_service.storage import ReadStream, S3Storage, Storage
from tests.conftest import World, make_world
from tests.servers import s3_client


@pytest.fixture
def make_s3_storage(moto_endpoint: str) -> Callable[[], S3Storage]:
    """New S3Storages, each on a new bucket under the prefix ``pre/fix``."""

    def make() -> S3Storage:
        client = s3_client(moto_endpoint)
        bucket = f"dl-{uuid.uuid4().hex}"
        client.create_bucket(Bucket=bucket)
        return S3Storage(bucket, "pre/fix", client=client)

    return make


@dataclass
class Reads:
    """What the app read from storage: ``(start, end)`` per ``open``, and for S3 the ``Range``
    of each ``GetObject`` as botocore sent it."""

    opens: list[tuple[int, int | None]] = field(default_factory=list)
    s3_ranges: list[str | None] = field(default_factory=list)


@dataclass
class Backend:
    name: str
    app: Flask
    services: Services
    world: World
    reads: Reads

    @property
    def storage(self) -> Storage:
        return self.services.storage


@pytest.fixture(params=["local", "s3"])
def backend(
    request: pytest.FixtureRequest, make_app: Callable[..., Flask],
    make_s3_storage: Callable[[], S3Storage],
) -> Iterator[Backend]:
    """The app and a world on one storage backend, every read recorded."""
    storage = make_s3_storage() if request.param == "s3" else None
    app = make_app(storage=storage)
    services = get_services(app)
    reads = Reads()
    real_open = services.storage.open

    def spying_open(key: str, start: int = 0, end: int | None = None) -> ReadStream:
        reads.opens.append((start, end))
        return real_open(key, start, end)

    services.storage.open = spying_open  # type: ignore[method-assign]
    if isinstance(services.storage, S3Storage):
        def on_get(params: dict[str, Any], **_: Any) -> None:
            reads.s3_ranges.append(params.get("Range"))

        services.storage.client.meta.events.register(
            "before-parameter-build.s3.GetObject", on_get
        )
    yield Backend(request.param, app, services, make_world(services), reads)
