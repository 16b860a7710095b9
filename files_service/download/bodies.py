"""Response bodies of a download, counted when the WSGI server closes them (as it does whether
the client read it all, went away or storage failed): the bytes sent, and the outcome, ``ok``
or ``partial`` for a body that went out whole and ``aborted`` for one that did not, so that no
download counts twice."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from ..errors import StorageUnavailable
from ..storage import FileStream, ReadStream

log = logging.getLogger(__name__)


class CountingBody:
    """The storage stream, chunk by chunk. It went out whole when the server asked for the
    chunk after the last one: a client that went away leaves the server's loop before."""

    def __init__(
        self, stream: ReadStream, bytes_sent: Any, done: Any, aborted: Any, *,
        timing: Any = None, started: float = 0.0,
    ) -> None:
        """``timing`` (the app's ``Metrics``) gets the time to the first byte and the whole
        duration, from ``started`` (``perf_counter()`` before the storage call), once each,
        and the downloads in flight."""
        self._stream = stream
        self._bytes = bytes_sent
        self._done = done
        self._aborted = aborted
        self._timing = timing
        self._started = started
        self._sent = 0
        self._finished = False
        self._closed = False
        if timing is not None:
            timing.in_flight.inc()

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
                if not self._sent and self._timing is not None:
                    self._timing.first_byte.observe(time.perf_counter() - self._started)
                self._sent += len(chunk)
                yield chunk
        except StorageUnavailable:
            # After the first byte the status line is gone: the only honest answer left is a
            # short body. Raising makes the WSGI server close the connection, so the client
            # sees fewer bytes than Content-Length said, never a complete-looking body.
            log.warning("storage failed mid-download; closing the connection")
            raise
        self._finished = True

    def close(self) -> None:
        """Count the bytes and the outcome, once, and release the storage stream."""
        if not self._closed:
            self._closed = True  # count once, however often a server calls close
            if self._sent:
                self._bytes.inc(self._sent)
            (self._done if self._finished else self._aborted).inc()
            if self._timing is not None:
                self._timing.in_flight.dec()
                self._timing.download_duration.observe(time.perf_counter() - self._started)
        self._stream.close()


class FileBody:
    """A file's range for ``wsgi.file_wrapper``: the server may send the descriptor with
    ``sendfile``, bounded by ``Content-Length``, with no copy through Python.

    How far it got is the file's position: a server that reads moves it by reading; one that
    sends with ``socket.sendfile`` (gunicorn) has it moved by ``seek`` to where sending
    stopped, after success or failure alike (the standard library's documented behaviour)."""

    def __init__(
        self, stream: FileStream, start: int, length: int, bytes_sent: Any, done: Any,
        aborted: Any,
    ) -> None:
        self._stream = stream
        self._start = start
        self._end = start + length
        self._position = start
        self._bytes = bytes_sent
        self._done = done
        self._aborted = aborted
        self._closed = False

    def fileno(self) -> int:
        """The file's descriptor, at the start of the range."""
        return self._stream.fileno()

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the range, for a server that does not use sendfile."""
        chunk = self._stream.read(size)
        self._position += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the descriptor (``socket.sendfile`` says so where it stopped)."""
        self._position = os.lseek(self._stream.fileno(), offset, whence)
        return self._position

    def tell(self) -> int:
        """How far the file went: the range's start plus the bytes read or sent."""
        return self._position

    def close(self) -> None:
        """Count the bytes sent and the outcome, once, and close the file."""
        if not self._closed:
            self._closed = True
            sent = min(max(self._position - self._start, 0), self._end - self._start)
            if sent:
                self._bytes.inc(sent)
            (self._done if self._position >= self._end else self._aborted).inc()
        self._stream.close()
