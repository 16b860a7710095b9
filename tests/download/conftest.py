"""Download fixtures: the app on each storage backend (local files, S3 on the session's moto
server), with what it reads from storage seen from outside: the opens of the object's file as
the kernel reports them (inotify) for local storage, and each ``GetObject`` with its ``Range``
as botocore sends it for S3. So a test can prove a range is read as a range, and that a
request that needs no bytes reads none."""

from __future__ import annotations

import ctypes
import os
import struct
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from files_service import get_services
from files_service.services import Services
from files_service.storage import S3Storage, Storage
from tests.conftest import World, make_world
from tests.servers import s3_client

IN_OPEN, IN_CLOSE_NOWRITE = 0x20, 0x10
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


@pytest.fixture
def make_s3_storage(moto_endpoint: str) -> Callable[[], S3Storage]:
    """New S3Storages, each on a new bucket under the prefix ``pre/fix``."""

    def make() -> S3Storage:
        client = s3_client(moto_endpoint)
        bucket = f"dl-{uuid.uuid4().hex}"
        client.create_bucket(Bucket=bucket)
        return S3Storage(bucket, "pre/fix", client=client)

    return make


class FileOpens:
    """How many times a file is opened, from the kernel's inotify events (Linux). Closes are
    watched too: the kernel merges two identical events in a row, never an open and a close."""

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0 or libc.inotify_add_watch(
            self._fd, os.fsencode(path), IN_OPEN | IN_CLOSE_NOWRITE
        ) < 0:
            raise OSError(ctypes.get_errno(), f"inotify on {path}")
        self.count = 0

    def opens(self) -> int:
        try:
            while data := os.read(self._fd, 4096):
                offset = 0
                while offset < len(data):
                    _, mask, _, length = _EVENT.unpack_from(data, offset)
                    self.count += bool(mask & IN_OPEN)
                    offset += _EVENT.size + length
        except BlockingIOError:
            pass  # nothing more to read
        return self.count

    def close(self) -> None:
        os.close(self._fd)


@dataclass
class Backend:
    name: str
    app: Flask
    services: Services
    world: World
    s3_ranges: list[str | None] = field(default_factory=list)  # of each GetObject
    local_opens: FileOpens | None = None

    @property
    def storage(self) -> Storage:
        return self.services.storage

    def reads(self) -> list[str | None]:
        """One item per read of the file from storage so far: for S3 the ``Range`` it asked
        for (None: the whole object); for local storage None, the range not being visible
        from outside."""
        if self.local_opens is not None:
            return [None] * self.local_opens.opens()
        return list(self.s3_ranges)


@pytest.fixture(params=["local", "s3"])
def backend(
    request: pytest.FixtureRequest, make_app: Callable[..., Flask],
    make_s3_storage: Callable[[], S3Storage],
) -> Iterator[Backend]:
    """The app and a world on one storage backend, every read of the world's file seen."""
    storage = make_s3_storage() if request.param == "s3" else None
    app = make_app(storage=storage)
    services = get_services(app)
    found = Backend(request.param, app, services, make_world(services))
    if isinstance(services.storage, S3Storage):
        def on_get(params: dict[str, Any], **_: Any) -> None:
            found.s3_ranges.append(params.get("Range"))

        services.storage.client.meta.events.register(
            "before-parameter-build.s3.GetObject", on_get
        )
    else:
        found.local_opens = FileOpens(Path(services.storage.root) / found.world.file.storage_key)
    yield found
    if found.local_opens is not None:
        found.local_opens.close()
