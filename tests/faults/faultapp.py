"""A WSGI app for the fault tests, run by gunicorn with the service's own gunicorn settings
(gunicorn target ``tests.faults.faultapp:make()``): the real service on the storage its
``FILES_*`` settings name, every read stream counted from ``open`` to ``close``, faults chosen
by key, and one extra route, ``/_test/open-streams``, that says how many streams are open in
this worker.

Test code, not a hook in the service: the faults are injected at the storage interface, as
``MemoryStorage`` does in-process. Keys under ``fail-open/`` cannot be opened (storage
unreachable before the first byte); keys under ``fail-after/`` fail after ``FAIL_AFTER``
bytes. The count is what proves release: a stream is uncounted only by its ``close``, which
closes the file or the ``GetObject`` body and so its connection (CPython would also close a
forgotten body when it is garbage-collected, which a count of sockets alone cannot tell from
a proper release)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from files_service import create_app
from files_service.errors import StorageUnavailable
from files_service.settings import Settings
from files_service.storage import ReadStream, Storage, open_storage

FAIL_AFTER = 300_000


class _Counted(ReadStream):
    def __init__(self, owner: FaultyStorage, stream: ReadStream, fail_after: int | None) -> None:
        self._owner = owner
        self._stream = stream
        self._fail_after = fail_after
        self._sent = 0
        self._closed = False

    def __next__(self) -> bytes:
        if self._fail_after is not None and self._sent >= self._fail_after:
            raise StorageUnavailable("injected failure after the first byte")
        chunk = next(self._stream)
        if self._fail_after is not None:
            chunk = chunk[: self._fail_after - self._sent]
        self._sent += len(chunk)
        return chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._stream.close()
            self._owner.changed(-1)


class FaultyStorage:
    """Any storage, with faults chosen by key and the read streams it has open counted."""

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
        if key.startswith("fail-open/"):
            raise StorageUnavailable("injected failure before the first byte")
        stream = self._inner.open(key, start, end)
        self.changed(+1)
        return _Counted(self, stream, FAIL_AFTER if key.startswith("fail-after/") else None)


def make() -> Callable[..., Iterable[bytes]]:
    """The app, built from ``FILES_*``."""
    settings = Settings.from_env()
    storage = FaultyStorage(open_storage(
        settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url,
        connect_timeout=settings.s3_connect_timeout, read_timeout=settings.s3_read_timeout,
        s3_max_waiting=settings.s3_max_waiting,
    ))
    service = create_app(settings, storage=storage)  # type: ignore[arg-type]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/_test/open-streams":
            body = str(storage.open_streams).encode()
            start_response("200 OK", [("Content-Type", "text/plain"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return service(environ, start_response)

    return app
