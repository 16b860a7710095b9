"""gunicorn's threaded worker (gthread), with its lingering close moved off the accepting thread.

Since gunicorn 26, gthread closes a connection it answered with ``Connection: close`` as
RFC 9112 §9.6 asks: it half-closes it, then reads and drops what the client still sends until
the client closes too (at most 2 s, 64 KiB), so that unread request bytes cannot make the kernel
reset the connection before the client has read the answer. It does that wait on the thread
that accepts and polls every connection of the worker: a client that keeps its socket open
after such an answer (``ffmpeg`` seeking in a video does) stalls every other client of that
worker for 2 s. This worker does the same half-close and drain on its poller instead: the
socket waits there for the client's close, the byte cap or the deadline, as a kept-alive
connection waits for its next request, and no one else waits for it.

It overrides two methods of gunicorn's ``ThreadWorker`` (``finish_request`` and
``murder_pending``); ``requirements.txt`` pins the gunicorn it was written against, and
tests/e2e/test_lingering_clients.py fails if the stall comes back."""

from __future__ import annotations

import selectors
import socket
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import util
from gunicorn.workers import gthread

# gunicorn's own bounds (util.close_graceful): how long, and how much, to drain.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 65536


@dataclass(eq=False)
class _Lingering:
    sock: Any
    deadline: float
    drained: int = 0


class ThreadWorker(gthread.ThreadWorker):
    """gthread, whose lingering closes wait on the poller rather than block it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Oldest first; every entry gets the same delay, so deadlines come in order.
        self.lingering: deque[_Lingering] = deque()

    def finish_request(self, conn: Any, fs: Future[Any]) -> None:
        """Called on the accepting thread when a request is done: a connection to close goes
        to the poller to linger; keep-alive, deferred and failed ones are gunicorn's."""
        if fs.cancelled() or fs.exception() is not None or fs.result():
            super().finish_request(conn, fs)
            return
        self._linger(conn.sock)

    def murder_pending(self) -> None:
        """gunicorn's sweep of connections that waited too long, plus lingering ones."""
        super().murder_pending()
        now = time.monotonic()
        while self.lingering and self.lingering[0].deadline <= now:
            self._close(self.lingering[0])

    def _linger(self, sock: Any) -> None:
        # The socket stays counted in nr_conns until it is closed, so worker_connections
        # bounds lingering sockets too.
        entry = _Lingering(sock, time.monotonic() + LINGER_SECONDS)
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, partial(self._drain, entry))
        except (OSError, ValueError):  # the client is gone already
            self.nr_conns -= 1
            util.close(sock)
            return
        self.lingering.append(entry)

    def _drain(self, entry: _Lingering, _fileobj: Any) -> None:
        try:
            data = entry.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        entry.drained += len(data)
        if data and entry.drained < LINGER_MAX_BYTES:
            return
        self._close(entry)

    def _close(self, entry: _Lingering) -> None:
        self.lingering.remove(entry)
        try:
            self.poller.unregister(entry.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.nr_conns -= 1
        util.close(entry.sock)
