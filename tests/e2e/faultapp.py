"""A WSGI app for tests/e2e/test_faults.py, run by gunicorn with the service's own gunicorn
settings: the real service on local storage whose reads fail by key, and one extra route,
``/_test/open-streams``, that says how many storage streams are open in this worker.

Test code, not a hook in the service: the faults are injected at the storage interface, as
``MemoryStorage`` does in-process. Keys under ``fail-open/`` cannot be opened (storage
unreachable before the first byte); keys under ``fail-after/`` fail after ``FAIL_AFTER`` bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from files_service import create_app
from files_service.errors import StorageUnavailable
from files_service.settings import Settings
from files_service.storage import LocalStorage, ReadStream

FAIL_AFTER = 300_000


class _Tracked(ReadStream):
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


class FaultyStorage(LocalStorage):
    """Local storage with faults chosen by key, counting the streams it has open."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self._lock = threading.Lock()
        self.open_streams = 0

    def changed(self, by: int) -> None:
        with self._lock:
            self.open_streams += by

    def open(self, key: str, start: int = 0, end: int | None = None) -> ReadStream:
        if key.startswith("fail-open/"):
            raise StorageUnavailable("injected failure before the first byte")
        stream = super().open(key, start, end)
        self.changed(+1)
        return _Tracked(self, stream, FAIL_AFTER if key.startswith("fail-after/") else None)


def make() -> Callable[..., Iterable[bytes]]:
    """The app (gunicorn target ``tests.e2e.faultapp:make()``), built from ``FILES_*``."""
    settings = Settings.from_env()
    storage = FaultyStorage(settings.storage_url.removeprefix("local://"))
    return with_open_streams(create_app(settings, storage=storage), storage)


def with_open_streams(service: Any, storage: Any) -> Callable[..., Iterable[bytes]]:
    """``service``, plus ``GET /_test/open-streams``: how many storage streams ``storage``
    has opened and not yet closed (for tests that prove streams are released)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/_test/open-streams":
            body = str(storage.open_streams).encode()
            start_response("200 OK", [("Content-Type", "text/plain"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return service(environ, start_response)

    return app

