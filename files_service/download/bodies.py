"""The response body of a download streamed by the service, counted when the WSGI server
closes it (as it does whether the client read it all, went away or storage failed)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from ..errors import StorageUnavailable
from ..storage import ReadStream

log = logging.getLogger(__name__)


class CountingBody:
    """The storage stream, chunk by chunk, its bytes added to the bytes-sent metric once, at
    close. A body that did not reach its end counts as ``aborted``."""

    def __init__(self, stream: ReadStream, bytes_sent: Any, aborted: Any) -> None:
        self._stream = stream
        self._bytes = bytes_sent
        self._aborted = aborted
        self._sent = 0
        self._finished = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
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
        if not self._closed:
            self._closed = True  # count once, however often a server calls close
            if self._sent:
                self._bytes.inc(self._sent)
            if not self._finished:
                self._aborted.inc()
        self._stream.close()
