"""A WSGI app for tests/faults/test_download_aborts.py, run by gunicorn with the service's own
gunicorn settings: the real service on its S3 storage (``FILES_STORAGE``), every read stream
counted from ``open`` to ``close``, and one extra route, ``/_test/open-streams``, that says
how many are open in this worker.

Test code, not a hook in the service (as tests/e2e/faultapp.py). The count is what proves
release: a stream is uncounted only by its ``close``, which closes the ``GetObject`` body and
so its connection. CPython would also close a forgotten body when it is garbage-collected,
which a count of sockets alone cannot tell from a proper release."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from files_service import create_app
from files_service.settings import Settings
from files_service.storage import ReadStream, Storage, open_storage
from tests.e2e.faultapp import with_open_streams


class _Counted(ReadStream):
    def __init__(self, owner: CountingStorage, stream: ReadStream) -> None:
        self._owner = owner
        self._stream = stream
        self._closed = False

    def __next__(self) -> bytes:
        return next(self._stream)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._stream.close()
            self._owner.changed(-1)


class CountingStorage:
    """Any storage, with the read streams it has open counted."""

    def __init__(self, inner: Storage) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.open_streams = 0

    def __getattr__(self, name: str) -> Any:  # stat, write, delete, check, presigned URLs…
        return getattr(self._inner, name)

    def changed(self, by: int) -> None:
        with self._lock:
            self.open_streams += by

    def open(self, key: str, start: int = 0, end: int | None = None) -> ReadStream:
        stream = self._inner.open(key, start, end)
        self.changed(+1)
        return _Counted(self, stream)


def make() -> Callable[..., Iterable[bytes]]:
    """The app (gunicorn target ``tests.faults.counting_app:make()``), built from ``FILES_*``."""
    settings = Settings.from_env()
    storage = CountingStorage(open_storage(
        settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url,
        connect_timeout=settings.s3_connect_timeout, read_timeout=settings.s3_read_timeout,
        s3_max_waiting=settings.s3_max_waiting,
    ))
    return with_open_streams(create_app(settings, storage=storage), storage)  # type: ignore[arg-type]
