"""An in-memory ``Storage`` (``memory://``): the test double shipped with the package.

It keeps the semantics of the real backends (key validation, ranges, atomic writes,
``ObjectNotFound``) and adds what tests need to provoke and observe failures: ``fail_open``,
``fail_after_bytes``, ``fail_check`` and ``open_streams``."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

from files_service.clock import Clock, SystemClock
from files_service.errors import ObjectNotFound, StorageUnavailable
from files_service.storage.interface import (
    CHUNK_SIZE,
    ObjectInfo,
    ReadStream,
    WriteResult,
    validate_key,
)


class MemoryReadStream(ReadStream):
    """Chunks of a slice of bytes; may be told to fail after ``fail_after_bytes``."""

    def __init__(self, storage: MemoryStorage, data: bytes, fail_after_bytes: int | None) -> None:
        self._storage = storage
        self._data = memoryview(data)
        self._position = 0
        self._fail_after_bytes = fail_after_bytes
        self._closed = False

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        size = min(CHUNK_SIZE, len(self._data) - self._position)
        if self._fail_after_bytes is not None:
            if self._position >= self._fail_after_bytes:
                raise StorageUnavailable(f"injected failure after {self._fail_after_bytes} bytes")
            size = min(size, self._fail_after_bytes - self._position)
        if size <= 0:
            raise StopIteration
        chunk = bytes(self._data[self._position : self._position + size])
        self._position += size
        return chunk

    def close(self) -> None:
        """Release the stream (counted by ``MemoryStorage.open_streams``); idempotent."""
        if not self._closed:
            self._closed = True
            self._storage._stream_closed()


class MemoryStorage:
    """Objects in a dict, for tests.

    Fault injection: set ``fail_open`` to an exception and ``open()`` raises it (before the first
    chunk); set ``fail_after_bytes`` and each stream opened from then on raises
    ``StorageUnavailable`` once it has yielded that many bytes; set ``fail_check`` and ``check()``
    raises it. ``open_streams`` counts streams opened and not yet closed, so a test can prove
    every stream was released."""

    url = "memory://"

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()  # the dev server and gunicorn threads share one instance
        self._objects: dict[str, tuple[bytes, float]] = {}
        self.fail_open: Exception | None = None
        self.fail_after_bytes: int | None = None
        self.fail_check: Exception | None = None
        self.open_streams = 0

    def stat(self, key: str) -> ObjectInfo:
        """Size and write time of the object, or ``ObjectNotFound``."""
        data, last_modified = self._get(key)
        return ObjectInfo(key=key, size=len(data), last_modified=last_modified)

    def open(self, key: str, start: int = 0, end: int | None = None) -> ReadStream:
        """Stream bytes ``start`` .. ``end`` (inclusive) of the object."""
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range {start}-{end}")
        validate_key(key)
        if self.fail_open is not None:
            raise self.fail_open
        data, _ = self._get(key)
        stop = len(data) if end is None else end + 1
        with self._lock:
            self.open_streams += 1
        return MemoryReadStream(self, data[start:stop], self.fail_after_bytes)

    def write(self, key: str, chunks: Iterable[bytes]) -> WriteResult:
        """Collect ``chunks`` and store them only once all have arrived."""
        validate_key(key)
        digest = hashlib.sha256()
        parts: list[bytes] = []
        for chunk in chunks:
            part = bytes(chunk)
            digest.update(part)
            parts.append(part)
        data = b"".join(parts)
        with self._lock:
            self._objects[key] = (data, self._clock.now())
        return WriteResult(key=key, size=len(data), sha256=digest.hexdigest())

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        validate_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def check(self) -> None:
        """Available unless ``fail_check`` is set."""
        if self.fail_check is not None:
            raise self.fail_check

    def _get(self, key: str) -> tuple[bytes, float]:
        validate_key(key)
        with self._lock:
            try:
                return self._objects[key]
            except KeyError:
                raise ObjectNotFound(key) from None

    def _stream_closed(self) -> None:
        with self._lock:
            self.open_streams -= 1
